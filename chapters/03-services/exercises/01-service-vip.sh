# Chapter 03, exercise 1: a Service in front of three pods.
kubectl apply -f chapters/03-services/manifests/whoami.yaml
kubectl apply -f chapters/03-services/manifests/toolbox.yaml
kubectl rollout status deployment/whoami --timeout=60s
kubectl wait --for=condition=Ready pod/toolbox --timeout=60s
# Every pod has an IP from its node's range (10.244.<node>.x).
kubectl get pods -l app=whoami -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}'
# The Service got a virtual IP; the endpoints are the ready pods.
kubectl get service whoami
kubectl get endpoints whoami
kubectl get endpointslices -l kubernetes.io/service-name=whoami
# From inside the cluster, by name: one of the pods answers.
kubectl exec toolbox -- wget -qO- http://whoami/ | head -2
# A pod started after the Service also finds it in its environment.
kubectl exec toolbox -- sh -c 'env | grep ^WHOAMI_SERVICE | sort'
