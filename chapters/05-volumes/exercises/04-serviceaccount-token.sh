# Exercise 04: every pod gets an identity, and can use it to talk to the API.
# Each namespace gets a `default` ServiceAccount and the cluster's CA.
kubectl create namespace shop
sleep 1
kubectl get serviceaccounts,configmaps -n shop
kubectl apply -f chapters/05-volumes/manifests/in-cluster-kubectl.yaml
kubectl wait --for=condition=Ready pod/kubectl-in-a-pod --timeout=60s
# The admission plugin filled in the account and added a projected volume.
kubectl get pod kubectl-in-a-pod -o jsonpath='{.spec.serviceAccountName} {.spec.volumes[1].name} {.spec.containers[0].volumeMounts[1].mountPath}{"\n"}'
kubectl exec kubectl-in-a-pod -- ls /var/run/secrets/kubernetes.io/serviceaccount
# kubectl inside the pod finds the token, the CA and the `kubernetes` Service by itself.
kubectl exec kubectl-in-a-pod -- kubectl get pods
# A token of your own, for a new account (TokenRequest): at least 10 minutes long.
kubectl create serviceaccount robot -n shop
kubectl create token robot -n shop --duration=1m
kubectl create token robot -n shop > /tmp/kubelab-robot.token
# The API server believes it: it is signed with the cluster's service account key.
kubectl --token="$(cat /tmp/kubelab-robot.token)" get pods -n shop
# ...until the account is gone.
kubectl delete serviceaccount robot -n shop
kubectl --token="$(cat /tmp/kubelab-robot.token)" get pods -n shop
rm /tmp/kubelab-robot.token
kubectl delete namespace shop
