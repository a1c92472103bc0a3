# Exercise 03: a failing Job is retried with back-off, then fails; a
# podFailurePolicy can fail it at once.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/flaky-job.yaml
kubectl wait --for=condition=failed job/flaky --timeout=90s
kubectl get job flaky -o jsonpath='{.status.failed} failed: {.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}{"\n"}'
kubectl get pods -l job-name=flaky
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/policy-job.yaml
kubectl wait --for=condition=failed job/policy --timeout=60s
kubectl get job policy -o jsonpath='{.status.failed} failed: {.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}{"\n"}'
kubectl delete job flaky policy
