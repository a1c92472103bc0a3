"""The bad-input corpus (tests/bad-requests.yaml): right code, a Status naming the problem, nothing written."""
import json
import os

import pytest

from conftest import load_yaml

CORPUS = load_yaml(os.path.join(os.path.dirname(__file__), "..", "bad-requests.yaml"))

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "existing"},
              "spec": {"selector": {"matchLabels": {"app": "existing"}},
                       "template": {"metadata": {"labels": {"app": "existing"}},
                                    "spec": {"containers": [{"name": "web", "image": "kubelab/web:1.0"}]}}}}


@pytest.fixture
def seeded(cluster):
    for path, body in [("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "existing"}, "data": {"k": "v"}}),
                       ("/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)]:
        status, out = cluster.request("POST", path, body)
        assert status == 201, out
    return cluster


def test_corpus_is_well_formed():
    assert len(CORPUS) >= 30
    for case in CORPUS:
        assert {"name", "method", "path", "status"} <= case.keys(), case


def body_of(case):
    if "body_size" in case:
        return json.dumps({"metadata": {"name": "big"}, "data": {"blob": "x" * case["body_size"]}}).encode()
    return case.get("body", "").encode() if "body" in case else None


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_bad_request(seeded, case):
    before = seeded.revision()
    status, out = seeded.request(case["method"], case["path"], body_of(case),
                                 content_type=case.get("content_type", "application/json"))
    assert status == case["status"], out
    if status >= 400:
        assert out["kind"] == "Status" and out["status"] == "Failure" and out["code"] == status, out
        assert out["reason"] == case["reason"], out
        if "message" in case:
            assert case["message"] in out["message"], out["message"]
        if "field" in case:
            fields = [c["field"] for c in out["details"]["causes"]]
            assert case["field"] in fields, out
    # No partial write: the store revision did not move.
    assert seeded.revision() == before, case["name"]
