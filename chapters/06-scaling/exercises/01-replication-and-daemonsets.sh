# Exercise 01: ReplicationControllers, the scale subresource and DaemonSets.
kubectl apply -f chapters/06-scaling/manifests/legacy-rc.yaml
kubectl wait --for=jsonpath='{.status.readyReplicas}'=2 rc/legacy --timeout=60s
kubectl get rc legacy -o wide
# `kubectl scale` writes the scale subresource: an autoscaling/v1 Scale.
kubectl scale rc legacy --replicas=3
kubectl wait --for=jsonpath='{.status.readyReplicas}'=3 rc/legacy --timeout=60s
kubectl get rc legacy --subresource=scale -o yaml
kubectl delete rc legacy
# A DaemonSet: one pod on each of the two nodes, no replicas anywhere.
kubectl apply -f chapters/06-scaling/manifests/node-agent.yaml
kubectl rollout status daemonset/node-agent --timeout=60s
kubectl get daemonset node-agent
kubectl get pods -l app=node-agent -o custom-columns=NODE:.spec.nodeName,PINNED-TO:.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0] --sort-by=.spec.nodeName
kubectl get pods -l app=node-agent -o jsonpath='{range .items[0].spec.tolerations[*]}{.key}:{.effect}{"\n"}{end}'
# A DaemonSet for ssd nodes only: label a node and it gets a pod.
kubectl apply -f chapters/06-scaling/manifests/ssd-agent.yaml
kubectl get daemonset ssd-agent
kubectl label node kubelab-node-1 disk=ssd
kubectl wait --for=jsonpath='{.status.numberReady}'=1 daemonset/ssd-agent --timeout=60s
kubectl get daemonset ssd-agent
kubectl label node kubelab-node-1 disk-
kubectl wait --for=jsonpath='{.status.desiredNumberScheduled}'=0 daemonset/ssd-agent --timeout=60s
kubectl wait --for=delete pod -l app=ssd-agent --timeout=60s >/dev/null; kubectl get pods -l app=ssd-agent
kubectl delete daemonset ssd-agent
# Deleting a DaemonSet with --cascade=orphan leaves its pods running.
kubectl delete daemonset node-agent --cascade=orphan
kubectl get pods -l app=node-agent -o custom-columns=NODE:.spec.nodeName,STATUS:.status.phase,OWNERS:.metadata.ownerReferences --sort-by=.spec.nodeName
kubectl delete pods -l app=node-agent
