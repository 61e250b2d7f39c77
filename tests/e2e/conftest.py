"""End-to-end fixtures: a real engine, a loopback registry, the fixture monorepo in a temp folder."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest

from bakegen.config import load_project
from bakegen.model import BakegenError, CacheBackend
from bakegen.plan import make_plan
from bakegen.render import render_bake
from bakegen.run.engine import connect, registry_reachable

from ..helpers import REQUIRE_ENGINE

FIXTURE = Path(__file__).parent / "fixture"
REGISTRY = os.environ.get("BAKEGEN_REGISTRY_ADDR", "127.0.0.1:5000")
BUSYBOX_IMAGE = "local/busybox:latest"
HOW = "start one with `scripts/engine start` (or run `scripts/test`)"


def _unavailable(message: str):
    if REQUIRE_ENGINE:
        pytest.fail(f"{message}; the end-to-end tests must run in CI", pytrace=False)
    pytest.skip(f"{message}; {HOW}")


@pytest.fixture(scope="session")
def engine():
    try:
        client = connect()
    except BakegenError as e:
        _unavailable(str(e).split(";")[0])
    ok, detail = registry_reachable(REGISTRY)
    if not ok:
        _unavailable(f"no registry at {REGISTRY} ({detail})")
    _ensure_busybox(client)
    return client


def _ensure_busybox(client) -> None:
    """A 2 MB base image made from Debian's static busybox: nothing is pulled."""
    try:
        client.images.get(BUSYBOX_IMAGE)
        return
    except Exception:  # docker.errors.ImageNotFound
        pass
    busybox = shutil.which("busybox")
    if busybox is None:
        _unavailable("busybox is not installed (Debian: busybox-static)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in ("sh", "ls", "cat", "echo", "sleep", "dd", "mkdir", "cp", "rm", "true", "env", "wc"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for folder in ("tmp", "etc", "root"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
    repository, tag = BUSYBOX_IMAGE.split(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)


class Monorepo:
    """The fixture copied to a temp folder, with a registry namespace of its own."""

    def __init__(self, root: Path, backend: CacheBackend, heavy_seconds: int, heavy_mb: int = 200,
                 registry: str = REGISTRY):
        self.root = root
        self.run_id = uuid.uuid4().hex[:10]
        self.namespace = f"{registry.replace('127.0.0.1', 'localhost')}/e2e-{self.run_id}"
        shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
        # RUN_ID makes the heavy step new for this run, so "cold" is cold even on a warm engine.
        (root / "bakegen.toml").write_text(f"""
[project]
registry = "{self.namespace}"

[cache]
backend = "{backend.value}"
directory = ".buildx-cache"

[images]
"busybox:stable" = "docker-image://{BUSYBOX_IMAGE}"

[targets.base-heavy]
args = {{ RUN_ID = "{self.run_id}", HEAVY_SECONDS = "{heavy_seconds}", HEAVY_MB = "{heavy_mb}" }}
""")
        self.emit()

    def emit(self) -> None:
        project = load_project(self.root)
        (self.root / "docker-bake.hcl").write_text(render_bake(make_plan(project)), encoding="utf-8")
        self.images = [f"{self.namespace}/{name}:latest" for name in project.targets]
