# Exercise 05: blue/green and canary releases, made of Deployments, labels and Service selectors.
kubectl apply -f chapters/09-rollouts/manifests/blue-green.yaml -f chapters/09-rollouts/manifests/canary.yaml -f chapters/09-rollouts/manifests/toolbox.yaml
kubectl rollout status deployment/web-blue --timeout=120s
kubectl rollout status deployment/web-green --timeout=120s
kubectl rollout status deployment/web-stable --timeout=120s
kubectl rollout status deployment/web-canary --timeout=120s
kubectl wait --for=condition=Ready pod/toolbox --timeout=60s
# Blue/green: both colors run; the Service sends everyone to blue.
kubectl get deployments web-blue web-green -o wide
kubectl exec toolbox -- sh -c 'until wget -qO- http://web-live/ 2>/dev/null; do sleep 1; done'
kubectl get endpointslices -l kubernetes.io/service-name=web-live -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{"\n"}{end}'
# The switch is one field. Ask until green answers: from then on only green does.
kubectl patch service web-live -p '{"spec":{"selector":{"color":"green"}}}'
kubectl exec toolbox -- sh -c 'until wget -qO- http://web-live/ 2>/dev/null | grep "version 2.0"; do sleep 1; done'
kubectl get endpointslices -l kubernetes.io/service-name=web-live -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{"\n"}{end}'
# Going back is as quick: blue is still running.
kubectl patch service web-live -p '{"spec":{"selector":{"color":"blue"}}}'
kubectl exec toolbox -- sh -c 'until wget -qO- http://web-live/ 2>/dev/null | grep "version 1.0"; do sleep 1; done'
kubectl delete -f chapters/09-rollouts/manifests/blue-green.yaml
# A canary: three stable pods and one canary behind one Service.
kubectl get deployments web-stable web-canary -o wide
kubectl get endpointslices -l kubernetes.io/service-name=web-canary-demo -o jsonpath='{range .items[*].endpoints[*]}{.targetRef.name}{"\n"}{end}' | sort
# Each connection goes to one of the four at random: about one in four meets 2.0.
kubectl exec toolbox -- sh -c 'for i in $(seq 60); do wget -qO- http://web-canary-demo/ 2>/dev/null; done' | grep -o 'version [0-9.]*' | sort -u
# Promote: the stable Deployment moves to 2.0 (a rolling update), the canary goes.
kubectl set image deployment/web-stable web=kubelab/web:2.0
kubectl rollout status deployment/web-stable --timeout=120s
kubectl delete deployment web-canary
kubectl get deployment web-stable -o wide
kubectl delete -f chapters/09-rollouts/manifests/canary.yaml -f chapters/09-rollouts/manifests/toolbox.yaml --ignore-not-found
