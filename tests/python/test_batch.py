"""Chapter 08 through the official Python client: a StatefulSet read and
scaled through `read/patch_namespaced_stateful_set_scale` (the scale
subresource), its pods' stable names; an Indexed Job's status as the
client's models read it (completed indexes, conditions, the generated
selector); a CronJob listed and read with its defaults; and the 422 of a
bad schedule."""
import json
import os

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import chapter_cluster, wait_for


@pytest.fixture(scope="module")
def chapter_8():
    if os.geteuid() != 0:
        pytest.skip("pods need the linux runtime (root)")
    with chapter_cluster(8) as c:
        yield c


@pytest.fixture(scope="module")
def client(chapter_8):
    return kubernetes.config.new_client_from_config(config_file=chapter_8.kubeconfig)



def container(name, command):
    return {"name": name, "image": "busybox", "command": ["sh", "-c", command]}


def test_a_statefulset_scaled_through_its_scale_subresource(client):
    apps = kubernetes.client.AppsV1Api(client)
    core = kubernetes.client.CoreV1Api(client)
    apps.create_namespaced_stateful_set("default", {
        "metadata": {"name": "py-set"},
        "spec": {
            "serviceName": "py-set", "replicas": 2,
            "selector": {"matchLabels": {"app": "py-set"}},
            "template": {"metadata": {"labels": {"app": "py-set"}},
                         "spec": {"terminationGracePeriodSeconds": 1,
                                  "containers": [container("c", "sleep 3600")]}},
        },
    })
    wait_for(lambda: apps.read_namespaced_stateful_set("py-set", "default").status.ready_replicas == 2)
    s = apps.read_namespaced_stateful_set_scale("py-set", "default")
    assert s.spec.replicas == 2 and s.status.replicas == 2
    apps.patch_namespaced_stateful_set_scale("py-set", "default", {"spec": {"replicas": 3}})
    wait_for(lambda: apps.read_namespaced_stateful_set("py-set", "default").status.ready_replicas == 3)
    pods = core.list_namespaced_pod("default", label_selector="app=py-set").items
    assert sorted(p.metadata.name for p in pods) == ["py-set-0", "py-set-1", "py-set-2"]
    p2 = core.read_namespaced_pod("py-set-2", "default")
    assert p2.spec.hostname == "py-set-2" and p2.spec.subdomain == "py-set"
    assert p2.metadata.labels["apps.kubernetes.io/pod-index"] == "2"
    st = apps.read_namespaced_stateful_set("py-set", "default").status
    assert st.current_revision == st.update_revision and st.current_revision.startswith("py-set-")


def test_an_indexed_job_as_the_client_reads_it(client):
    batch = kubernetes.client.BatchV1Api(client)
    batch.create_namespaced_job("default", {
        "metadata": {"name": "py-indexed"},
        "spec": {
            "completions": 4, "parallelism": 2, "completionMode": "Indexed",
            "template": {"spec": {"restartPolicy": "Never",
                                  "containers": [container("c", "test $JOB_COMPLETION_INDEX -lt 4")]}},
        },
    })
    job = wait_for(lambda: (lambda j: j if j.status.completion_time else None)(
        batch.read_namespaced_job("py-indexed", "default")))
    assert job.status.succeeded == 4 and job.status.failed in (0, None)
    assert job.status.completed_indexes == "0-3"
    assert [(c.type, c.status, c.reason) for c in job.status.conditions] == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"), ("Complete", "True", "CompletionsReached")]
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "py-indexed"
    assert job.spec.manual_selector is False
    assert job.spec.pod_replacement_policy == "TerminatingOrFailed"


def test_cronjobs_listed_with_their_defaults_and_a_bad_schedule_refused(client):
    batch = kubernetes.client.BatchV1Api(client)
    template = {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                               "containers": [container("c", "true")]}}}}
    batch.create_namespaced_cron_job("default", {
        "metadata": {"name": "py-cron"},
        "spec": {"schedule": "@hourly", "timeZone": "Europe/Paris", "jobTemplate": template},
    })
    cj = batch.read_namespaced_cron_job("py-cron", "default")
    assert cj.spec.concurrency_policy == "Allow" and cj.spec.suspend is False
    assert cj.spec.successful_jobs_history_limit == 3 and cj.spec.failed_jobs_history_limit == 1
    assert [c.metadata.name for c in batch.list_namespaced_cron_job("default").items] == ["py-cron"]
    with pytest.raises(ApiException) as e:
        batch.create_namespaced_cron_job("default", {
            "metadata": {"name": "py-bad"},
            "spec": {"schedule": "0 0 * * 8", "jobTemplate": template},
        })
    assert e.value.status == 422
    status = json.loads(e.value.body)
    assert status["reason"] == "Invalid"
    assert {"field": "spec.schedule", "reason": "FieldValueInvalid",
            "message": 'Invalid value: "0 0 * * 8": end of range (8) above maximum (6): 8'} in status["details"]["causes"]
