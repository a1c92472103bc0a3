# Exercise 01: render a chart, install it, and find the release in the cluster.
# Rendering needs no cluster: the chart's templates plus its values give manifests.
kubelab helm template demo chapters/10-helm/charts/web --show-only templates/service.yaml
# --set overrides values.yaml; the templates see the result as .Values.
kubelab helm template demo chapters/10-helm/charts/web --set service.port=8080 --show-only templates/service.yaml
# A value the schema (values.schema.json) refuses never reaches a template.
kubelab helm template demo chapters/10-helm/charts/web --set replicaCount=many
# Install: the pre-install hook (a Job) runs first, then the manifests are
# created in install order (ConfigMap, Service, Deployment).
kubelab helm install shop-web chapters/10-helm/charts/web --set replicaCount=2
kubectl rollout status deployment/shop-web --timeout=120s
kubectl get configmap,service,deployment -l app.kubernetes.io/instance=shop-web
# The hook Job stays (its delete policy is before-hook-creation).
kubectl get jobs -l app.kubernetes.io/instance=shop-web -o custom-columns='NAME:.metadata.name,SUCCEEDED:.status.succeeded'
kubelab helm list
kubelab helm get values shop-web
# The release itself is a Secret: revision 1 of release shop-web, owned by helm.
kubectl get secrets -l owner=helm -o custom-columns='NAME:.metadata.name,TYPE:.type,STATUS:.metadata.labels.status,VERSION:.metadata.labels.version'
# The same record, read by the real helm: it is helm's own format.
helm list
helm get values shop-web
# helm test runs the chart's test hook: a pod that fetches the page.
kubelab helm test shop-web
