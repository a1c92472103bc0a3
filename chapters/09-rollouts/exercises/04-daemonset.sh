# Exercise 04: a DaemonSet rolls out node by node; maxSurge starts the new pod before the old one goes.
kubectl apply -f chapters/09-rollouts/manifests/node-agent.yaml
kubectl rollout status daemonset/node-agent --timeout=120s
kubectl get pods -l app=node-agent --sort-by=.spec.nodeName -o custom-columns='NODE:.spec.nodeName,REVISION:.metadata.labels.controller-revision-hash,INTERVAL:.spec.containers[0].env[0].value'
# A new setting: a new revision, rolled out one node at a time.
kubectl annotate daemonset node-agent kubernetes.io/change-cause="tick every 10 s"
kubectl set env daemonset/node-agent INTERVAL=10
kubectl rollout status daemonset/node-agent --timeout=120s
kubectl wait --for=delete pod -l app=node-agent,pod-template-generation=1 --timeout=60s >/dev/null; kubectl get pods -l app=node-agent --sort-by=.spec.nodeName -o custom-columns='NODE:.spec.nodeName,REVISION:.metadata.labels.controller-revision-hash,INTERVAL:.spec.containers[0].env[0].value'
kubectl get controllerrevisions -l app=node-agent --sort-by=.revision
kubectl rollout history daemonset/node-agent
kubectl rollout undo daemonset/node-agent
kubectl rollout status daemonset/node-agent --timeout=120s
kubectl rollout history daemonset/node-agent
# Surge or unavailable, one of the two: maxSurge needs maxUnavailable 0, and they cannot both be 0.
kubectl patch daemonset node-agent -p '{"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":1}}}}'
kubectl patch daemonset node-agent -p '{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":0}}}}'
# OnDelete: a new template reaches a node only when you delete its pod.
kubectl patch daemonset node-agent -p '{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}'
kubectl set env daemonset/node-agent INTERVAL=5
# Wait until the controller has seen the change (its status names the generation it last acted on).
kubectl wait --for=jsonpath='{.status.observedGeneration}'=$(kubectl get daemonset node-agent -o jsonpath='{.metadata.generation}') daemonset/node-agent --timeout=60s
kubectl get daemonset node-agent
# There is no rollout to watch: nothing happens until you delete a pod.
kubectl rollout status daemonset/node-agent --timeout=120s
kubectl delete pod -l app=node-agent --field-selector spec.nodeName=kubelab-node-1
kubectl wait --for=jsonpath='{.status.updatedNumberScheduled}'=1 daemonset/node-agent --timeout=60s
kubectl wait --for=jsonpath='{.status.numberAvailable}'=3 daemonset/node-agent --timeout=60s
kubectl get daemonset node-agent
kubectl get pods -l app=node-agent --sort-by=.spec.nodeName -o custom-columns='NODE:.spec.nodeName,REVISION:.metadata.labels.controller-revision-hash,INTERVAL:.spec.containers[0].env[0].value'
kubectl delete -f chapters/09-rollouts/manifests/node-agent.yaml
