# Exercise 03: a pod reads facts about itself from files, and they follow changes.
kubectl apply -f chapters/05-volumes/manifests/podinfo.yaml
kubectl wait --for=condition=Ready pod/podinfo --timeout=60s
kubectl exec podinfo -- ls /etc/podinfo /etc/all-in-one
# One file per item (`grep .` prints each with its name: the files end without a newline).
kubectl exec podinfo -- grep . /etc/podinfo/labels /etc/podinfo/name /etc/podinfo/namespace /etc/podinfo/memory_limit_mi
kubectl exec podinfo -- grep . /etc/all-in-one/greeting /etc/all-in-one/labels
# Change a label: the kubelet rewrites the files (one atomic rename).
kubectl label pod podinfo tier=api --overwrite
sleep 2
kubectl exec podinfo -- grep . /etc/podinfo/labels
# The token in the projected volume is a JWT: three dot-separated parts.
kubectl exec podinfo -- sh -c 'tr -cd . < /etc/all-in-one/token | wc -c'
# These volumes are read-only in the container, whatever the mount says.
kubectl exec podinfo -- sh -c 'echo x > /etc/podinfo/labels'
kubectl delete pod podinfo
