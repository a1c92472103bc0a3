# Exercise 03: pods that need a ConfigMap nobody has created yet.
kubectl apply -f chapters/04-config-and-secrets/manifests/flags-env-pod.yaml
kubectl apply -f chapters/04-config-and-secrets/manifests/flags-volume-pod.yaml
kubectl wait --for=jsonpath='{.status.containerStatuses[0].state.waiting.reason}'=CreateContainerConfigError pod/flags-env --timeout=60s
kubectl wait --for=jsonpath='{.status.containerStatuses[0].state.waiting.reason}'=ContainerCreating pod/flags-volume --timeout=60s
kubectl get pods flags-env flags-volume
# Why: the kubelet says so in an event (and in the container's status).
kubectl get events --field-selector involvedObject.name=flags-env,reason=Failed
kubectl get events --field-selector involvedObject.name=flags-volume,reason=FailedMount
kubectl get pod flags-env -o jsonpath='{.status.containerStatuses[0].state.waiting.message}{"\n"}'
# Create it: the kubelet keeps trying, and both pods start by themselves.
kubectl create configmap feature-flags --from-literal=mode=canary
kubectl wait --for=condition=Ready pod/flags-env pod/flags-volume --timeout=60s
kubectl get pods flags-env flags-volume
kubectl exec flags-env -- sh -c 'echo MODE=$MODE'
kubectl exec flags-volume -- grep . /etc/flags/mode
