"""Chapter 06 through the official Python client: a ReplicationController
scaled through `patch_namespaced_replication_controller_scale`; a
DaemonSet's status as `V1DaemonSetStatus` reads it; a
PodDisruptionBudget whose status the controller computes, and an
eviction (`create_namespaced_pod_eviction`) refused with a 429 and then
allowed; the metrics API through `CustomObjectsApi`; and an
autoscaling/v2 HorizontalPodAutoscaler read back with its defaults and
conditions."""
import os

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import chapter_cluster, wait_for


@pytest.fixture(scope="module")
def chapter_6():
    if os.geteuid() != 0:
        pytest.skip("pods need the linux runtime (root)")
    with chapter_cluster(6, ("--nodes", "2")) as c:
        yield c


@pytest.fixture(scope="module")
def client(chapter_6):
    return kubernetes.config.new_client_from_config(config_file=chapter_6.kubeconfig)


def pod_template(app, **extra):
    return {"metadata": {"labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"], **extra}]}}


def test_a_replication_controller_scaled_through_its_scale_subresource(client):
    core = kubernetes.client.CoreV1Api(client)
    rc = core.create_namespaced_replication_controller("default", {
        "metadata": {"name": "py-rc"},
        "spec": {"replicas": 1, "template": pod_template("py-rc")},
    })
    # No selector given: it defaults to the template's labels, and so do the RC's labels.
    assert rc.spec.selector == {"app": "py-rc"} and rc.metadata.labels == {"app": "py-rc"}
    core.patch_namespaced_replication_controller_scale("py-rc", "default", {"spec": {"replicas": 3}})
    wait_for(lambda: core.read_namespaced_replication_controller("py-rc", "default").status.ready_replicas == 3)
    scale = core.read_namespaced_replication_controller_scale("py-rc", "default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=py-rc"
    pods = core.list_namespaced_pod("default", label_selector="app=py-rc").items
    assert len(pods) == 3
    assert all(p.metadata.owner_references[0].kind == "ReplicationController" for p in pods)
    core.delete_namespaced_replication_controller("py-rc", "default")
    wait_for(lambda: not core.list_namespaced_pod("default", label_selector="app=py-rc").items)


def test_a_daemonset_runs_one_pod_per_node(client):
    apps = kubernetes.client.AppsV1Api(client)
    core = kubernetes.client.CoreV1Api(client)
    apps.create_namespaced_daemon_set("default", {
        "metadata": {"name": "py-ds"},
        "spec": {"selector": {"matchLabels": {"app": "py-ds"}}, "template": pod_template("py-ds")},
    })
    ds = wait_for(lambda: (lambda d: d if d.status.number_ready == 2 else None)(
        apps.read_namespaced_daemon_set("py-ds", "default")))
    assert ds.status.desired_number_scheduled == 2 and ds.status.current_number_scheduled == 2
    assert ds.status.number_misscheduled == 0 and ds.status.updated_number_scheduled == 2
    pods = core.list_namespaced_pod("default", label_selector="app=py-ds").items
    assert sorted(p.spec.node_name for p in pods) == ["kubelab-node-1", "kubelab-node-2"]
    apps.delete_namespaced_daemon_set("py-ds", "default")


def test_an_eviction_waits_for_the_disruption_budget(client):
    apps = kubernetes.client.AppsV1Api(client)
    core = kubernetes.client.CoreV1Api(client)
    policy = kubernetes.client.PolicyV1Api(client)
    ready = {"readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}
    # A grace period, so the evicted pod can be read while it terminates.
    template = pod_template("py-guarded", **ready)
    template["spec"]["terminationGracePeriodSeconds"] = 5
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "py-guarded"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "py-guarded"}},
                 "template": template},
    })
    policy.create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "py-guarded"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "py-guarded"}}},
    })
    pdb = wait_for(lambda: (lambda p: p if p.status.current_healthy == 2 else None)(
        policy.read_namespaced_pod_disruption_budget("py-guarded", "default")))
    assert (pdb.status.desired_healthy, pdb.status.expected_pods, pdb.status.disruptions_allowed) == (2, 2, 0)
    assert pdb.status.conditions[0].type == "DisruptionAllowed" and pdb.status.conditions[0].reason == "InsufficientPods"
    victim = core.list_namespaced_pod("default", label_selector="app=py-guarded").items[0].metadata.name
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim, "namespace": "default"}}
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod_eviction(victim, "default", eviction)
    assert e.value.status == 429
    assert "DisruptionBudget" in e.value.body and "needs 2 healthy pods and has 2 currently" in e.value.body
    # Relax the budget: one disruption allowed, the eviction goes through and is recorded.
    policy.patch_namespaced_pod_disruption_budget("py-guarded", "default", {"spec": {"minAvailable": 1}})
    wait_for(lambda: policy.read_namespaced_pod_disruption_budget("py-guarded", "default").status.disruptions_allowed == 1)
    core.create_namespaced_pod_eviction(victim, "default", eviction)
    pod = core.read_namespaced_pod(victim, "default")
    assert pod.metadata.deletion_timestamp is not None
    assert any(c.type == "DisruptionTarget" and c.reason == "EvictionByEvictionAPI" for c in pod.status.conditions)
    apps.delete_namespaced_deployment("py-guarded", "default")
    policy.delete_namespaced_pod_disruption_budget("py-guarded", "default")


def test_the_metrics_api_and_an_autoscaler(client):
    apps = kubernetes.client.AppsV1Api(client)
    custom = kubernetes.client.CustomObjectsApi(client)
    hpas = kubernetes.client.AutoscalingV2Api(client)
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "py-busy"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "py-busy"}},
                 "template": {"metadata": {"labels": {"app": "py-busy"}},
                              "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                                  "name": "spin", "image": "busybox", "command": ["sh", "-c", "while true; do :; done"],
                                  "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "100m"}}}]}}},
    })
    # CPU is a rate: a node is listed from its second reading on.
    nodes = wait_for(lambda: (lambda n: n if n["items"] else None)(
        custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")))
    assert nodes["kind"] == "NodeMetricsList"
    assert {n["metadata"]["name"] for n in nodes["items"]} == {"kubelab-node-1", "kubelab-node-2"}
    pod = wait_for(lambda: next(iter(custom.list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", "default", "pods", label_selector="app=py-busy")["items"]), None))
    usage = pod["containers"][0]["usage"]
    assert usage["cpu"].endswith("n") and usage["memory"].endswith("Ki")
    hpas.create_namespaced_horizontal_pod_autoscaler("default", {
        "metadata": {"name": "py-busy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "py-busy"},
                 "maxReplicas": 2},
    })
    # Defaults: minReplicas 1 and 80 % of the CPU request.
    hpa = hpas.read_namespaced_horizontal_pod_autoscaler("py-busy", "default")
    assert hpa.spec.min_replicas == 1
    assert hpa.spec.metrics[0].resource.target.average_utilization == 80
    # 100m of 50m requested is 200 %: the autoscaler goes to its maximum.
    hpa = wait_for(lambda: (lambda h: h if h.status.desired_replicas == 2 else None)(
        hpas.read_namespaced_horizontal_pod_autoscaler("py-busy", "default")), secs=120)
    conditions = {c.type: (c.status, c.reason) for c in hpa.status.conditions}
    assert conditions["ScalingActive"] == ("True", "ValidMetricFound")
    assert hpa.status.current_metrics[0].resource.current.average_utilization > 80
    hpas.delete_namespaced_horizontal_pod_autoscaler("py-busy", "default")
    apps.delete_namespaced_deployment("py-busy", "default")
