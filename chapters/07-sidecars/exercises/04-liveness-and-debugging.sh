# Exercise 04: a liveness probe restarts a container; a shared process namespace; kubectl debug.
kubectl apply -f chapters/07-sidecars/manifests/liveness.yaml
kubectl wait --for=condition=Ready pod/alive --timeout=60s
kubectl exec alive -- rm /tmp/healthy
kubectl wait --for=jsonpath='{.status.containerStatuses[0].restartCount}'=1 pod/alive --timeout=60s
kubectl get events --field-selector involvedObject.name=alive,reason=Killing -o jsonpath='{.items[0].message}{"\n"}'
kubectl delete pod alive --grace-period=1
# shareProcessNamespace: every container sees every process; PID 1 is the pause process.
kubectl apply -f chapters/07-sidecars/manifests/shared-processes.yaml
kubectl wait --for=condition=Ready pod/shared --timeout=60s
kubectl exec shared -c shell -- ps -o pid,args
kubectl delete pod shared --grace-period=1
# A debug container added to a running pod, in the web container's processes.
kubectl run web --image=kubelab/web:1.0
kubectl wait --for=condition=Ready pod/web --timeout=60s
kubectl debug web --image=busybox --target=web --container=debugger --profile=general -- ps -o pid,args
kubectl wait --for=jsonpath='{.status.ephemeralContainerStatuses[0].state.terminated.reason}'=Completed pod/web --timeout=60s
kubectl logs web -c debugger
kubectl get pod web -o jsonpath='{.spec.ephemeralContainers[0].name} targets {.spec.ephemeralContainers[0].targetContainerName}{"\n"}'
kubectl delete pod web --grace-period=1
