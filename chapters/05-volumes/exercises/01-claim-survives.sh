# Exercise 01: data in a claim outlives its pods; a container's own layer does not.
# The default class: local directories, made when a pod first needs one.
kubectl get storageclass
kubectl apply -f chapters/05-volumes/manifests/notes-pvc.yaml
kubectl wait --for=condition=Ready pod/notes --timeout=60s
# The scheduler chose the node; the provisioner made a volume there and the binder bound it.
kubectl get pvc notes-data
kubectl get pv -o custom-columns=CLAIM:.spec.claimRef.name,CLASS:.spec.storageClassName,NODE:.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0],RECLAIM:.spec.persistentVolumeReclaimPolicy
kubectl exec notes -- wc -l /data/notes.txt
# Something written outside the volume, in the container's own layer.
kubectl exec notes -- sh -c 'echo scribble > /tmp/scribble'
kubectl delete pod notes
kubectl apply -f chapters/05-volumes/manifests/notes-pvc.yaml
kubectl wait --for=condition=Ready pod/notes --timeout=60s
# Two starts, two lines: the claim kept them. The scribble is gone with the old container.
kubectl exec notes -- wc -l /data/notes.txt
kubectl exec notes -- cat /tmp/scribble
# A claim in use is protected: it stays Terminating until its pod goes.
kubectl delete pvc notes-data --wait=false
kubectl get pvc notes-data
kubectl delete pod notes
kubectl wait --for=delete pvc/notes-data --timeout=30s
# Reclaim policy Delete: the volume (and its directory) went with the claim.
kubectl get pv
