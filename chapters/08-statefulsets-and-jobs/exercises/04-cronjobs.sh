# Exercise 04: a CronJob creates a Job on its schedule; one can also be
# started by hand from it.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/tick-cronjob.yaml
kubectl create job tick-now --from=cronjob/tick
kubectl wait --for=condition=complete job/tick-now --timeout=60s
kubectl logs job/tick-now
kubectl get job tick-now -o jsonpath='{.metadata.annotations.cronjob\.kubernetes\.io/instantiate} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\n"}'
# At the next minute, a Job named after its schedule time (minutes since 1970).
kubectl wait --for=jsonpath='{.status.lastScheduleTime}' cronjob/tick --timeout=90s
kubectl patch cronjob tick -p '{"spec":{"suspend":true}}'
kubectl get cronjob tick -o custom-columns=NAME:.metadata.name,SCHEDULE:.spec.schedule,SUSPEND:.spec.suspend
kubectl wait --for=condition=complete job -l app=tick --timeout=60s
kubectl get jobs -l app=tick -o jsonpath='{range .items[*]}{.metadata.name}: {.status.conditions[-1:].type}, scheduled for {.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}{"\n"}{end}'
kubectl delete cronjob tick
