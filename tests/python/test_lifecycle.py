"""Chapter 07 through the official Python client: init and sidecar
statuses as the client's models read them, a readiness probe's verdict, a
debug container added through `patch_namespaced_pod_ephemeralcontainers`
(the subresource `kubectl debug` uses), and the 422s of bad probes."""
import os

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import chapter_cluster, wait_for


@pytest.fixture(scope="module")
def chapter_7():
    if os.geteuid() != 0:
        pytest.skip("pods need the linux runtime (root)")
    with chapter_cluster(7) as c:
        yield c


@pytest.fixture(scope="module")
def api(chapter_7):
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=chapter_7.kubeconfig))



POD = {
    "metadata": {"name": "py-sidecar"},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "initContainers": [
            {"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo ok > /work/flag"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            {"name": "proxy", "image": "busybox", "restartPolicy": "Always",
             "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]},
        ],
        "containers": [
            {"name": "web", "image": "kubelab/web:1.0", "ports": [{"name": "http", "containerPort": 8080}],
             "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
        ],
        "volumes": [{"name": "work", "emptyDir": {}}],
    },
}


def test_init_and_sidecar_statuses_read_by_the_client(api):
    api.create_namespaced_pod("default", POD)

    def ready():
        p = api.read_namespaced_pod("py-sidecar", "default")
        conds = {c.type: c.status for c in p.status.conditions or []}
        return p if conds.get("Ready") == "True" else None

    pod = wait_for(ready)
    setup, proxy = pod.status.init_container_statuses
    assert (setup.name, setup.state.terminated.reason, setup.state.terminated.exit_code) == ("setup", "Completed", 0)
    assert setup.ready is True
    assert proxy.name == "proxy" and proxy.started is True and proxy.state.running is not None
    (web,) = pod.status.container_statuses
    assert web.ready is True and web.started is True
    # The API server filled in upstream's probe defaults.
    probe = pod.spec.containers[0].readiness_probe
    assert (probe.timeout_seconds, probe.success_threshold, probe.failure_threshold) == (1, 1, 3)
    assert probe.http_get.scheme == "HTTP"


def test_a_debug_container_through_the_ephemeralcontainers_subresource(api):
    body = {"spec": {"ephemeralContainers": [
        {"name": "debugger", "image": "busybox", "command": ["sh", "-c", "ps -o pid,args"],
         "targetContainerName": "web"}]}}
    api.patch_namespaced_pod_ephemeralcontainers("py-sidecar", "default", body)

    def done():
        p = api.read_namespaced_pod("py-sidecar", "default")
        st = p.status.ephemeral_container_statuses or []
        return st and st[0].state.terminated
    wait_for(done)
    # The subresource's GET is the pod.
    p = api.read_namespaced_pod_ephemeralcontainers("py-sidecar", "default")
    assert p.kind == "Pod" and [c.name for c in p.spec.ephemeral_containers] == ["debugger"]
    out = api.read_namespaced_pod_log("py-sidecar", "default", container="debugger")
    assert "1 /bin/web" in out, out
    # Existing ephemeral containers may not change.
    with pytest.raises(ApiException) as e:
        api.patch_namespaced_pod_ephemeralcontainers(
            "py-sidecar", "default",
            {"spec": {"ephemeralContainers": [{"name": "debugger", "image": "kubelab/web:1.0"}]}})
    assert e.value.status == 422
    assert 'existing ephemeral containers \\"debugger\\" may not be changed' in e.value.body


def test_bad_probes_get_422_with_the_field(api):
    bad = {"metadata": {"name": "py-bad"},
           "spec": {"containers": [{"name": "c", "image": "busybox",
                                    "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]}}
    with pytest.raises(ApiException) as e:
        api.create_namespaced_pod("default", bad)
    assert e.value.status == 422
    assert "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type" in e.value.body
