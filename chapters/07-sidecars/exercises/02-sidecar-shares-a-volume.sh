# Exercise 02: a native sidecar ships the app's log file; they share an emptyDir.
kubectl apply -f chapters/07-sidecars/manifests/sidecar-logs.yaml
kubectl wait --for=condition=Ready pod/logger --timeout=60s
sleep 3
kubectl get pod logger
kubectl logs logger -c shipper | head -3
# The sidecar is an init container that keeps running.
kubectl get pod logger -o jsonpath='{.status.initContainerStatuses[0].name} started={.status.initContainerStatuses[0].started} running={.status.initContainerStatuses[0].state.running.startedAt}{"\n"}' | sed 's/running=.*T.*/running=yes/'
kubectl delete pod logger --grace-period=5
# A batch pod with a sidecar: the work ends, the sidecar is stopped, the pod Succeeds.
kubectl apply -f chapters/07-sidecars/manifests/batch-with-sidecar.yaml
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/batch --timeout=60s
kubectl logs batch -c work
kubectl logs batch -c helper
kubectl get pod batch
kubectl delete pod batch
