"""Faults: the registry going away mid-build, a cache that does not exist yet, no engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakegen.model import CacheBackend
from bakegen.run.registry import reachable

from .conftest import SPARE_REGISTRY, Monorepo, _unavailable

pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


def registry_binary() -> str:
    home = os.environ.get("BAKEGEN_ENGINE_HOME", "/var/lib/bakegen-engine")
    for candidate in (shutil.which("docker-registry"), f"{home}/prefix/usr/bin/docker-registry"):
        if candidate and Path(candidate).is_file():
            return candidate
    _unavailable("docker-registry (Debian package) not found")
    raise AssertionError


@pytest.fixture
def spare_registry(tmp_path):
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {tmp_path}/data}}}}\n"
                      f"http: {{addr: {SPARE_REGISTRY}}}\n")
    process = subprocess.Popen([registry_binary(), "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(40):
        if reachable(SPARE_REGISTRY)[0]:
            break
        time.sleep(0.25)
    yield process
    process.kill()
    process.wait()


def test_registry_down_during_export_does_not_fail_the_build(engine, build_env, tmp_path, spare_registry):
    repo = Monorepo(tmp_path / "repo", CacheBackend.REGISTRY, heavy_seconds=3, heavy_mb=20, env=build_env,
                    registry_addr=SPARE_REGISTRY)

    def stop_registry_after_heavy_step(vertex) -> None:
        if "dd if=/dev/urandom" in vertex.name and spare_registry.poll() is None:
            spare_registry.kill()  # the cache imports happened; the exports are still to come

    result = repo.bake(env={"CACHE_EXPORT": "true"}, on_vertex=stop_registry_after_heavy_step)
    repo.clean_up(engine)
    assert spare_registry.poll() is not None, "the registry was never stopped"
    assert result.ok, result.error_line()
    problems = result.cache_problems()
    exports = [p for p in problems if "exporting cache to registry" in p]
    assert exports and all("connection refused" in p for p in exports), problems


def test_missing_cache_ref_is_reported_not_fatal(engine, build_env, tmp_path, spare_registry):
    repo = Monorepo(tmp_path / "repo", CacheBackend.REGISTRY, heavy_seconds=0, heavy_mb=1, env=build_env,
                    registry_addr=SPARE_REGISTRY)
    result = repo.bake(["web"])
    assert result.ok, result.error_line()
    assert any("importing cache manifest" in p and "not found" in p for p in result.cache_problems())
    # `bakegen build` says it once, as what it is: no cache yet, not a failure.
    done = subprocess.run([sys.executable, "-m", "bakegen", "build", "-q", "--builder", build_env.builder,
                           str(repo.root), "web"], capture_output=True, text=True)
    repo.clean_up(engine)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "no cache yet" in line]
    assert len(notes) == 1 and "(normal on a branch's first build)" in notes[0] and ":web-main" in notes[0]
    assert "not found" not in done.stderr


def test_no_engine_is_one_clear_line(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).parent / "fixture", repo)
    subprocess.run([sys.executable, "-m", "bakegen", "emit", str(repo)], check=True, capture_output=True)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run([sys.executable, "-m", "bakegen", "build", str(repo)], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"bakegen: error: no Docker engine answers at unix://{tmp_path}/no-engine.sock")
    assert "start the Docker engine" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    doctor = subprocess.run([sys.executable, "-m", "bakegen", "doctor"], capture_output=True, text=True, env=env)
    assert doctor.returncode == 1 and "MISS engine" in doctor.stdout
