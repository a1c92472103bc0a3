# Exercise 01: settings and a password in a pod's environment.
kubectl create configmap web-settings --from-literal=COLOUR=teal --from-literal=GREETING='Hello from kubelab'
kubectl create secret generic db-credentials --from-literal=username=app --from-literal=password='s3cr3t!'
kubectl get cm,secret
# A ConfigMap's values are plain text; a Secret's are only base64 — not encrypted.
kubectl get configmap web-settings -o jsonpath='{.data}{"\n"}'
kubectl get secret db-credentials -o jsonpath='{.data}{"\n"}'
kubectl get secret db-credentials -o go-template='{{.data.password | base64decode}}{{"\n"}}'
# A pod that prints its environment and exits: valueFrom picks one key,
# envFrom takes them all (with a prefix).
kubectl apply -f chapters/04-config-and-secrets/manifests/env-pod.yaml
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/env-demo --timeout=60s
kubectl logs env-demo
