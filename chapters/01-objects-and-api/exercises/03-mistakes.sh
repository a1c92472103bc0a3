# Exercise 03: what the API server says about bad input.
kubectl apply -f chapters/01-objects-and-api/manifests/typo-deployment.yaml
kubectl create configmap Not_Valid
kubectl create configmap x -n does-not-exist
kubectl get deployment nope
