# Chapter 03, exercise 3: reach the pods from the host.
kubectl apply -f chapters/03-services/manifests/whoami-outside.yaml
# kube-proxy publishes the ports and gives the load balancer its address.
kubectl wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=127.0.0.1 service/whoami-lb --timeout=30s
kubectl get services -l '!component'
# The node port, published on the host's loopback.
curl -s http://127.0.0.1:$(kubectl get service whoami-nodeport -o jsonpath='{.spec.ports[0].nodePort}')/ | head -1
# The load balancer's address is a URL that works on the host.
kubectl get service whoami-lb -o jsonpath='http://{.status.loadBalancer.ingress[0].*}:8080{"\n"}'
curl -s $(kubectl get service whoami-lb -o jsonpath='http://{.status.loadBalancer.ingress[0].*}:8080') | head -1
