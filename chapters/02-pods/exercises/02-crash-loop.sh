# Exercise 02: a container that keeps failing, and the kubelet's back-off.
kubectl apply -f chapters/02-pods/manifests/crash-pod.yaml
kubectl wait --for=jsonpath='{.status.containerStatuses[0].state.waiting.reason}'=CrashLoopBackOff pod/crash --timeout=60s
kubectl get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason} restarts={.status.containerStatuses[0].restartCount} last exit={.status.containerStatuses[0].lastState.terminated.exitCode}{"\n"}'
kubectl logs crash --previous
kubectl delete pod crash
