# Exercise 03: a StatefulSet updates its pods in place, highest ordinal first; a partition holds some back.
kubectl apply -f chapters/09-rollouts/manifests/shard.yaml -f chapters/09-rollouts/manifests/toolbox.yaml
kubectl rollout status statefulset/shard --timeout=120s
kubectl wait --for=condition=Ready pod/toolbox --timeout=60s
# Its revisions are ControllerRevisions; each pod is labelled with the one it runs.
kubectl get controllerrevisions -l app=shard
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,REVISION:.metadata.labels.controller-revision-hash'
# A canary: with partition 2, a new template reaches shard-2 only.
kubectl patch statefulset shard -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}'
kubectl annotate statefulset shard kubernetes.io/change-cause="web 2.0"
kubectl set image statefulset/shard web=kubelab/web:2.0
kubectl rollout status statefulset/shard --timeout=120s
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,REVISION:.metadata.labels.controller-revision-hash'
kubectl get statefulset shard -o jsonpath='current {.status.currentRevision} ({.status.currentReplicas} pods), update {.status.updateRevision} ({.status.updatedReplicas} pods){"\n"}'
kubectl exec toolbox -- wget -qO- http://$(kubectl get pod shard-0 -o jsonpath='{.status.podIP}'):8080/
kubectl exec toolbox -- wget -qO- http://$(kubectl get pod shard-2 -o jsonpath='{.status.podIP}'):8080/
# The canary looks good: lower the partition and the rest follow, shard-1 then shard-0.
kubectl patch statefulset shard -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}'
kubectl rollout status statefulset/shard --timeout=120s
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,REVISION:.metadata.labels.controller-revision-hash'
kubectl get statefulset shard -o jsonpath='current {.status.currentRevision} ({.status.currentReplicas} pods), update {.status.updateRevision} ({.status.updatedReplicas} pods){"\n"}'
kubectl get controllerrevisions -l app=shard --sort-by=.revision
kubectl rollout history statefulset/shard
# Undo: the template of revision 1 comes back, as revision 3 (with its change-cause).
kubectl rollout undo statefulset/shard --to-revision=1
kubectl rollout status statefulset/shard --timeout=120s
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,REVISION:.metadata.labels.controller-revision-hash'
kubectl rollout history statefulset/shard
# A broken update stops at shard-2: its replacement never becomes Ready, so shard-1 is left alone.
kubectl set image statefulset/shard web=kubelab/web:9.9
kubectl wait --for=jsonpath='{.status.updatedReplicas}'=1 statefulset/shard --timeout=60s
kubectl wait --for=jsonpath='{.status.containerStatuses[0].state.waiting.reason}'=ErrImageNeverPull pod/shard-2 --timeout=60s
# Undo fixes the template, not the pod: a StatefulSet does not replace a pod that is not Ready.
kubectl rollout undo statefulset/shard
sleep 3
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,READY:.status.containerStatuses[0].ready'
# Delete the broken pod yourself: it comes back at once, from the template that
# works (--wait=false: a pod of that name is back too soon for kubectl to see it go).
kubectl delete pod shard-2 --wait=false
kubectl rollout status statefulset/shard --timeout=120s
kubectl get pods -l app=shard --sort-by=.metadata.name -o custom-columns='NAME:.metadata.name,IMAGE:.spec.containers[0].image,READY:.status.containerStatuses[0].ready'
# A partition below 0 makes no sense.
kubectl patch statefulset shard -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":-1}}}}'
kubectl delete -f chapters/09-rollouts/manifests/shard.yaml -f chapters/09-rollouts/manifests/toolbox.yaml
