"""`scripts/test` on an ordinary developer's machine, proved on a second engine of the test's own:
a dockerd with the classic image store (the default before Docker 29) on its own socket, data
root, exec root, pidfile and bridge, never the main engine, with a loopback registry of its own.

- As root: `scripts/test` picks that engine through DOCKER_HOST, uses it as it is, and a small
  end-to-end subset passes, the docker-driver scenarios that export cache reported in one line.
- As a real unprivileged user in the group that owns the socket: nothing asks for sudo; what needs
  root (the private buildkitd, the stand-in image, an engine of our own) says so in one line with
  the command that would enable it, and the pinned moby/buildkit path says Docker Hub is out of reach.

It needs root (it starts a dockerd and makes a user) and the binaries `scripts/engine start` put in
the engine home; in CI both are there. The dockerd is stopped however the test ends.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers import REQUIRE_ENGINE
from .conftest import CLASSIC_STORE

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
ENGINE_HOME = Path(os.environ.get("BAKEGEN_ENGINE_HOME", "/var/lib/bakegen-engine"))
ENGINE_PREFIX = ENGINE_HOME / "prefix"
BRIDGE = "bkg24br0"  # its own bridge: the main engine's docker0 stays untouched
BRIDGE_CIDR = "10.231.77.1/24"
ROOT_REGISTRY, USER_REGISTRY = "127.0.0.1:5077", "127.0.0.1:5078"  # never 5000 (main) or 5031 (faults)
USER, GROUP = "bakegen-dev", "bakegen-docker"
# Small: a scenario on both builders, doctor, and the user's-state checks (the marker build on the
# engine's own BuildKit, nothing left behind).
SUBSET = ["tests/e2e/test_local_cache.py", "tests/e2e/test_doctor.py", "tests/e2e/test_zz_user_state.py"]
# The environment a developer's shell would not have: this suite's own run, CI's demands.
NOT_INHERITED = ("CI", "BAKEGEN_REQUIRE_ENGINE", "BAKEGEN_REGISTRY_ADDR", "BAKEGEN_ENGINE_HOME", "DOCKER_CONFIG",
                 "DOCKER_HOST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS")


def _need_root() -> None:
    missing = [] if os.geteuid() == 0 else ["root"]
    if not (ENGINE_PREFIX / "usr/sbin/dockerd").is_file():
        missing.append(f"dockerd in {ENGINE_PREFIX} (scripts/engine start puts it there)")
    if missing:
        message = f"not run here: a second dockerd needs {' and '.join(missing)}"
        if REQUIRE_ENGINE:
            pytest.fail(message, pytrace=False)
        pytest.skip(f"{message}; sudo scripts/test")


@dataclass(frozen=True)
class ClassicEngine:
    socket: Path
    folder: Path

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"


def _run(*args: str, timeout: int = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def classic_engine(tmp_path_factory):
    _need_root()
    folder = tmp_path_factory.mktemp("classic")
    if _run("getent", "group", GROUP).returncode != 0:
        assert _run("groupadd", "--system", GROUP).returncode == 0
    bridge = _run("ip", "link", "add", BRIDGE, "type", "bridge")
    assert bridge.returncode == 0, bridge.stderr
    log = (folder / "dockerd.log").open("w")
    dockerd, socket = None, None
    try:
        assert _run("ip", "addr", "add", BRIDGE_CIDR, "dev", BRIDGE).returncode == 0
        assert _run("ip", "link", "set", BRIDGE, "up").returncode == 0
        (folder / "daemon.json").write_text("{}\n")  # the classic store: no containerd-snapshotter feature
        # The socket where the docker group's users reach it (pytest's temp folders are root's alone).
        socket = Path(tempfile.mkdtemp(prefix="bakegen-classic-")) / "docker.sock"
        socket.parent.chmod(0o755)
        path = f"{ENGINE_PREFIX}/usr/bin:{ENGINE_PREFIX}/usr/sbin:{os.environ['PATH']}"
        dockerd = subprocess.Popen(
            [str(ENGINE_PREFIX / "usr/sbin/dockerd"), "--config-file", str(folder / "daemon.json"),
             "--data-root", str(folder / "data"), "--exec-root", str(folder / "exec"),
             "--pidfile", str(folder / "dockerd.pid"), "-H", f"unix://{socket}", "--group", GROUP,
             "--bridge", BRIDGE, "--iptables=false", "--ip6tables=false"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PATH": path}, start_new_session=True)
        engine = ClassicEngine(socket, folder)
        for _ in range(120):
            if _run("docker", "info", env={**os.environ, "DOCKER_HOST": engine.host}).returncode == 0:
                break
            assert dockerd.poll() is None, (folder / "dockerd.log").read_text()[-2000:]
            subprocess.run(["sleep", "0.25"])
        else:
            pytest.fail(f"the classic dockerd did not answer: {(folder / 'dockerd.log').read_text()[-2000:]}")
        yield engine
    finally:
        if dockerd is not None:
            dockerd.send_signal(signal.SIGTERM)
            try:
                dockerd.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(dockerd.pid, signal.SIGKILL)
                dockerd.wait()
        log.close()
        _run("ip", "link", "del", BRIDGE)
        _run("groupdel", GROUP)
        shutil.rmtree(folder / "data", ignore_errors=True)
        if socket is not None:
            shutil.rmtree(socket.parent, ignore_errors=True)


def _developer_env(engine: ClassicEngine, home: Path, registry: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    engine_home = home / "engine"
    engine_home.mkdir(parents=True, exist_ok=True)
    # The packages scripts/engine would fetch are already in the machine's engine home: linked, not
    # fetched again (read only; nothing of the main engine's state is touched).
    with contextlib.suppress(FileExistsError):
        (engine_home / "prefix").symlink_to(ENGINE_PREFIX)
    return {**env, "DOCKER_HOST": engine.host, "DOCKER_CONFIG": str(home / "docker-config"),
            "BAKEGEN_ENGINE_HOME": str(engine_home), "BAKEGEN_REGISTRY_ADDR": registry, **extra}


def _summary(output: str) -> tuple[list[str], str]:
    """pytest's short summary lines and its last line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "short test summary info" in line)
    return lines[start + 1:-1], lines[-1]


def test_scripts_test_uses_a_classic_store_engine_as_it_is(classic_engine, tmp_path):
    home = tmp_path / "root-home"
    env = _developer_env(classic_engine, home, ROOT_REGISTRY)
    try:
        done = _run(str(ROOT / "scripts/test"), *SUBSET, "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'run'}",
                    cwd=ROOT, env=env, timeout=900)
    finally:
        _run(str(ROOT / "scripts/engine"), "stop", env=env)  # its registry
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert re.search(r"using the running engine as it is: Docker [\d.]+\S*, classic image store", out), out[:2000]
    assert "containerd-snapshotter" not in out and "daemon.json" not in out  # no advice to change the daemon
    summary, last = _summary(done.stdout)
    classic = [line for line in summary if CLASSIC_STORE in line]
    # One line for every docker-driver scenario that exports cache: both local-cache scenarios'
    # docker runs are one of them, doctor's the other.
    assert len(classic) == 1 and re.match(r"SKIPPED \[2\] tests/e2e/conftest\.py:\d+: ", classic[0]), summary
    assert re.search(r"(\d+) passed", last) and int(re.search(r"(\d+) passed", last).group(1)) >= 6, last
    assert "failed" not in last and "error" not in last, last


@pytest.fixture(scope="module")
def developer(classic_engine):
    """A real unprivileged user in the group that owns the classic engine's socket."""
    made = _run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", GROUP, USER)
    assert made.returncode == 0 or "already exists" in made.stderr, made.stderr
    user = pwd.getpwnam(USER)
    yield user
    removed = _run("userdel", "--remove", USER)
    assert removed.returncode == 0, removed.stderr


def _as(user: pwd.struct_passwd, args: list[str], env: dict[str, str], cwd: Path,
        timeout: int = 900) -> subprocess.CompletedProcess:
    group = grp.getgrnam(GROUP).gr_gid
    # What a login shell of that user has: its HOME and the system's Python (root's pyenv is not theirs).
    env = {**env, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
           "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          user=user.pw_uid, group=user.pw_gid, extra_groups=[group])


def test_a_docker_group_user_needs_no_sudo(classic_engine, developer):
    home = Path(developer.pw_dir)
    clone = home / "pose-app"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__",
                                                               ".artifacts", ".pytest_cache", ".ruff_cache"))
    env = _developer_env(classic_engine, home / "state", USER_REGISTRY)
    env.pop("BAKEGEN_BUILDKITD", None)  # a clone with no shared/ beside it
    _run("chown", "-R", f"{developer.pw_uid}:{developer.pw_gid}", str(home))
    try:
        done = _as(developer, [str(clone / "scripts/test"), *SUBSET, "-p", "no:cacheprovider"], env, clone)
        standin = _as(developer, [str(clone / "scripts/engine"), "standin"], env, clone, timeout=120)
        no_engine = _as(developer, [str(clone / "scripts/engine"), "start"],
                        {**env, "DOCKER_HOST": f"unix://{home}/no-engine.sock"}, clone, timeout=120)
    finally:
        _as(developer, [str(clone / "scripts/engine"), "stop"], env, clone, timeout=120)  # its registry
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "sudo:" not in out and "Permission denied" not in out, out[-4000:]
    assert f"starting registry on {USER_REGISTRY}" in out  # the user's own, no root needed
    # The pinned image for the docker-container driver: Docker Hub is out of reach here, said once.
    assert re.search(r"private builder: moby/buildkit:v[\d.]+ cannot be pulled here \(Docker Hub out of reach", out)
    summary, last = _summary(done.stdout)
    no_builder = [line for line in summary if "no BuildKit builder of the suite's own" in line]
    assert len(no_builder) == 1 and "docker pull moby/buildkit:" in no_builder[0], summary
    assert sum(CLASSIC_STORE in line for line in summary) == 1, summary
    assert "failed" not in last and "error" not in last and re.search(r"\d+ passed", last), last
    # What needs root says what did not run and the command that would enable it, in one line.
    assert standin.returncode == 1
    assert standin.stderr.strip() == ("engine: error: need root to debootstrap the stand-in image "
                                      "local/standin-bookworm:latest: sudo scripts/engine standin")
    assert no_engine.returncode == 1
    assert no_engine.stderr.strip().splitlines()[-1] == (
        "engine: error: no Docker engine answers (DOCKER_HOST or the current context) and starting one needs root: "
        "sudo scripts/engine start")
