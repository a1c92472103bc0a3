# Exercise 02: upgrade to web 2.0, change something by hand, roll back.
kubelab helm upgrade shop-web chapters/10-helm/charts/web --set replicaCount=2 --set image.tag=2.0
kubectl rollout status deployment/shop-web --timeout=120s
kubectl get deployment shop-web -o custom-columns='IMAGE:.spec.template.spec.containers[0].image,REPLICAS:.spec.replicas'
# A change made live, to a field the chart does not set, survives an upgrade:
# the upgrade patches what changed between the old and the new manifest.
kubectl annotate deployment shop-web example.invalid/on-call=alice
kubelab helm upgrade shop-web chapters/10-helm/charts/web --reuse-values --set message="Hello again"
kubectl get deployment shop-web -o jsonpath='{.metadata.annotations.example\.invalid/on-call}{"\n"}'
kubectl get configmap shop-web -o jsonpath='{.data.message}{"\n"}'
# Every revision is kept, as a Secret each; the newest is deployed.
kubelab helm history shop-web
kubectl get secrets -l owner=helm,name=shop-web -o custom-columns='NAME:.metadata.name,STATUS:.metadata.labels.status'
# Roll back to revision 1: a new revision 4 with revision 1's manifest.
kubelab helm rollback shop-web 1
kubectl rollout status deployment/shop-web --timeout=120s
kubectl get deployment shop-web -o custom-columns='IMAGE:.spec.template.spec.containers[0].image'
# The real helm sees the same history, and can go on from here.
helm history shop-web
helm upgrade shop-web chapters/10-helm/charts/web --reuse-values --set replicaCount=3 --description "scaled by the real helm"
kubelab helm history shop-web
# Uninstall, but keep the history: the release is listed as uninstalled.
kubelab helm uninstall shop-web --keep-history
kubelab helm list --uninstalled
kubectl get deployment,service,configmap -l app.kubernetes.io/instance=shop-web
