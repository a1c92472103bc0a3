# Chapter 03, exercise 2: names for Services and pods.
kubectl exec toolbox -- cat /etc/resolv.conf
kubectl get service kube-dns -n kube-system
kubectl exec toolbox -- nslookup whoami.default.svc.cluster.local.
kubectl apply -f chapters/03-services/manifests/whoami-headless.yaml
kubectl exec toolbox -- nslookup whoami-pods.default.svc.cluster.local.
kubectl exec toolbox -- nslookup -type=SRV _http._tcp.whoami-pods.default.svc.cluster.local.
kubectl apply -f chapters/03-services/manifests/search-alias.yaml
kubectl exec toolbox -- nslookup -type=CNAME search.default.svc.cluster.local.
# A name nobody registered.
kubectl exec toolbox -- nslookup nothing.default.svc.cluster.local.
