"""The bad-input corpus (tests/bad-requests.yaml): right code, a Status naming the problem, nothing written."""
import json
import os
import tempfile
import time

import pytest

from conftest import Cluster, load_yaml

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


# Cases that need a later chapter's code (a `chapter:` key) run against a
# cluster of that chapter; the rest against chapter 01's API server.
CHAPTER_1 = [c for c in CORPUS if c.get("chapter", 1) == 1]
LATER = [c for c in CORPUS if c.get("chapter", 1) > 1]


LATEST = max(c.get("chapter", 1) for c in CORPUS)


@pytest.fixture
def later_chapters():
    """An API server of every chapter the corpus needs (chapter 03's
    Service allocation, chapter 04's rules for pods and Secrets …) and no
    nodes: nothing writes in the background, so the revision only moves
    with the requests."""
    with tempfile.TemporaryDirectory(prefix="kubelab-pytest-") as d:
        c = Cluster(os.path.join(d, "data"), ["--chapter", str(LATEST), "--runtime", "fake", "--nodes", "0"]).start()
        try:
            settle(c)
            yield c
        finally:
            c.stop()


def settle(cluster, quiet=0.5, limit=10):
    """Waits until the start-up writes of the control loops are over."""
    deadline = time.time() + limit
    last = cluster.revision()
    while time.time() < deadline:
        time.sleep(quiet)
        now = cluster.revision()
        if now == last:
            return
        last = now


@pytest.mark.parametrize("case", LATER, ids=[c["name"] for c in LATER])
def test_bad_request_of_a_later_chapter(later_chapters, case):
    check(later_chapters, case)


@pytest.mark.parametrize("case", CHAPTER_1, ids=[c["name"] for c in CHAPTER_1])
def test_bad_request(seeded, case):
    check(seeded, case)


def check(seeded, case):
    # What the request needs to exist first (an eviction needs its pod).
    if "setup" in case:
        seeded.request("POST", case["setup"]["path"], case["setup"]["body"].encode())
        settle(seeded)
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
