"""The official Python client against a cluster with a node (chapters 02 and 03):
pod logs and exec over its WebSocket streams, Services with allocated
addresses, Endpoints and EndpointSlices, and the allocators' errors."""
import ipaddress
import os
import tempfile
import time

import kubernetes
import pytest
from kubernetes.client import ApiException
from kubernetes.stream import stream

from conftest import Cluster


@pytest.fixture(scope="module")
def node_cluster():
    with tempfile.TemporaryDirectory(prefix="kubelab-pytest-") as d:
        c = Cluster(os.path.join(d, "data"), ["--chapter", "3", "--nodes", "1"]).start()
        try:
            yield c
        finally:
            c.stop()
            # Whatever the stop left (it should be nothing): kubelab down.
            binary = os.environ.get("KUBELAB_BIN", "target/debug/kubelab")
            os.system(f"{binary} down --data-dir {c.data_dir} >/dev/null 2>&1")


@pytest.fixture(scope="module")
def v1(node_cluster):
    api = kubernetes.config.new_client_from_config(config_file=node_cluster.kubeconfig)
    return kubernetes.client.CoreV1Api(api)


def wait_for(what, check, secs=60):
    deadline = time.time() + secs
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def pod(name, labels, command):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox", "command": command,
                                     "ports": [{"name": "http", "containerPort": 8080}]}]}}


def test_logs_and_exec_through_the_client(v1):
    v1.create_namespaced_pod("default", pod("talker", {"app": "talker"},
                                            ["sh", "-c", "echo hello from talker; exec sleep 3600"]))
    wait_for("talker running", lambda: v1.read_namespaced_pod("talker", "default").status.phase == "Running")
    logs = wait_for("its log", lambda: v1.read_namespaced_pod_log("talker", "default"))
    assert logs == "hello from talker\n"
    out = stream(v1.connect_get_namespaced_pod_exec, "talker", "default",
                 command=["sh", "-c", "echo $HOSTNAME; echo oops >&2"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert "talker" in out
    ws = stream(v1.connect_get_namespaced_pod_exec, "talker", "default",
                command=["sh", "-c", "exit 3"], stderr=True, stdin=False, stdout=True, tty=False,
                _preload_content=False)
    ws.run_forever(timeout=10)
    assert ws.returncode == 3


def test_services_get_addresses_and_endpoints(v1, node_cluster):
    v1.create_namespaced_pod("default", pod("backend", {"app": "backend"}, ["sleep", "3600"]))
    svc = v1.create_namespaced_service("default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
        "spec": {"type": "NodePort", "selector": {"app": "backend"},
                 "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
    ip = ipaddress.ip_address(svc.spec.cluster_ip)
    assert ip in ipaddress.ip_network("10.96.0.0/12") and svc.spec.cluster_ips == [str(ip)]
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.ip_families == ["IPv4"] and svc.spec.session_affinity == "None"

    pod_ip = wait_for("backend's IP", lambda: v1.read_namespaced_pod("backend", "default").status.pod_ip)
    ep = wait_for("endpoints", lambda: (v1.read_namespaced_endpoints("backend", "default").subsets or [None])[0])
    assert [a.ip for a in ep.addresses or []] + [a.ip for a in ep.not_ready_addresses or []] == [pod_ip]
    assert ep.ports[0].port == 8080 and ep.ports[0].name == "web"

    discovery = kubernetes.client.DiscoveryV1Api(v1.api_client)
    slices = discovery.list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=backend").items
    assert len(slices) == 1
    s = slices[0]
    assert s.address_type == "IPv4" and s.endpoints[0].addresses == [pod_ip]
    assert s.metadata.owner_references[0].kind == "Service"

    # The allocators' errors, as upstream words them; nothing is written.
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_service("default", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "clash"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": svc.spec.ports[0].node_port}]}})
    assert e.value.status == 422 and "provided port is already allocated" in e.value.body
    with pytest.raises(ApiException) as e:
        v1.patch_namespaced_service("backend", "default", {"spec": {"clusterIP": "10.96.7.7"}})
    assert e.value.status == 422 and "field is immutable" in e.value.body
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_service("clash", "default")
    assert e.value.status == 404

    # Deleting the Service takes its Endpoints with it.
    v1.delete_namespaced_service("backend", "default")
    def endpoints_gone():
        try:
            v1.read_namespaced_endpoints("backend", "default")
            return False
        except ApiException as err:
            return err.status == 404
    wait_for("endpoints deleted", endpoints_gone, secs=10)


def test_cluster_services_exist(v1):
    k = v1.read_namespaced_service("kubernetes", "default")
    assert k.spec.cluster_ip == "10.96.0.1" and k.spec.ports[0].port == 443
    if os.geteuid() == 0:
        dns = v1.read_namespaced_service("kube-dns", "kube-system")
        assert dns.spec.cluster_ip == "10.96.0.10"
        assert sorted((p.name, p.protocol) for p in dns.spec.ports) == [("dns", "UDP"), ("dns-tcp", "TCP")]
