"""The official `kubernetes` Python client against kubelab: create, list, watch, patch, delete."""
import os

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import load_yaml

MANIFESTS = os.path.join(os.path.dirname(__file__), "..", "..", "chapters", "01-objects-and-api", "manifests")


def test_create_list_patch_delete_configmaps(client):
    v1 = kubernetes.client.CoreV1Api(client)
    created = v1.create_namespaced_config_map("default", load_yaml(os.path.join(MANIFESTS, "web-config.yaml")))
    assert created.metadata.uid and int(created.metadata.resource_version) > 0
    assert created.data["COLOUR"] == "teal"

    names = [c.metadata.name for c in v1.list_namespaced_config_map("default", label_selector="app=web").items]
    assert names == ["web-config"]
    assert v1.list_namespaced_config_map("default", label_selector="app=db").items == []

    # The client's default patch type is a strategic merge patch.
    patched = v1.patch_namespaced_config_map("web-config", "default", {"data": {"COLOUR": "orange"}})
    assert patched.data == {"GREETING": "Hello from kubelab", "COLOUR": "orange"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    v1.delete_namespaced_config_map("web-config", "default")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("web-config", "default")
    assert e.value.status == 404


def test_deployments_get_defaults_and_scale(client):
    apps = kubernetes.client.AppsV1Api(client)
    d = apps.create_namespaced_deployment("default", load_yaml(os.path.join(MANIFESTS, "web-deployment.yaml")))
    assert d.spec.strategy.type == "RollingUpdate"
    assert d.spec.template.spec.restart_policy == "Always"
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 2 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 5


def test_watch_sees_every_change_in_order(client):
    v1 = kubernetes.client.CoreV1Api(client)
    start = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", {"metadata": {"name": "w1"}})
    v1.patch_namespaced_config_map("w1", "default", {"data": {"a": "1"}})
    v1.delete_namespaced_config_map("w1", "default")
    seen = []
    w = kubernetes.watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=2):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_namespaces_and_errors(client):
    v1 = kubernetes.client.CoreV1Api(client)
    v1.create_namespace(load_yaml(os.path.join(MANIFESTS, "lab-namespace.yaml")))
    assert v1.read_namespace("lab").status.phase == "Active"
    with pytest.raises(ApiException) as e:
        v1.create_namespace({"metadata": {"name": "lab"}})
    assert e.value.status == 409 and '"reason":"AlreadyExists"' in e.value.body
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert e.value.status == 404


def test_metadata_only_lists_as_client_go_metadata_informers_ask(cluster):
    """client-go's metadata client (the garbage collector's informers) asks
    for PartialObjectMetadataList: metadata, no spec or data."""
    status, out = cluster.request("POST", "/api/v1/namespaces/default/configmaps",
                                  {"metadata": {"name": "m", "labels": {"a": "b"}}, "data": {"k": "v"}})
    assert status == 201, out
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    status, out = cluster.request("GET", "/api/v1/namespaces/default/configmaps", headers={"Accept": accept})
    assert status == 200, out
    assert out["kind"] == "PartialObjectMetadataList" and out["apiVersion"] == "meta.k8s.io/v1"
    item = [i for i in out["items"] if i["metadata"]["name"] == "m"][0]
    assert item["kind"] == "PartialObjectMetadata" and item["metadata"]["labels"] == {"a": "b"}
    assert "data" not in item
