# Exercise 01: run a pod, look inside it, read its logs.
kubectl get nodes -o custom-columns=NAME:.metadata.name,STATUS:.status.conditions[-1].type,RUNTIME:.status.nodeInfo.containerRuntimeVersion
kubectl apply -f chapters/02-pods/manifests/web-pod.yaml
kubectl wait --for=condition=Ready pod/web --timeout=60s
kubectl get pod web -o jsonpath='{.status.phase} on {.spec.nodeName}, QoS {.status.qosClass}{"\n"}'
kubectl exec web -- hostname
kubectl exec web -- cat /proc/1/comm
kubectl exec web -- ls /
kubectl exec web -- sh -c 'exit 7'
kubectl logs web
