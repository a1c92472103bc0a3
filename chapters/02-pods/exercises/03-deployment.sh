# Exercise 03: a Deployment, its ReplicaSet, and its pods.
kubectl apply -f chapters/02-pods/manifests/hello-deployment.yaml
kubectl rollout status deployment/hello --timeout=60s
kubectl get replicasets -l app=hello
kubectl get pods -l app=hello -o custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind,PHASE:.status.phase
kubectl scale deployment hello --replicas=1
kubectl wait --for=jsonpath='{.status.replicas}'=1 deployment/hello --timeout=60s
kubectl get deployment hello
