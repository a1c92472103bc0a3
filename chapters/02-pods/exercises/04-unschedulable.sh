# Exercise 04: a pod no node can take, and why.
kubectl apply -f chapters/02-pods/manifests/greedy-pod.yaml
kubectl wait --for=jsonpath='{.status.conditions[0].reason}'=Unschedulable pod/greedy --timeout=30s
kubectl get pod greedy -o jsonpath='{.status.phase}: {.status.conditions[0].message}{"\n"}'
kubectl delete pod greedy
