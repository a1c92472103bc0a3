"""Fixtures: a real `kubelab up` process per test module, and raw HTTP access to it.

KUBELAB_BIN names the binary (tests/run.sh sets it).
"""
import contextlib
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import yaml


class Cluster:
    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        # These tests are about the API (chapter 01): no nodes, whose
        # heartbeats would move the store's revision under the tests' feet.
        self.extra_args = list(extra_args) if "--chapter" in extra_args else ["--chapter", "1", *extra_args]
        self.proc = None
        self.url = None

    def start(self):
        binary = os.environ.get("KUBELAB_BIN", "target/debug/kubelab")
        self.proc = subprocess.Popen(
            [binary, "up", "--port", "0", "--data-dir", self.data_dir, *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = self.proc.stdout.readline()
        assert first.startswith("kubelab is up"), first
        self.url = first.split()[-1]
        self.kubeconfig = os.path.join(self.data_dir, "kubeconfig")
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            self.token = f.read().strip()
        self.ssl = ssl.create_default_context(cafile=os.path.join(self.data_dir, "pki", "ca.crt"))
        deadline = time.time() + 20
        while True:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            assert time.time() < deadline, "kubelab did not become ready"
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        self.proc = None

    def request(self, method, path, body=None, content_type="application/json", headers=None, timeout=10):
        """Returns (status, parsed JSON or text)."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def revision(self):
        """The store's current revision, as a list reports it."""
        status, body = self.request("GET", "/api/v1/namespaces")
        assert status == 200, body
        return int(body["metadata"]["resourceVersion"])


@pytest.fixture
def cluster():
    with tempfile.TemporaryDirectory(prefix="kubelab-pytest-") as d:
        c = Cluster(os.path.join(d, "data")).start()
        try:
            yield c
        finally:
            c.stop()


@pytest.fixture(scope="session")
def etcd_url():
    """A real three-member etcd cluster: the one tests/run.sh started
    (KUBELAB_ETCD), or one of our own (`kubelab etcd`)."""
    if os.environ.get("KUBELAB_ETCD"):
        yield os.environ["KUBELAB_ETCD"]
        return
    binary = os.environ.get("KUBELAB_BIN", "target/debug/kubelab")
    with tempfile.TemporaryDirectory(prefix="kubelab-etcd-pytest-") as d:
        proc = subprocess.Popen([binary, "etcd", "--port", "0", "--data-dir", os.path.join(d, "etcd")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = proc.stdout.readline()
        assert first.startswith("etcd is up"), first
        try:
            yield first.split()[-1]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)


@pytest.fixture
def client(cluster):
    """The official Python client, configured from kubelab's kubeconfig."""
    import kubernetes
    api = kubernetes.config.new_client_from_config(config_file=cluster.kubeconfig)
    return api


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


@contextlib.contextmanager
def chapter_cluster(chapter, extra=("--nodes", "1")):
    """A `kubelab up --chapter N` cluster on a fresh data dir, stopped and
    removed at the end (the chapter tests' module fixtures)."""
    with tempfile.TemporaryDirectory(prefix="kubelab-pytest-") as d:
        c = Cluster(os.path.join(d, "data"), ["--chapter", str(chapter), *extra]).start()
        try:
            yield c
        finally:
            c.stop()


def wait_for(f, secs=60):
    """`f()`'s first truthy value, polled every 0.2 s; fails after `secs`."""
    deadline = time.time() + secs
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")
