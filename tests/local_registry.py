"""A registry process of the test's own (the distribution `docker-registry` binary scripts/engine
installs) on a loopback port of its own, data in a temp folder, stopped after: no Docker engine.
Images are pushed to it through bakegen's own registry client (blobs, then a manifest)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakegen.run.registry import Manifest, Registry

ENGINE_HOME = Path(os.environ.get("BAKEGEN_ENGINE_HOME", "/var/lib/bakegen-engine"))
BINARY = Path(os.environ.get("BAKEGEN_REGISTRY_BIN", ENGINE_HOME / "prefix/usr/bin/docker-registry"))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = BINARY if BINARY.is_file() else shutil.which("docker-registry") or shutil.which("registry")
    if not binary:
        pytest.skip(f"not run here: no registry binary at {BINARY} (`scripts/engine start` installs it)")
    address = f"127.0.0.1:{_free_port()}"
    config = folder / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {folder}/data}}\n"
                      f"  delete: {{enabled: true}}\nhttp: {{addr: {address}}}\n", encoding="utf-8")
    with open(folder / "registry.log", "wb") as log:  # the process holds its own copy of the descriptor
        process = subprocess.Popen([str(binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(80):
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                return process, address
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the registry did not answer on {address}: {(folder / 'registry.log').read_text()[-500:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def local_registry(tmp_path_factory) -> Iterator[str]:
    """HOST:PORT of a fresh registry, stopped at the end of the test."""
    process, address = start(tmp_path_factory.mktemp("registry"))
    try:
        yield address
    finally:
        stop(process)


def push_image(address: str, repository: str, tag: str, content: str, labels: dict[str, str] | None = None) -> str:
    """A one-layer OCI image whose config says `content` (and has `labels`), pushed as
    repository:tag; its digest."""
    registry = Registry(address)
    layer = content.encode() * 3
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Labels": {"content": content, **(labels or {})}},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                   "digest": registry.put_blob(repository, config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(layer),
                    "digest": registry.put_blob(repository, layer)}],
    }, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    registry.put_manifest(repository, tag, Manifest(manifest, OCI_MANIFEST, digest))
    return digest
