# Exercise 03: an umbrella chart — subcharts, a library chart, globals,
# conditions and tags — installed and changed as one release.
# Which subcharts does shop render? storefront is frontend under an alias;
# kubelab-common is a library chart: named templates only.
kubelab helm template s chapters/10-helm/charts/shop --show-only templates/configmap.yaml
# tags.backend=false turns random off (its condition, random.enabled, is unset here).
kubelab helm template s chapters/10-helm/charts/shop -f chapters/10-helm/charts/shop/ci-values-no-backend.yaml --show-only templates/configmap.yaml
kubelab helm install shop chapters/10-helm/charts/shop -n shop --create-namespace --set global.environment=classroom
kubectl get deployments,services -n shop -o custom-columns='KIND:.kind,NAME:.metadata.name,ENV:.metadata.labels.environment'
# Turn the backend off: the upgrade deletes what the new manifest no longer has.
kubelab helm upgrade shop chapters/10-helm/charts/shop -n shop --reuse-values --set random.enabled=false
kubectl get deployments,services -n shop -o custom-columns='KIND:.kind,NAME:.metadata.name'
kubelab helm get manifest shop -n shop
kubelab helm list -A
kubelab helm uninstall shop -n shop
kubectl get deployments -n shop
kubectl delete namespace shop
