"""Cache and image compression on the private BuildKit 0.26 builder: gzip and zstd side by side.

Asserts what is deterministic: the layers in the registry are compressed as configured (cache
layers the build made, and every layer of a pushed image, base layers included, thanks to
force-compression). With BAKEGEN_FIGURES=FILE it also writes, for each algorithm, the time
of the cold build (which compresses: cache export, and the push with force-compression), the
bytes the cache holds in the registry (distinct blobs) and the time for a fresh runner to
import it and load the images;
BAKEGEN_COMPRESSION_MB sets the payload (default 8 MB; the README's figures use 300, repeated).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

from bakegen import generate
from bakegen.run import registry
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.scenario import prune

from ..helpers import write_tree
from .conftest import PREFIX, REGISTRY

pytestmark = pytest.mark.engine
PAYLOAD_MB = int(os.environ.get("BAKEGEN_COMPRESSION_MB", "8"))
REPEAT = int(os.environ.get("BAKEGEN_COMPRESSION_REPEAT", "1"))
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def repo_for(root, algorithm: str, busybox: str, run: str):
    # The payload is a hex dump of random bytes: no long repeats, and it compresses about 2:1,
    # as native libraries and Python packages do.
    namespace = f"localhost:5000/{PREFIX}/compression-{algorithm}-{run}"
    write_tree(root, {
        "docker/base-payload/Dockerfile": (
            f"FROM busybox:stable\nARG RUN={run}\n"
            f"RUN echo $RUN > /run && dd if=/dev/urandom bs=1M count={PAYLOAD_MB} 2>/dev/null "
            "| od -An -tx1 > /payload\n"
        ),
        "svc/Dockerfile": "FROM base-payload\nCOPY app.txt /app.txt\n",
        "svc/app.txt": "app\n",
        "bakegen.toml": (
            f'[project]\nregistry = "{namespace}"\nsource = "{PREFIX}"\n'
            f'[cache]\ncompression = "{algorithm}"\n[images]\n"busybox:stable" = "{busybox}"\n'
        ),
    })
    (root / "docker-bake.hcl").write_text(generate(root))
    return namespace


def get_json(path: str, accept: str) -> dict:
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def layers(repository: str, tag: str) -> list[dict]:
    manifest = get_json(f"{repository}/manifests/{tag}", f"{MANIFEST}, {INDEX}")
    if manifest.get("mediaType") == INDEX:  # an image index: the linux/amd64 manifest of it
        first = next(m for m in manifest["manifests"] if m.get("platform", {}).get("os") == "linux")
        manifest = get_json(f"{repository}/manifests/{first['digest']}", MANIFEST)
    return manifest["layers"]


def export_seconds(result: BakeResult) -> float:
    return sum(v.seconds for v in result.vertices if "exporting cache" in v.name)


@pytest.fixture(scope="module")
def measured(engine, buildkit_builder, tmp_path_factory):
    builder = buildkit_builder.builder
    figures: dict[str, list[dict]] = {"gzip": [], "zstd": []}
    namespaces: dict[str, str] = {}
    try:
        for attempt in range(REPEAT):
            for algorithm in ("gzip", "zstd"):  # interleaved: the machine's noise hits both alike
                root = tmp_path_factory.mktemp(f"{algorithm}{attempt}")
                namespace = repo_for(root, algorithm, buildkit_builder.busybox, f"{attempt}-{os.urandom(3).hex()}")
                namespaces[algorithm] = namespace
                prune(builder)
                cold = run_bake(root, builder=builder, env={"CACHE_EXPORT": "true", "PUSH": "true"})
                assert cold.ok, cold.error_line()
                prune(builder)  # a fresh runner: nothing but the registry
                start = time.perf_counter()
                fresh = run_bake(root, builder=builder, env={"LOAD": "true"})
                fresh_seconds = time.perf_counter() - start
                assert fresh.ok, fresh.error_line()
                assert fresh.executed() == []
                stored = registry.stored_bytes(REGISTRY, namespace.split("/", 1)[1] + "/build-cache")
                figures[algorithm].append({"cold_s": round(cold.seconds, 2), "export_s": round(export_seconds(cold), 2),
                                           "stored_mb": round(stored / 1e6, 2), "fresh_s": round(fresh_seconds, 2)})
        if os.environ.get("BAKEGEN_FIGURES"):
            with open(os.environ["BAKEGEN_FIGURES"], "a", encoding="utf-8") as f:
                f.write(json.dumps({"scenario": "compression", "payload_mb": PAYLOAD_MB, **figures}) + "\n")
        yield namespaces
    finally:
        registry.delete_repositories(REGISTRY, f"{PREFIX}/compression-")


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_cache_layers_the_build_made_are_compressed_as_configured(measured, algorithm):
    cache_repo = measured[algorithm].split("/", 1)[1] + "/build-cache"
    payload = max(layers(cache_repo, "base-payload-main"), key=lambda layer: layer["size"])
    assert payload["mediaType"] == f"application/vnd.oci.image.layer.v1.tar+{algorithm}"


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_every_layer_of_a_pushed_image_is_recompressed(measured, algorithm):
    repository = measured[algorithm].split("/", 1)[1] + "/svc"
    found = {layer["mediaType"] for layer in layers(repository, "latest")}
    assert found == {f"application/vnd.oci.image.layer.v1.tar+{algorithm}"}  # busybox's layer too
