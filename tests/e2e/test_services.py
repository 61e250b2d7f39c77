"""The repository's own services, built for real from the committed bake file on a stand-in base.

The real bases (CUDA, node:18) cannot be pulled here: `scripts/engine standin` makes a Debian
image with Python (Flask, Pillow, numpy, gunicorn) and Node.js 18 + npm, and the bake file's
named contexts are pointed at it with `--set`. The web image needs the npm registry inside its
build (Vite), and base-python-pose needs CUDA images and a GPU runner: neither is built here.
Built on the docker driver only: the stand-in lives in the engine's image store (pushing its
185 MB for the private builder would test nothing more; the scenarios do that on the fixture).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from bakegen.bench.changes import appended
from bakegen.run.bake import run_bake

from .conftest import PREFIX, _unavailable

ROOT = Path(__file__).resolve().parents[2]
STANDIN = "local/standin-bookworm:latest"
PNG = bytes.fromhex(  # a valid 1x1 PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f0005"
    "0001ff5a6d4e4d0000000049454e44ae426082"
)
pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


@pytest.fixture(scope="module")
def built(engine, docker_builder, tmp_path_factory):
    # A copy of the repository: the code change below never touches the work tree.
    repo = tmp_path_factory.mktemp("repo") / "pose-app"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "tests", "*.pyc"))
    done = subprocess.run([str(ROOT / "scripts/engine"), "standin"], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        _unavailable(f"could not make the stand-in base image: {done.stderr.strip()[-300:]}")
    registry = f"localhost:5000/{PREFIX}/standin-{uuid.uuid4().hex[:8]}"
    overrides = [
        "--set", f"pose-service.contexts.base-python-pose=docker-image://{STANDIN}",
        "--set", f"backend.contexts.base-node=docker-image://{STANDIN}",
        "--set", f"backend.contexts.node:18-bookworm-slim=docker-image://{STANDIN}",
    ]
    env = {"REGISTRY": registry, "SOURCE": PREFIX}  # the label the suite cleans up by
    first = run_bake(repo, ["pose-service", "backend"], builder=docker_builder.builder, env=env, extra_args=overrides)
    assert first.ok, first.error_line()
    with appended(repo / "backend/src/server.js", f"// a code change {uuid.uuid4()}\n"):
        change = run_bake(repo, ["pose-service", "backend"], builder=docker_builder.builder, env=env,
                          extra_args=overrides)
    assert change.ok, change.error_line()
    yield registry, first, change  # its images go with the session's, once all builds are over


def test_a_code_change_rebuilds_only_that_service_after_its_copy(built):
    _, first, change = built
    assert {s.target for s in first.steps} == {"pose-service", "backend"}  # cached or not: warm engines
    assert {s.target for s in change.executed()} == {"backend"}
    assert {s.stage for s in change.executed()} <= {"build", "runtime"}
    assert all(s.cached for s in change.steps if s.stage == "deps")


def wait_healthy(container, seconds: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return time.monotonic() - start
        if container.status == "exited":
            raise AssertionError(container.logs().decode()[-2000:])
        time.sleep(0.5)
    raise AssertionError(f"not healthy after {seconds}s: {container.logs().decode()[-2000:]}")


def test_services_run_healthy_non_root_and_talk_to_each_other(built, engine):
    registry, _, _ = built
    network = engine.networks.create(f"pose-e2e-{uuid.uuid4().hex[:8]}")
    containers = []
    try:
        pose = engine.containers.run(f"{registry}/pose-service:latest", detach=True, network=network.name,
                                     name=f"pose-{uuid.uuid4().hex[:6]}", hostname="pose-service")
        containers.append(pose)
        network.disconnect(pose)
        network.connect(pose, aliases=["pose-service"])
        backend = engine.containers.run(f"{registry}/backend:latest", detach=True, network=network.name)
        containers.append(backend)
        pose_seconds = wait_healthy(pose)
        wait_healthy(backend)
        print(f"pose-service (stand-in base) healthy after {pose_seconds:.1f}s")
        assert pose.exec_run(["id", "-u"]).output.decode().strip() == "10001"
        assert backend.exec_run(["id", "-u"]).output.decode().strip() == "1000"
        for container in (pose, backend):
            found = container.exec_run(["sh", "-c", "command -v gcc g++ cc make nvcc || true"]).output.decode()
            assert found.strip() == "", found
        assert pose.exec_run(["ls", "/opt/smpl"]).output.decode().split() == ["README.md"]
        # Through the backend to the pose service: no ML stack in the stand-in, so 503 with the reason.
        script = ("fetch('http://127.0.0.1:3000/api/pose',{method:'POST',headers:{'content-type':'image/png'},"
                  f"body:Buffer.from('{PNG.hex()}','hex')}}).then(async r=>console.log(r.status,await r.text()))")
        out = backend.exec_run(["node", "-e", script]).output.decode()
        status, body = out.split(" ", 1)
        assert status == "503", out
        assert '"error":"model not ready"' in body and "ModuleNotFoundError" in body
    finally:
        for container in containers:
            container.remove(force=True)
        network.remove()
