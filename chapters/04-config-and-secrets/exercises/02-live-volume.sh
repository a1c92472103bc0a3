# Exercise 02: a ConfigMap as files, and what happens when it changes.
kubectl apply -f chapters/04-config-and-secrets/manifests/web-config.yaml
kubectl apply -f chapters/04-config-and-secrets/manifests/web-pod.yaml
kubectl wait --for=condition=Ready pod/web --timeout=60s
# One file per key. They are links into ..data, itself a link to the
# directory of the current version (named after the time it was written).
kubectl exec web -- ls -A /etc/web
kubectl exec web -- readlink /etc/web/colour
kubectl exec web -- readlink /etc/web/..data
# The same key three ways: the volume, the subPath file, the variable.
kubectl exec web -- grep . /etc/web/colour /etc/web/greeting /etc/colour
kubectl exec web -- sh -c 'echo COLOUR=$COLOUR'
kubectl patch configmap web-config -p '{"data":{"colour":"orange"}}'
# The kubelet rewrites the volume within a second (upstream: within a minute or so).
sleep 2
# The volume shows the new value; the subPath file and the variable do not.
kubectl exec web -- grep . /etc/web/colour /etc/web/greeting /etc/colour
kubectl exec web -- sh -c 'echo COLOUR=$COLOUR'
# The files are read-only for the container.
kubectl exec web -- sh -c 'echo red > /etc/web/colour'
