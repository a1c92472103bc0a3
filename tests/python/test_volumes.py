"""Chapter 05 through the official Python client: TokenRequest, tokens the
API server believes until their ServiceAccount goes, and the client's own
`load_incluster_config()` run inside a pod, from the files and variables
the pod gets (the ServiceAccount token volume, KUBERNETES_SERVICE_HOST)."""
import os
import sys

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import chapter_cluster, wait_for


@pytest.fixture(scope="module")
def chapter_5():
    if os.geteuid() != 0:
        pytest.skip("pods need the linux runtime (root)")
    with chapter_cluster(5) as c:
        yield c



def as_token(cluster, token):
    cfg = kubernetes.client.Configuration()
    cfg.host = cluster.url
    cfg.ssl_ca_cert = os.path.join(cluster.data_dir, "pki", "ca.crt")
    cfg.api_key = {"authorization": "Bearer " + token}
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(cfg))


def test_token_requests_make_identities_that_end_with_their_account(chapter_5):
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=chapter_5.kubeconfig))
    api.create_namespaced_service_account("default", {"metadata": {"name": "reporter"}})
    req = kubernetes.client.AuthenticationV1TokenRequest(
        spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
    answer = api.create_namespaced_service_account_token("reporter", "default", req)
    token = answer.status.token
    assert token.count(".") == 2
    assert answer.status.expiration_timestamp is not None
    assert as_token(chapter_5, token).list_namespaced_pod("default").kind == "PodList"
    with pytest.raises(ApiException) as refused:
        as_token(chapter_5, token + "x").list_namespaced_pod("default")
    assert refused.value.status == 401
    api.delete_namespaced_service_account("reporter", "default")
    with pytest.raises(ApiException) as gone:
        as_token(chapter_5, token).list_namespaced_pod("default")
    assert gone.value.status == 401


def test_the_python_client_runs_in_a_pod_with_its_service_account(chapter_5):
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=chapter_5.kubeconfig))
    # This interpreter and its packages, lent to a busybox pod read-only:
    # the host's own paths, mounted at the same places.
    site = os.path.dirname(os.path.dirname(os.path.abspath(kubernetes.__file__)))
    paths = {"/usr", os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), site}
    paths = sorted(p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths))
    volumes = [{"name": f"host{i}", "hostPath": {"path": p, "type": "Directory"}} for i, p in enumerate(paths)]
    mounts = [{"name": f"host{i}", "mountPath": p, "readOnly": True} for i, p in enumerate(paths)]
    for i, (link, target) in enumerate([("/lib", "/usr/lib"), ("/lib64", "/usr/lib64")]):
        volumes.append({"name": f"lib{i}", "hostPath": {"path": target, "type": "Directory"}})
        mounts.append({"name": f"lib{i}", "mountPath": link, "readOnly": True})
    script = ("from kubernetes import client, config; config.load_incluster_config(); "
              "print(sorted(p.metadata.name for p in client.CoreV1Api().list_namespaced_pod('default').items))")
    pod = {
        "metadata": {"name": "in-cluster"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "client", "image": "busybox",
                "command": [os.path.realpath(sys.executable), "-c", script],
                "env": [{"name": "PYTHONPATH", "value": site}],
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        },
    }
    api.create_namespaced_pod("default", pod)
    phase = wait_for(lambda: api.read_namespaced_pod("in-cluster", "default").status.phase
                     in ("Succeeded", "Failed") and api.read_namespaced_pod("in-cluster", "default").status.phase, 60)
    log = api.read_namespaced_pod_log("in-cluster", "default")
    assert phase == "Succeeded", log
    assert "'in-cluster'" in log, log
    # It read the mounted account: the token volume the admission plugin added.
    spec = api.read_namespaced_pod("in-cluster", "default").spec
    assert spec.service_account_name == "default"
    assert any(v.name.startswith("kube-api-access-") and v.projected for v in spec.volumes)
