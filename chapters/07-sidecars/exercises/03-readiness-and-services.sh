# Exercise 03: a readiness probe takes a pod out of its Service, and back.
kubectl apply -f chapters/07-sidecars/manifests/random-ready.yaml
kubectl wait --for=condition=Ready pod/random pod/client --timeout=60s
kubectl get endpoints random
# Make the app fail its health check (through the Service).
kubectl exec client -- wget -qO- --post-data= http://random/fail
kubectl wait --for=condition=Ready=false pod/random --timeout=30s
kubectl get pod random
kubectl get endpoints random
kubectl get events --field-selector involvedObject.name=random,reason=Unhealthy -o custom-columns=MESSAGE:.message --no-headers | grep -m1 statuscode
# The Service has no address now: reach the pod by its own IP to heal it.
kubectl exec client -- sh -c "wget -qO- --post-data= http://$(kubectl get pod random -o jsonpath='{.status.podIP}'):8080/recover"
kubectl wait --for=condition=Ready pod/random --timeout=30s
kubectl get endpoints random
kubectl delete -f chapters/07-sidecars/manifests/random-ready.yaml --grace-period=1
