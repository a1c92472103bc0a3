# Exercise 01: store your first objects and read them back.
kubectl apply -f chapters/01-objects-and-api/manifests/web-config.yaml
kubectl apply -f chapters/01-objects-and-api/manifests/web-deployment.yaml
kubectl apply -f chapters/01-objects-and-api/manifests/web-service.yaml
kubectl get deployments,services,configmaps
kubectl get deployment web -o jsonpath='{.spec.strategy.type} {.spec.template.spec.restartPolicy}{"\n"}'
kubectl apply -f chapters/01-objects-and-api/manifests/web-deployment.yaml
