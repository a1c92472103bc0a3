"""Chapter 04 through the official Python client: Secrets written with
stringData come back base64-encoded and are not on disk in any readable
form; ConfigMaps keep binaryData; a typed Secret without its keys is refused."""
import base64
import os
import tempfile

import kubernetes
import pytest
from kubernetes.client import ApiException

from conftest import Cluster


@pytest.fixture
def chapter_4():
    with tempfile.TemporaryDirectory(prefix="kubelab-pytest-") as d:
        c = Cluster(os.path.join(d, "data"), ["--chapter", "4", "--runtime", "fake", "--nodes", "0"]).start()
        try:
            yield c
        finally:
            c.stop()


def files_containing(root, needle):
    found = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            path = os.path.join(dirpath, n)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
            except OSError:
                pass
    return found


def test_secrets_round_trip_and_stay_encrypted_on_disk(chapter_4):
    api = kubernetes.config.new_client_from_config(config_file=chapter_4.kubeconfig)
    v1 = kubernetes.client.CoreV1Api(api)
    plain = "py-client-unique-4f2a91"
    v1.create_namespaced_secret("default", kubernetes.client.V1Secret(
        metadata=kubernetes.client.V1ObjectMeta(name="db"), string_data={"password": plain}))
    s = v1.read_namespaced_secret("db", "default")
    assert s.type == "Opaque"
    assert base64.b64decode(s.data["password"]).decode() == plain
    assert s.string_data is None, "stringData is write-only"
    encoded = base64.b64encode(plain.encode())
    assert files_containing(chapter_4.data_dir, plain.encode()) == []
    assert files_containing(chapter_4.data_dir, encoded) == []
    assert files_containing(os.path.join(chapter_4.data_dir, "store"), b"k8s:enc:secretbox:v1:key1:")


def test_binary_data_and_typed_secrets(chapter_4):
    api = kubernetes.config.new_client_from_config(config_file=chapter_4.kubeconfig)
    v1 = kubernetes.client.CoreV1Api(api)
    blob = base64.b64encode(bytes(range(256))).decode()
    v1.create_namespaced_config_map("default", kubernetes.client.V1ConfigMap(
        metadata=kubernetes.client.V1ObjectMeta(name="bin"), binary_data={"blob": blob}, data={"text": "hi"}))
    cm = v1.read_namespaced_config_map("bin", "default")
    assert cm.binary_data == {"blob": blob} and cm.data == {"text": "hi"}
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_secret("default", kubernetes.client.V1Secret(
            metadata=kubernetes.client.V1ObjectMeta(name="tls"), type="kubernetes.io/tls",
            data={"tls.crt": base64.b64encode(b"x").decode()}))
    assert e.value.status == 422
    assert "data[tls.key]: Required value" in e.value.body
