"""scripts/engine recognises the engine it finds from `docker info` and uses it as it is.

Rootless Docker and Docker Desktop cannot run on these machines: their `docker info` is replayed
from recordings (tests/fixtures/docker-info/, see its README) through a stand-in `docker` on PATH,
so the real script reads them exactly as it reads a live engine. The classic and containerd
recordings come from real engines here (and tests/e2e/test_any_engine.py runs a live classic one).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .helpers import ENGINE_SCRIPT, parse_engine_facts

RECORDED = Path(__file__).parent / "fixtures" / "docker-info"

# A `docker` that answers `info --format {{json .}}` with a recording and `buildx version` like
# buildx 0.13; every other call fails as with no engine. Nothing may try to start or change one.
FAKE_DOCKER = """#!/bin/sh
case "$1 $2" in
  "info --format") cat "$RECORDED_INFO" ;;
  "buildx version") echo "github.com/docker/buildx v0.17.1 1234567" ;;
  *) echo "fake docker: $*" >> "$CALLS"; exit 1 ;;
esac
"""
# The registry answers (scripts/engine asks with curl): nothing is started.
FAKE_CURL = "#!/bin/sh\nexit 0\n"


def replay(tmp_path: Path, recording: str, *args: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("docker", FAKE_DOCKER), ("curl", FAKE_CURL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORDED_INFO": str(RECORDED / recording),
           "CALLS": str(tmp_path / "calls"), "BAKEGEN_ENGINE_HOME": str(tmp_path / "home"),
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    env.pop("CI", None)
    return subprocess.run([str(ENGINE_SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(("recording", "facts"), [
    ("classic-overlay2.json", {"store": "classic", "kind": "engine", "version": "26.1.5+dfsg1"}),
    ("containerd-store.json", {"store": "containerd", "kind": "engine", "version": "26.1.5+dfsg1"}),
    ("rootless.json", {"store": "classic", "kind": "rootless", "version": "27.3.1"}),
    ("docker-desktop.json", {"store": "containerd", "kind": "desktop", "version": "27.3.1"}),
])
def test_describe_reads_store_and_kind_from_docker_info(tmp_path, recording, facts):
    done = replay(tmp_path, recording, "describe")
    assert done.returncode == 0, done.stderr
    assert parse_engine_facts(done.stdout) == facts


@pytest.mark.parametrize(("recording", "line"), [
    ("classic-overlay2.json", "engine: using the running engine as it is: Docker 26.1.5+dfsg1, classic image store "
                              "(cache export through its own BuildKit is left to the private builder)"),
    ("containerd-store.json", "engine: using the running engine as it is: Docker 26.1.5+dfsg1, containerd image store"),
    ("rootless.json", "engine: using the running engine as it is: rootless Docker 27.3.1, classic image store "
                      "(cache export through its own BuildKit is left to the private builder)"),
    ("docker-desktop.json", "engine: using the running engine as it is: Docker Desktop 27.3.1, containerd image store"),
])
def test_start_uses_whatever_engine_answers_as_it_is(tmp_path, recording, line):
    done = replay(tmp_path, recording, "start")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == line
    # Never a stop, never advice to change the daemon, no engine of its own started, no sudo.
    assert "error" not in done.stderr and "daemon.json" not in done.stdout + done.stderr
    assert not (tmp_path / "home" / "dockerd.pid").exists()
    assert not (tmp_path / "calls").exists(), (tmp_path / "calls").read_text()

