# Chapter 03, exercise 4: a Service with nobody behind it.
kubectl scale deployment whoami --replicas=0
kubectl rollout status deployment/whoami --timeout=60s
kubectl get endpoints whoami
# Refused at once, not a hang: the proxy rejects connections to it.
kubectl exec toolbox -- timeout 5 wget -qO- http://whoami/
kubectl scale deployment whoami --replicas=3
kubectl rollout status deployment/whoami --timeout=60s
kubectl get endpoints whoami
