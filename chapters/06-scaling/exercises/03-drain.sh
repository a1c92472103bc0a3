# Exercise 03: draining a node, with a disruption budget. (Uses exercise 02's web.)
kubectl apply -f chapters/06-scaling/manifests/web-pdb.yaml
kubectl wait --for=jsonpath='{.status.disruptionsAllowed}'=1 pdb/web --timeout=60s
kubectl get pdb web
# Without --ignore-daemonsets, drain refuses (the node is cordoned all the same).
kubectl drain kubelab-node-1
kubectl get node kubelab-node-1 -o jsonpath='{.spec.unschedulable}{"\n"}'
# With it: evictions, one at a time as the budget allows (a 429 makes drain wait 5 s).
kubectl drain kubelab-node-1 --ignore-daemonsets 2>&1 | grep -v -e '^evicting pod' -e 'will retry after' | sort
kubectl rollout status deployment/web --timeout=60s
kubectl get pods -l app=web -o custom-columns=NODE:.spec.nodeName --sort-by=.spec.nodeName
kubectl uncordon kubelab-node-1
# Evicting the same way by hand: one more would break the budget.
kubectl wait --for=jsonpath='{.status.disruptionsAllowed}'=1 pdb/web --timeout=60s
kubectl get pdb web
kubectl patch pdb web --type=merge -p '{"spec":{"minAvailable":3}}'
kubectl wait --for=jsonpath='{.status.disruptionsAllowed}'=0 pdb/web --timeout=60s
POD=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}'); sed "s/POD/$POD/" chapters/06-scaling/manifests/eviction.json | kubectl create --raw /api/v1/namespaces/default/pods/$POD/eviction -f -
kubectl get pdb web -o jsonpath='{.status.conditions[0].reason} {.status.currentHealthy}/{.status.desiredHealthy}{"\n"}'
kubectl delete pdb web
