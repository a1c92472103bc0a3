# Exercise 05: what a process in a container sees, as root and restricted.
kubectl apply -f chapters/02-pods/manifests/inside-pods.yaml
kubectl wait --for=condition=Ready pod/as-root pod/restricted --timeout=60s
# Who it is, and the environment containerd and runc would give it.
kubectl exec as-root -- id
kubectl exec as-root -- sh -c 'echo HOSTNAME=$HOSTNAME HOME=$HOME PATH=$PATH; cat /etc/hostname'
kubectl exec restricted -- id
kubectl exec restricted -- sh -c 'echo HOME=$HOME'
# Root in a container is not the host's root: 14 capabilities (a80425fb), and none at all when dropped.
kubectl exec as-root -- grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
kubectl exec restricted -- grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
# Its own root file system: writable for root here, read-only there.
kubectl exec as-root -- sh -c 'touch /made-by-root && echo written'
kubectl exec restricted -- touch /made-by-me
# The volume belongs to the pod's fsGroup; new files inherit the group.
kubectl exec restricted -- sh -c 'touch /data/mine && stat -c "%u %g %A %n" /data /data/mine'
# What would tell about the host is hidden, what would control it read-only.
kubectl exec as-root -- wc -c /proc/keys
kubectl exec as-root -- sh -c 'echo 1 > /proc/sys/kernel/panic'
kubectl delete pod as-root restricted
