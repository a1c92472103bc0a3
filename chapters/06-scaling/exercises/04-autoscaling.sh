# Exercise 04: metrics and the HorizontalPodAutoscaler.
kubectl api-resources --api-group=metrics.k8s.io
kubectl apply -f chapters/06-scaling/manifests/burner.yaml
kubectl rollout status deployment/burner --timeout=60s
# CPU is a counter: a pod shows up in `kubectl top` after its second reading (5 s apart).
kubectl wait --for=condition=Ready pod -l app=burner --timeout=60s
sleep 12; kubectl top pods -l app=burner --no-headers | awk '{print "burner pod measured:", ($2 ~ /m$/ ? "yes" : "no")}'
kubectl autoscale deployment burner --cpu-percent=50 --min=1 --max=3
# The pods burn 200m against a request of 50m (400 %): the autoscaler goes to its maximum.
kubectl wait --for=jsonpath='{.status.currentReplicas}'=3 hpa/burner --timeout=120s
kubectl get hpa burner -o custom-columns=NAME:.metadata.name,REFERENCE:.spec.scaleTargetRef.name,MIN:.spec.minReplicas,MAX:.spec.maxReplicas,REPLICAS:.status.currentReplicas
kubectl get hpa burner -o jsonpath='{range .status.conditions[*]}{.type} {.status} {.reason}{"\n"}{end}'
kubectl get events --field-selector reason=SuccessfulRescale -o custom-columns=MESSAGE:.message
kubectl delete hpa burner
kubectl delete deployment burner
