# Exercise 02: a Job runs pods until enough of them have succeeded.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/sum-job.yaml
kubectl wait --for=condition=complete job/sum --timeout=60s
kubectl get job sum
kubectl get pods -l job-name=sum
kubectl logs job/sum
kubectl get job sum -o jsonpath='{.status.succeeded} succeeded, {.status.failed} failed; {range .status.conditions[*]}{.type}={.status} ({.reason}) {end}{"\n"}'
# An Indexed Job: each pod knows its index.
kubectl apply -f chapters/08-statefulsets-and-jobs/manifests/squares-job.yaml
kubectl wait --for=condition=complete job/squares --timeout=60s
kubectl get job squares -o jsonpath='{.status.completedIndexes}{"\n"}'
kubectl logs -l job-name=squares,batch.kubernetes.io/job-completion-index=0
kubectl logs -l job-name=squares,batch.kubernetes.io/job-completion-index=2
kubectl delete job sum squares
