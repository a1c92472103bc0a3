# Exercise 04: deleting — by name, by label, and a whole namespace.
kubectl apply -f chapters/01-objects-and-api/manifests/lab-namespace.yaml
kubectl create configmap scratch -n lab --from-literal=a=1
kubectl delete configmap -l app=web
kubectl delete namespace lab
kubectl get namespaces
