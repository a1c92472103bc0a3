# Exercise 01: a StatefulSet's pods have names, an order and claims of their own.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/db.yaml
kubectl wait --for=jsonpath='{.status.readyReplicas}'=3 statefulset/db --timeout=120s
kubectl get statefulset db
kubectl get pods -l app=db -o custom-columns=NAME:.metadata.name,HOSTNAME:.spec.hostname,SUBDOMAIN:.spec.subdomain,CLAIM:.spec.volumes[0].persistentVolumeClaim.claimName
kubectl get pvc -o custom-columns=NAME:.metadata.name,STATUS:.status.phase,CAPACITY:.status.capacity.storage
# Each pod has a DNS name of its own, through the headless Service.
kubectl exec db-0 -- nslookup db-2.db.default.svc.cluster.local.
# Delete db-1: it comes back with the same name, on the same claim.
kubectl delete pod db-1 --wait=true
kubectl wait --for=condition=Ready pod/db-1 --timeout=60s
kubectl exec db-1 -- cat /data/history
# Scale down: the highest ordinal goes first; its claim stays.
kubectl scale statefulset db --replicas=2
kubectl wait --for=delete pod/db-2 --timeout=60s
kubectl get pods -l app=db -o name
kubectl get pvc data-db-2 -o jsonpath='{.metadata.name} {.status.phase}{"\n"}'
# OrderedReady: pod 1 waits for pod 0 to be Ready, which this one never is.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/stuck.yaml
kubectl wait --for=jsonpath='{.status.phase}'=Running pod/stuck-0 --timeout=60s
kubectl get statefulset stuck
kubectl get pods -l app=stuck -o name
kubectl delete -f chapters/08-statefulsets-and-jobs/manifests/stuck.yaml
kubectl delete -f chapters/08-statefulsets-and-jobs/manifests/db.yaml
kubectl delete pvc -l app=db
