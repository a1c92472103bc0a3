# Exercise 02: emptyDir volumes — shared between containers, in memory, and limited.
kubectl apply -f chapters/05-volumes/manifests/cache-emptydir.yaml
kubectl wait --for=condition=Ready pod/cache --timeout=60s
sleep 3
# The writer's lines, read by the other container through the shared volume.
kubectl exec cache -c reader -- sh -c 'test -s /shared/log && echo "the reader sees the writer'"'"'s file"'
# medium: Memory is a tmpfs, as big as its sizeLimit (16Mi = 16384 KiB).
kubectl exec cache -c writer -- sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f1-3; df -k /scratch | tail -1 | tr -s " " | cut -d" " -f2'
# On disk, a sizeLimit is enforced by eviction: this pod writes 4 MiB into 1Mi.
kubectl apply -f chapters/05-volumes/manifests/limited-cache.yaml
kubectl wait --for=jsonpath={.status.phase}=Failed pod/hog --timeout=60s
kubectl get pod hog -o jsonpath='{.status.reason}: {.status.message}{"\n"}'
kubectl get events --field-selector involvedObject.name=hog,reason=Evicted -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
kubectl delete pod hog cache
