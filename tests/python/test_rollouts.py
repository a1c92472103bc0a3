"""Chapter 09 through the official Python client: a Deployment rolled to a
new image by `patch_namespaced_deployment`, its ReplicaSets' revisions
and change cause read back, its Progressing condition as
`V1DeploymentCondition`, a restart (the `restartedAt` annotation
`kubectl rollout restart` sets) making revision 3; a StatefulSet with a
partition whose `V1StatefulSetStatus` names two revisions; ControllerRevisions
listed with `list_namespaced_controller_revision` (their `data` a patch
that replaces the template); a 422 for a rollout that could never move."""
import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import chapter_cluster, wait_for


@pytest.fixture(scope="module")
def chapter_9():
    with chapter_cluster(9, ("--nodes", "2", "--runtime", "fake")) as c:
        yield c


@pytest.fixture(scope="module")
def apps(chapter_9):
    return kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(config_file=chapter_9.kubeconfig))


def template(app, image="kubelab/web:1.0"):
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def rolled_out(apps, name, replicas):
    d = apps.read_namespaced_deployment_status(name, "default")
    s = d.status
    return (s.observed_generation == d.metadata.generation and s.updated_replicas == replicas
            and s.available_replicas == replicas and s.replicas == replicas)


def test_a_deployment_rolls_keeps_revisions_and_restarts(apps):
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "py-roll", "annotations": {"kubernetes.io/change-cause": "first"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "py-roll"}},
                 "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": template("py-roll")}})
    wait_for(lambda: rolled_out(apps, "py-roll", 3))
    apps.patch_namespaced_deployment("py-roll", "default", {
        "metadata": {"annotations": {"kubernetes.io/change-cause": "to 2.0"}},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "kubelab/web:2.0"}]}}}})
    wait_for(lambda: rolled_out(apps, "py-roll", 3))
    d = apps.read_namespaced_deployment("py-roll", "default")
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    progressing = [c for c in d.status.conditions if c.type == "Progressing"][0]
    assert progressing.status == "True" and progressing.reason == "NewReplicaSetAvailable", progressing
    rss = apps.list_namespaced_replica_set("default", label_selector="app=py-roll").items
    by_revision = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in rss}
    assert sorted(by_revision) == ["1", "2"]
    assert by_revision["1"].spec.replicas == 0 and by_revision["2"].spec.replicas == 3
    assert by_revision["1"].metadata.annotations["kubernetes.io/change-cause"] == "first"
    assert by_revision["2"].metadata.annotations["kubernetes.io/change-cause"] == "to 2.0"
    # What `kubectl rollout restart` sends: a template annotation.
    apps.patch_namespaced_deployment("py-roll", "default", {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z"}}}}})
    wait_for(lambda: rolled_out(apps, "py-roll", 3))
    assert apps.read_namespaced_deployment("py-roll", "default").metadata.annotations[
        "deployment.kubernetes.io/revision"] == "3"
    apps.delete_namespaced_deployment("py-roll", "default")


def test_a_statefulset_partition_names_two_revisions(apps):
    apps.create_namespaced_stateful_set("default", {
        "metadata": {"name": "py-db"},
        "spec": {"replicas": 3, "serviceName": "py-db", "selector": {"matchLabels": {"app": "py-db"}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                 "template": template("py-db")}})
    wait_for(lambda: (apps.read_namespaced_stateful_set_status("py-db", "default").status.ready_replicas or 0) == 3)
    apps.patch_namespaced_stateful_set("py-db", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "kubelab/web:2.0"}]}}}})

    def partitioned():
        s = apps.read_namespaced_stateful_set_status("py-db", "default").status
        return s.updated_replicas == 1 and s.ready_replicas == 3 and s.current_revision != s.update_revision
    wait_for(partitioned)
    s = apps.read_namespaced_stateful_set_status("py-db", "default").status
    assert s.current_replicas == 2 and s.update_revision.startswith("py-db-")
    revisions = apps.list_namespaced_controller_revision("default", label_selector="app=py-db").items
    assert sorted(r.revision for r in revisions) == [1, 2]
    assert {r.metadata.name for r in revisions} == {s.current_revision, s.update_revision}
    newest = max(revisions, key=lambda r: r.revision)
    assert newest.metadata.owner_references[0].kind == "StatefulSet"
    assert newest.data["spec"]["template"]["$patch"] == "replace"
    assert newest.data["spec"]["template"]["spec"]["containers"][0]["image"] == "kubelab/web:2.0"
    apps.delete_namespaced_stateful_set("py-db", "default")


def test_a_rollout_that_could_never_move_is_refused(apps):
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment("default", {
            "metadata": {"name": "py-stuck"},
            "spec": {"selector": {"matchLabels": {"app": "py-stuck"}},
                     "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
                     "template": template("py-stuck")}})
    assert e.value.status == 422
    assert "spec.strategy.rollingUpdate.maxUnavailable" in e.value.body
    assert "may not be 0 when `maxSurge` is 0" in e.value.body
