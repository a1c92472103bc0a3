# Exercise 02: change objects four ways, and lose a race on purpose.
kubectl label deployment web tier=front
kubectl scale deployment web --replicas=4
kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"kubelab/web:2.0"}]}}}}'
kubectl get deployment web -o jsonpath='{.metadata.generation} {.spec.replicas} {.spec.template.spec.containers[0].image}{"\n"}'
kubectl get deployment web -o yaml > /tmp/web.yaml
kubectl replace -f /tmp/web.yaml
kubectl replace -f /tmp/web.yaml
