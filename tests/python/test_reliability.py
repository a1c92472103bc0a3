"""Reliability: durability under kill -9, no lost updates, watches that never miss or repeat."""
import json
import os
import signal
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import Cluster

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize("store", ["embedded", "etcd"])
def test_acknowledged_writes_survive_kill_9(store, request):
    """Clients write while the server is killed with SIGKILL, again and again.
    After every restart each write that got a 2xx is there with the revision
    it was acknowledged at, and revisions only go forward. On both stores:
    the embedded one, and a three-member etcd cluster (`--store etcd://…`)."""
    rounds = int(os.environ.get("KUBELAB_KILL_ROUNDS", "20"))
    extra = []
    if store == "etcd":
        extra = ["--store", f"{request.getfixturevalue('etcd_url')}/kubelab-kill9-{os.getpid()}-{time.time_ns()}"]
    with tempfile.TemporaryDirectory(prefix="kubelab-kill-") as d:
        c = Cluster(os.path.join(d, "data"), extra)
        acked = {}  # name -> resourceVersion from the 201
        last_revision = 0
        for r in range(rounds):
            c.start()
            assert c.revision() >= last_revision, "revision went backwards after a restart"
            stop = threading.Event()

            def writer(w):
                n = 0
                while not stop.is_set():
                    name = f"r{r}-w{w}-{n}"
                    n += 1
                    try:
                        status, out = c.request("POST", CMS, {"metadata": {"name": name}, "data": {"n": str(n)}}, timeout=2)
                    except OSError:
                        return  # the server died mid-request: not acknowledged
                    if status == 201:
                        acked[name] = out["metadata"]["resourceVersion"]

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.4)
            c.stop(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join()
            c.start()
            status, listed = c.request("GET", CMS)
            have = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listed["items"]}
            missing = [n for n in acked if n not in have]
            assert not missing, f"round {r}: acknowledged writes lost: {missing[:5]}"
            changed = [n for n in acked if have[n] != acked[n]]
            assert not changed, f"round {r}: resourceVersions changed: {changed[:5]}"
            last_revision = c.revision()
            assert last_revision >= max(int(v) for v in acked.values())
            c.stop()
        print(f"{store}: {len(acked)} acknowledged writes survived {rounds} kill -9 restarts")
        assert len(acked) > rounds * 10, "too few writes to mean anything"


def test_concurrent_updates_lose_nothing(cluster):
    """16 clients increment one counter with read-modify-write and resourceVersion
    preconditions: every successful write counts once, losers get 409."""
    status, _ = cluster.request("POST", CMS, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    assert status == 201
    successes, conflicts = [], []

    def worker():
        for _ in range(15):
            _, cm = cluster.request("GET", CMS + "/counter")
            cm["data"]["n"] = str(int(cm["data"]["n"]) + 1)
            status, out = cluster.request("PUT", CMS + "/counter", cm)
            if status == 200:
                successes.append(1)
            else:
                assert status == 409 and out["reason"] == "Conflict", out
                conflicts.append(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, cm = cluster.request("GET", CMS + "/counter")
    assert int(cm["data"]["n"]) == len(successes)
    assert len(successes) + len(conflicts) == 16 * 15
    assert conflicts, "16 racing writers should produce at least one conflict"


def stream_watch(cluster, rv, timeout_seconds):
    """Yields watch events from rv until the server closes the stream."""
    req = urllib.request.Request(
        f"{cluster.url}{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds={timeout_seconds}&allowWatchBookmarks=true")
    req.add_header("Authorization", f"Bearer {cluster.token}")
    with urllib.request.urlopen(req, context=cluster.ssl, timeout=30) as r:
        for line in r:
            yield json.loads(line)


def test_reconnecting_watcher_sees_every_event_exactly_once(cluster):
    _, listed = cluster.request("GET", CMS)
    rv = listed["metadata"]["resourceVersion"]
    total = 150

    def writer():
        cluster.request("POST", CMS, {"metadata": {"name": "seq"}, "data": {"i": "0"}})
        for i in range(1, total):
            cluster.request("PATCH", CMS + "/seq", {"data": {"i": str(i)}}, content_type="application/merge-patch+json")
            time.sleep(0.005)

    t = threading.Thread(target=writer)
    t.start()
    seen, reconnects = [], 0
    deadline = time.time() + 30
    while len(seen) < total and time.time() < deadline:
        reconnects += 1
        # Short watches: the server ends each after a second, and the
        # watcher resumes from the last resourceVersion it saw.
        for ev in stream_watch(cluster, rv, 1):
            rv = ev["object"]["metadata"]["resourceVersion"]
            if ev["type"] in ("ADDED", "MODIFIED"):
                seen.append(int(ev["object"]["data"]["i"]))
    t.join()
    assert seen == list(range(total)), f"gaps or repeats after {reconnects} reconnects"
    assert reconnects > 1


@pytest.mark.parametrize("store", ["embedded", "etcd"])
def test_watch_from_a_compacted_revision_is_410_expired(store, request):
    extra = ["--compaction-interval", "1"]
    if store == "etcd":  # the compaction is etcd's own
        extra += ["--store", f"{request.getfixturevalue('etcd_url')}/kubelab-compact-{os.getpid()}"]
    with tempfile.TemporaryDirectory(prefix="kubelab-compact-") as d:
        c = Cluster(os.path.join(d, "data"), extra).start()
        try:
            first = None
            for i in range(3):
                status, out = c.request("POST", CMS, {"metadata": {"name": f"c{i}"}})
                assert status == 201
                first = first or out["metadata"]["resourceVersion"]
            time.sleep(2.5)  # two intervals: everything before the first is compacted
            status, out = c.request("GET", CMS + f"?watch=true&resourceVersion={int(first) - 1}")
            assert status == 410 and out["reason"] == "Expired", out
            # A fresh list + watch still works.
            _, listed = c.request("GET", CMS)
            assert [i["metadata"]["name"] for i in listed["items"]] == ["c0", "c1", "c2"]
        finally:
            c.stop()
