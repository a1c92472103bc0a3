# Exercise 02: a rollout that cannot finish, scaling in the middle of one, pause and resume.
kubectl apply -f chapters/09-rollouts/manifests/web.yaml
kubectl rollout status deployment/web --timeout=120s
# There is no web 9.9: its pod never starts, so it never becomes Ready.
kubectl set image deployment/web web=kubelab/web:9.9
kubectl annotate deployment web kubernetes.io/change-cause="web 9.9: a typo"
# 15 s without progress (progressDeadlineSeconds) and the rollout is declared failed.
kubectl rollout status deployment/web --timeout=120s
kubectl get deployment web -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
# Nothing was undone, and with maxUnavailable 0 nothing was lost: four old pods serve, one new pod waits.
kubectl get deployment web
kubectl get pods -l app=web --sort-by=.spec.containers[0].image -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,READY:.status.containerStatuses[0].ready,WAITING:.status.containerStatuses[0].state.waiting.reason'
# Scaling now: the 4 extra pods (8 + 1 surge - 5) are shared in proportion to
# the two ReplicaSets' sizes, 4 and 1: 3 more old pods, 1 more new one.
kubectl scale deployment web --replicas=8
kubectl wait --for=jsonpath='{.status.replicas}'=9 deployment/web --timeout=60s
kubectl wait --for=jsonpath='{.status.availableReplicas}'=7 deployment/web --timeout=60s
kubectl get replicasets -l app=web --sort-by='.metadata.annotations.deployment\.kubernetes\.io/revision' -o custom-columns='NAME:.metadata.name,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,IMAGE:.spec.template.spec.containers[0].image,DESIRED:.spec.replicas,CURRENT:.status.replicas'
# The way out: back to the revision that worked.
kubectl rollout undo deployment/web
kubectl rollout status deployment/web --timeout=120s
kubectl rollout history deployment/web
kubectl scale deployment web --replicas=4
kubectl wait --for=jsonpath='{.status.replicas}'=4 deployment/web --timeout=60s
# Pause, then make several changes: no rollout starts until resume, and then only one.
kubectl rollout pause deployment/web
kubectl set image deployment/web web=kubelab/web:2.0
kubectl set resources deployment web --requests=cpu=50m,memory=16Mi
kubectl annotate deployment web kubernetes.io/change-cause="web 2.0, with requests"
kubectl wait --for=condition=Progressing=Unknown deployment/web --timeout=60s
kubectl get deployment web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}{"\n"}'
# No new ReplicaSet while paused: the old pods serve on.
kubectl get replicasets -l app=web --sort-by='.metadata.annotations.deployment\.kubernetes\.io/revision' -o custom-columns='NAME:.metadata.name,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,IMAGE:.spec.template.spec.containers[0].image,DESIRED:.spec.replicas,CURRENT:.status.replicas'
# A paused Deployment cannot be undone either.
kubectl rollout undo deployment/web
kubectl rollout resume deployment/web
kubectl rollout status deployment/web --timeout=120s
kubectl rollout history deployment/web
kubectl get replicasets -l app=web --sort-by='.metadata.annotations.deployment\.kubernetes\.io/revision' -o custom-columns='NAME:.metadata.name,REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,IMAGE:.spec.template.spec.containers[0].image,CPU:.spec.template.spec.containers[0].resources.requests.cpu,DESIRED:.spec.replicas,CURRENT:.status.replicas'
kubectl delete -f chapters/09-rollouts/manifests/web.yaml
