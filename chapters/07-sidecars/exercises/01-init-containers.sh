# Exercise 01: init containers run one by one, to the end, before the app.
kubectl apply -f chapters/07-sidecars/manifests/init-setup.yaml
kubectl wait --for=condition=Ready pod/setup --timeout=60s
kubectl logs setup -c fetch
kubectl logs setup -c check
kubectl logs setup -c app
kubectl get pod setup -o jsonpath='{range .status.initContainerStatuses[*]}{.name}: {.state.terminated.reason} (exit {.state.terminated.exitCode}){"\n"}{end}'
# An init container that waits for something: the pod shows Init:0/1.
kubectl apply -f chapters/07-sidecars/manifests/wait-for-db.yaml
kubectl wait --for=jsonpath='{.status.initContainerStatuses[0].state.running}' pod/waits --timeout=60s
kubectl get pod waits
kubectl get pod waits -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Initialized")].message}{"\n"}'
# Create what it waits for, and it moves on.
kubectl apply -f chapters/07-sidecars/manifests/db-service.yaml
kubectl wait --for=condition=Ready pod/waits --timeout=120s
kubectl logs waits -c wait-for-db
kubectl delete pod setup waits --grace-period=1
kubectl delete service db
