# Exercise 01: a rolling update, one pod at a time, and back.
kubectl apply -f chapters/09-rollouts/manifests/web.yaml -f chapters/09-rollouts/manifests/toolbox.yaml
kubectl rollout status deployment/web --timeout=120s
kubectl wait --for=condition=Ready pod/toolbox --timeout=60s
# The Deployment made a ReplicaSet, named after a hash of the pod template.
kubectl get replicasets -l app=web
kubectl exec toolbox -- sh -c 'until wget -qO- http://web/ 2>/dev/null; do sleep 1; done'
# A new image is a new template: a new ReplicaSet, scaled up one pod at a time
# while the old one is scaled down. Say why in the change-cause annotation.
kubectl set image deployment/web web=kubelab/web:2.0
kubectl annotate deployment web kubernetes.io/change-cause="web 2.0: a new page"
kubectl rollout status deployment/web --timeout=120s
kubectl get deployment web
# The old ReplicaSet stays, scaled to 0: it is revision 1, ready to come back.
kubectl get replicasets -l app=web --sort-by='.metadata.annotations.deployment\.kubernetes\.io/revision' -o custom-columns='NAME:.metadata.name,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,IMAGE:.spec.template.spec.containers[0].image,DESIRED:.spec.replicas,CURRENT:.status.replicas'
# Through the Service: ask until a 2.0 pod answers (soon, every one will).
kubectl exec toolbox -- sh -c 'until wget -qO- http://web/ 2>/dev/null | grep "version 2.0"; do sleep 1; done'
kubectl rollout history deployment/web
kubectl rollout history deployment/web --revision=2
# Undo: back to the template of revision 1. Its ReplicaSet is scaled up again
# and becomes revision 3; there is no revision 1 any more.
kubectl rollout undo deployment/web
kubectl rollout status deployment/web --timeout=120s
kubectl rollout history deployment/web
kubectl get replicasets -l app=web --sort-by='.metadata.annotations.deployment\.kubernetes\.io/revision' -o custom-columns='NAME:.metadata.name,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,IMAGE:.spec.template.spec.containers[0].image,DESIRED:.spec.replicas,CURRENT:.status.replicas'
# Undoing to where you already are changes nothing.
kubectl rollout undo deployment/web --to-revision=3
kubectl delete -f chapters/09-rollouts/manifests/web.yaml -f chapters/09-rollouts/manifests/toolbox.yaml
