# Exercise 02: a node dies. (This cluster runs with --node-monitor-grace-period 20.)
kubectl apply -f chapters/06-scaling/manifests/node-agent.yaml -f chapters/06-scaling/manifests/web.yaml
kubectl rollout status deployment/web --timeout=60s
kubectl rollout status daemonset/node-agent --timeout=60s
# Every pod got two tolerations from the API server: 300 s, unless it says otherwise.
kubectl run plain --image=kubelab/sleep:1.0
kubectl get pod plain -o jsonpath='{range .spec.tolerations[*]}{.key} {.effect} {.tolerationSeconds}{"\n"}{end}'
kubectl delete pod plain --now
# Pull the plug on node 2: its containers die, its kubelet stops heartbeating.
kubelab node stop kubelab-node-2
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].status}'=Unknown node/kubelab-node-2 --timeout=60s
kubectl get nodes
kubectl get node kubelab-node-2 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}'
kubectl get node kubelab-node-2 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}{"\n"}'
# The web pods tolerate that for 5 s; then they are deleted and replaced on node 1.
until [ "$(kubectl get pods -l app=web --field-selector spec.nodeName=kubelab-node-1 -o name | wc -l)" -ge 3 ]; do sleep 1; done
kubectl wait --for=condition=Ready pod -l app=web --field-selector spec.nodeName=kubelab-node-1 --timeout=60s
kubectl get pods -l app=web --field-selector spec.nodeName=kubelab-node-2 -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp} {.status.conditions[?(@.type=="DisruptionTarget")].reason}{"\n"}{end}' | sort -u
kubectl get events --field-selector reason=TaintManagerEviction -o custom-columns=REASON:.reason,MESSAGE:.message | sed 's|default/.*|default/<pod>|' | sort -u
# The daemon pod tolerates unreachable forever: it stays, marked not Ready.
kubectl wait --for=condition=Ready=false pod -l app=node-agent --field-selector spec.nodeName=kubelab-node-2 --timeout=60s
# The machine comes back: the node is Ready, its taints go, its old pods finish.
kubelab node start kubelab-node-2
kubectl wait --for=condition=Ready node/kubelab-node-2 --timeout=60s
until [ -z "$(kubectl get node kubelab-node-2 -o jsonpath='{.spec.taints}')" ]; do sleep 1; done
kubectl describe node kubelab-node-2 | grep Taints
kubectl wait --for=jsonpath='{.status.numberReady}'=2 daemonset/node-agent --timeout=60s
kubectl wait --for=delete pod -l app=web --field-selector spec.nodeName=kubelab-node-2 --timeout=60s >/dev/null
kubectl get pods -l app=web -o custom-columns=NODE:.spec.nodeName,STATUS:.status.phase --sort-by=.spec.nodeName
