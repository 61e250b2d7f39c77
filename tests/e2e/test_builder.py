"""`bakegen builder up/status/down` with a real buildkitd (remote driver): idempotent, cache kept
across down/up, nothing half made on bad input, the user's current builder never changed."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest

from bakegen.run import registry
from bakegen.run.builder import inspect

from .conftest import PREFIX, REGISTRY, _unavailable, bakegen, buildkitd_binary

pytestmark = pytest.mark.engine


def current_builder() -> str:
    out = subprocess.run(["docker", "buildx", "inspect"], capture_output=True, text=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Name:"))


@pytest.fixture
def name(engine):
    """A builder name of this test's own; whatever the test leaves is removed."""
    made = f"{PREFIX}-t{os.urandom(3).hex()}"
    yield made
    subprocess.run(["docker", "buildx", "rm", made], capture_output=True)


def running(pid: int) -> bool:
    """A live process (a zombie left for an init that does not reap is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def bake_one_step(builder: str, folder: Path, text: str):
    from bakegen.run.bake import run_bake

    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(f"FROM scratch\nCOPY step.txt /{text}\n")
    (folder / "step.txt").write_text(text)
    (folder / "docker-bake.hcl").write_text('target "one" {\n  output = ["type=cacheonly"]\n}\n')
    result = run_bake(folder, ["one"], builder=builder)
    assert result.ok, result.error_line()
    return [v for v in result.vertices if "COPY step.txt" in v.name]


def test_up_is_idempotent_and_the_cache_survives_down_and_up(name, tmp_path):
    state = tmp_path / "state"
    before = current_builder()
    args = ["builder", "up", "--name", name, "--buildkitd", buildkitd_binary(), "--state", str(state)]
    first = bakegen(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == name
    assert (state / "builder.json").is_file() and (state / "buildkitd.toml").is_file()
    config = (state / "buildkitd.toml").read_text()
    assert '[registry."127.0.0.1:5000"]\n  http = true' in config and 'maxUsedSpace = "20GB"' in config
    pid = int((state / "buildkitd.pid").read_text())

    again = bakegen(*args)
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == name
    assert int((state / "buildkitd.pid").read_text()) == pid  # reused, not restarted

    status = bakegen("builder", "status", "--name", name, "--state", str(state))
    assert status.returncode == 0, status.stderr
    assert "driver:    remote" in status.stdout and "buildkit:  v0.26.3" in status.stdout
    assert f"endpoint:  unix://{state}/buildkitd.sock" in status.stdout
    assert "disk used:" in status.stdout and f"buildkitd pid {pid}" in status.stdout

    assert not bake_one_step(name, tmp_path / "ctx", "kept")[0].cached
    down = bakegen("builder", "down", "--name", name, "--state", str(state))
    assert down.returncode == 0, down.stderr
    assert inspect(name) is None and not running(pid)
    assert (state / "root").is_dir()  # state kept

    back = bakegen(*args)
    assert back.returncode == 0, back.stderr
    assert bake_one_step(name, tmp_path / "ctx", "kept")[0].cached  # the cache came back with the state

    purge = bakegen("builder", "down", "--name", name, "--state", str(state), "--purge")
    assert purge.returncode == 0, purge.stderr
    assert not state.exists() and inspect(name) is None
    assert current_builder() == before  # never switched the user's current builder


def test_a_stopped_buildkitd_is_started_again_by_up(name, tmp_path):
    state = tmp_path / "state"
    args = ["builder", "up", "--name", name, "--buildkitd", buildkitd_binary(), "--state", str(state)]
    assert bakegen(*args).returncode == 0
    os.kill(int((state / "buildkitd.pid").read_text()), 9)
    status = bakegen("builder", "status", "--name", name, "--state", str(state))
    assert status.returncode == 1  # not running
    again = bakegen(*args)
    assert again.returncode == 0, again.stderr
    assert "starting it again" in again.stderr
    assert inspect(name).running
    assert bakegen("builder", "down", "--name", name, "--state", str(state), "--purge").returncode == 0


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """Exit 2 and one error line, the last (progress lines may come before it), no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("bakegen: error: ")]
    assert errors == lines[-1:] and "Traceback" not in done.stderr, done.stderr
    return lines[-1]


def assert_nothing_made(name: str, state: Path) -> None:
    assert inspect(name) is None
    assert not state.exists()
    assert not [p for p in Path("/proc").glob("[0-9]*") if str(state).encode() in _cmdline(p)]


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_a_buildkitd_that_will_not_start_leaves_nothing(name, tmp_path):
    broken = tmp_path / "bin" / "buildkitd"
    broken.parent.mkdir()
    broken.write_text('#!/bin/sh\necho \'time="x" level=fatal msg="no worker could start"\' >&2\nexit 1\n')
    broken.chmod(0o755)
    state = tmp_path / "state"
    done = bakegen("builder", "up", "--name", name, "--buildkitd", str(broken), "--state", str(state))
    assert "buildkitd exited at start (code 1): no worker could start" in one_line_error(done)
    assert_nothing_made(name, state)


def test_a_port_in_use_is_refused_and_leaves_nothing(name, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = tmp_path / "state"
        done = bakegen("builder", "up", "--name", name, "--buildkitd", buildkitd_binary(), "--state", str(state),
                       "--addr", f"tcp://127.0.0.1:{port}")
        assert f"port {port} is in use" in one_line_error(done)
    assert_nothing_made(name, state)


@pytest.mark.parametrize(("args", "message"), [
    (["--driver", "kubernetes"], "Invalid value for '--driver': 'kubernetes' is not one of 'docker-container', 'remote'"),
    (["--name", "bad name"], "--name 'bad name': letters, digits"),
    (["--addr", "tcp://10.0.0.1:1234"], "plain TCP only on loopback"),
    (["--max-storage", "lots"], "--max-storage 'lots': expected a size"),
    (["--insecure-registry", "no port"], "--insecure-registry 'no port': expected HOST:PORT"),
    (["--buildkitd", "/nonexistent/buildkitd"], "--buildkitd /nonexistent/buildkitd: not an executable file"),
])
def test_bad_input_is_one_line_and_changes_nothing(name, tmp_path, args, message):
    state = tmp_path / "state"
    done = bakegen("builder", "up", "--name", name, "--state", str(state), *args)
    assert message in one_line_error(done)
    assert not state.exists()


def test_down_leaves_builders_it_did_not_make(engine, tmp_path):
    done = bakegen("builder", "down", "--name", current_builder(), "--state", str(tmp_path / "none"))
    assert "was not made by `bakegen builder up`" in one_line_error(done)


@pytest.fixture(scope="module")
def buildkit_image(engine):
    """A stand-in for moby/buildkit:v0.26.3 (Docker Hub is out of reach here): the same static
    buildkitd with runc and its libraries, pushed to the loopback registry."""
    binary = Path(buildkitd_binary())
    runc = shutil.which("runc")
    if runc is None:
        _unavailable("runc is not installed")
    buildctl = binary.with_name("buildctl")  # buildx asks `buildctl debug workers` whether it is up
    if not buildctl.is_file():
        _unavailable(f"no buildctl beside {binary}")
    files = {"usr/bin/buildkitd": binary, "usr/bin/buildctl": buildctl, "usr/bin/runc": Path(runc)}
    ldd = subprocess.run(["ldd", runc], capture_output=True, text=True).stdout
    for lib in (word for line in ldd.splitlines() for word in line.split() if word.startswith("/")):
        files[lib.lstrip("/")] = Path(lib).resolve()
    paths = [*files, "var/lib/buildkit/", "etc/buildkit/", "tmp/", "run/"]
    folders = {str(p) for path in paths for p in [Path(path), *Path(path).parents] if path.endswith("/") or p != Path(path)}
    folders.discard(".")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in sorted(folders):  # parents first, each 0755 (an import makes missing ones unreadable)
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for arcname, path in files.items():
            tar.add(path, arcname=arcname)
    image = f"127.0.0.1:5000/{PREFIX}/buildkit:v0.26.3"
    done = subprocess.run(["docker", "import", "--change", 'ENTRYPOINT ["buildkitd"]', "-", image],
                          input=buffer.getvalue(), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert subprocess.run(["docker", "push", "-q", image], capture_output=True).returncode == 0
    yield image
    subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)
    registry.delete_repositories(REGISTRY, f"{PREFIX}/buildkit")


def test_docker_container_driver_keeps_its_cache_in_a_volume_until_purged(name, tmp_path, buildkit_image):
    state = tmp_path / "state"
    up = bakegen("builder", "up", "--name", name, "--driver", "docker-container", "--image", buildkit_image,
                 "--state", str(state))
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[-1] == name
    info = inspect(name)
    assert info.driver == "docker-container" and info.buildkit == "v0.26.3"
    assert not bake_one_step(name, tmp_path / "ctx", "in-a-volume")[0].cached
    assert bakegen("builder", "down", "--name", name, "--state", str(state)).returncode == 0
    volume = f"buildx_buildkit_{name}0_state"
    assert subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode == 0
    again = bakegen("builder", "up", "--name", name, "--state", str(state))  # the image comes from the state
    assert again.returncode == 0, again.stderr
    assert bake_one_step(name, tmp_path / "ctx", "in-a-volume")[0].cached
    assert bakegen("builder", "down", "--name", name, "--state", str(state), "--purge").returncode == 0
    assert subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode != 0
    assert not state.exists()
