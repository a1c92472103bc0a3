# Exercise 04: typed Secrets, and a ConfigMap that cannot change.
# A TLS Secret from a certificate and its key (a throwaway, self-signed one).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out /tmp/kubelab-web.key
openssl req -x509 -key /tmp/kubelab-web.key -subj /CN=web.example.com -days 365 -out /tmp/kubelab-web.crt
kubectl create secret tls web-tls --cert=/tmp/kubelab-web.crt --key=/tmp/kubelab-web.key
kubectl get secret web-tls -o go-template='{{index .data "tls.crt" | base64decode}}' | openssl x509 -noout -subject
# The Secret holds them now: the files can go.
rm /tmp/kubelab-web.key /tmp/kubelab-web.crt
# Credentials for an image registry, in the format docker's config.json uses.
kubectl create secret docker-registry regcred --docker-server=registry.example.com --docker-username=learner --docker-password='s3cr3t!'
kubectl get secret regcred -o go-template='{{index .data ".dockerconfigjson" | base64decode}}{{"\n"}}'
kubectl get secrets
kubectl get secrets --field-selector type=kubernetes.io/tls
# A type says which keys a Secret must have; the API server checks them.
kubectl apply -f chapters/04-config-and-secrets/manifests/bad-tls-secret.yaml
# And a Secret's type never changes.
kubectl patch secret web-tls -p '{"type":"Opaque"}'
# An immutable ConfigMap: its data is fixed once created.
kubectl apply -f chapters/04-config-and-secrets/manifests/frozen-config.yaml
kubectl patch configmap frozen-config -p '{"data":{"colour":"orange"}}'
kubectl get configmap frozen-config -o jsonpath='{.data.colour}{"\n"}'
