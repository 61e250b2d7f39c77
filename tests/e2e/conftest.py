"""End-to-end fixtures: a real engine, a loopback registry, builders the suite made, and the
fixture monorepo in a temp folder.

The suite never touches what is not its own. It builds on two builders:
- `docker`: the engine's own BuildKit (docker driver). It is the user's, so the suite never
  prunes it: pruning even one record there made an unrelated cached step of the user's run
  again (seen on dockerd 26). Scenarios that need an empty builder (fresh runner, local cache
  read after a prune) run on the private builder only. A marker built there before any test is
  found still cached by the last one; the images and registry repositories the suite made are
  removed. Its build records stay for the engine's garbage collection.
- `buildkit`: a BuildKit 0.26 builder made by `bakegen builder up` for this session (remote
  driver with a buildkitd of its own as root, else the pinned moby/buildkit image through the
  docker-container driver; state in a temp folder), pruned at will and purged at the end.

The suite runs on whatever engine answers, as it is. With the classic image store the engine's
own BuildKit cannot export cache: the scenarios marked `exports_cache` then run on the private
builder only, and their docker-driver runs are reported as not run here in one summary line (in
CI, where every scenario must run, they fail).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import docker.errors
import pytest

from bakegen import generate, load
from bakegen.model import BakegenError, CacheBackend
from bakegen.run import registry
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.builder import BUILDKIT_IMAGE, image_present
from bakegen.run.engine import connect, current_builder
from bakegen.run.scenario import cache_records, prune, remove_images

from .. import reaper
from ..helpers import REQUIRE_ENGINE, engine_facts

FIXTURE = Path(__file__).parent / "fixture"
REGISTRY = os.environ.get("BAKEGEN_REGISTRY_ADDR", "127.0.0.1:5000")
SPARE_REGISTRY = "127.0.0.1:5031"  # a registry the fault tests start and kill
BUSYBOX_IMAGE = "local/busybox:latest"
HOW = "start one with `scripts/engine start` (or run `scripts/test`)"
SESSION = uuid.uuid4().hex[:8]
# Every image and registry repository the suite makes lives under this prefix.
PREFIX = f"bakegen-test-{SESSION}"
MARKER_TEXT = f"bakegen-test-marker-{SESSION}"
# Every image the suite builds carries this label (bakegen's SOURCE), so even the untagged images
# the docker driver loads for linked bases can be found and removed.
SOURCE_LABEL = "org.opencontainers.image.source"


def _unavailable(message: str, how: str = HOW) -> NoReturn:
    """Skip with one line saying what this machine lacks and what would enable it; fail in CI.
    (One place raises every such skip, so pytest's summary folds each reason into one line.)"""
    if REQUIRE_ENGINE:
        pytest.fail(f"{message}; the end-to-end tests must run in CI", pytrace=False)
    pytest.skip(f"{message}; {how}")


# --- what this engine cannot do: one line in the summary, never a stop ------------------------------

CLASSIC_STORE = ("not run here: the engine's classic image store cannot export cache through its own BuildKit "
                 "(docker driver); these scenarios run on the private builder only")


def pytest_configure(config):
    config.addinivalue_line("markers", "exports_cache: exports cache through the builder it runs on")


def _runs_on(item, kind: str) -> bool:
    """The item builds on the engine's own BuildKit ("docker") or the private builder ("buildkit")."""
    callspec = getattr(item, "callspec", None)
    return f"{kind}_builder" in item.fixturenames or (callspec is not None and callspec.params.get("build_env") == kind)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture builds, so that each reason is one line of pytest's summary (a skip in a
    fixture is reported at every test): a scenario exporting cache through a classic-store
    engine's own BuildKit is not run (it would fail on "Cache export is not supported for the
    docker driver"), nor one on a private builder this machine cannot make."""
    if (item.get_closest_marker("exports_cache") and _runs_on(item, "docker")
            and engine_facts().get("store") == "classic"):
        if REQUIRE_ENGINE:
            pytest.fail(f"{CLASSIC_STORE}; CI runs every scenario, on the engine scripts/engine starts "
                        "(containerd image store)", pytrace=False)
        pytest.skip(CLASSIC_STORE)
    if _runs_on(item, "buildkit") and (why_not := private_builder()[1]):
        _unavailable(why_not, NO_PRIVATE_BUILDER_HOW)


def bakegen(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bakegen", *args], capture_output=True, text=True, **kwargs)


# --- the engine, and what the user had before the suite came --------------------------------------


@dataclass
class UserState:
    builder: str  # buildx's current builder: the user's
    records: frozenset[str]  # its cache records before the suite built anything
    images: frozenset[str]  # image IDs in the engine before the suite


def build_marker(builder: str, folder: Path) -> BakeResult:
    (folder / "Dockerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nRUN echo {MARKER_TEXT} > /marker\n")
    (folder / "docker-bake.hcl").write_text('target "marker" {\n  output = ["type=cacheonly"]\n}\n')
    return run_bake(folder, ["marker"], builder=builder)


@pytest.fixture(scope="session", autouse=True)
def nothing_outlives_the_run(tmp_path_factory):
    """SIGTERM unwinds like Ctrl-C, so the fixtures' own teardown runs; and a reaper in a session
    of its own stops whatever daemons still name the run's temp folder once this process has
    ended in any way (SIGKILL included), and removes the session's builders."""
    reaper.start(tmp_path_factory.getbasetemp(), PREFIX)

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    try:
        client = connect()
    except BakegenError as e:
        _unavailable(str(e).split(";")[0])
    ok, detail = registry.reachable(REGISTRY)
    if not ok:
        _unavailable(f"no registry at {REGISTRY} ({detail})")
    _ensure_busybox(client)
    images_before = frozenset(image.id for image in client.images.list(all=True))
    # A marker on the user's builder before any test: the last e2e test finds it still cached.
    builder = current_builder()
    marker = build_marker(builder, tmp_path_factory.mktemp("marker"))
    assert marker.ok, marker.error_line()
    client.user_state = UserState(builder, frozenset(cache_records(builder)), images_before)
    yield client
    remove_labelled_images(client)
    registry.delete_repositories(REGISTRY, PREFIX)


@pytest.fixture(scope="session")
def user_state(engine) -> UserState:
    return engine.user_state


def _ensure_busybox(client) -> None:
    """A 2 MB base image made from Debian's static busybox: nothing is pulled."""
    try:
        client.images.get(BUSYBOX_IMAGE)
        return
    except Exception:  # docker.errors.ImageNotFound
        pass
    repository, tag = BUSYBOX_IMAGE.split(":")
    client.api.import_image_from_data(busybox_rootfs(), repository=repository, tag=tag)


def busybox_rootfs() -> bytes:
    """A root file system tarball holding Debian's static busybox and a few applet links."""
    busybox = shutil.which("busybox")
    if busybox is None:
        _unavailable("busybox is not installed, so no base image for the fixture", "sudo apt-get install busybox-static")
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
    return buffer.getvalue()


def remove_labelled_images(client) -> None:
    """Every image the suite built (tagged or not), found by the session's source label.

    Only once every build is over (the last e2e module, and the session's end): deleting an
    image while builds go on can take snapshots the engine's BuildKit still counts on for its
    cache ("parent snapshot ... does not exist", seen with dockerd 26's containerd store).
    """
    for image in client.images.list(all=True, filters={"label": f"{SOURCE_LABEL}={PREFIX}"}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(image.id, force=True)


# --- the builders the scenarios run on ----------------------------------------------------------------


@dataclass(frozen=True)
class BuildEnv:
    """A builder to run the scenarios on, and how the fixture reaches its base image there."""

    kind: str  # "docker" or "buildkit"
    builder: str
    busybox: str  # what the fixture's `busybox:stable` becomes (bakegen's `images` remap)
    load: dict[str, str]  # environment that brings results into the engine (to run them)
    owned: bool  # made by the suite, so it may be pruned

    def forget_everything(self) -> None:
        """A fresh runner: the builder's whole cache gone. (The engine's images are nothing to a
        builder of its own, and deleting them mid-session is what `remove_labelled_images` avoids.)"""
        assert self.owned, f"{self.builder} is the user's builder: never pruned"
        prune(self.builder)


def _buildkitd_found() -> str | None:
    return os.environ.get("BAKEGEN_BUILDKITD") or shutil.which("buildkitd")


def _why_no_buildkitd(found: str | None) -> str:
    if found:
        return f"a buildkitd of the suite's own ({found}) needs root"
    return "no buildkitd (shared/buildkit/ beside the checkout, or BAKEGEN_BUILDKITD)"


def buildkitd_binary() -> str:
    """A buildkitd the suite may start itself (remote driver): found, and run as root."""
    found = _buildkitd_found()
    if not found or os.geteuid() != 0:
        _unavailable(f"not run here: {_why_no_buildkitd(found)}",
                     "sudo scripts/test, or BAKEGEN_BUILDKITD=/path/to/buildkitd (BuildKit 0.26)")
    return str(found)


@functools.cache
def private_builder() -> tuple[list[str], str]:
    """How `bakegen builder up` makes the session's BuildKit 0.26 here: a buildkitd of its own
    (root), else the pinned moby/buildkit image through the docker-container driver; else no
    arguments and why not."""
    found = _buildkitd_found()
    if found and os.geteuid() == 0:
        return ["--driver", "remote", "--buildkitd", found], ""
    if image_present(BUILDKIT_IMAGE):
        return ["--driver", "docker-container", "--image", BUILDKIT_IMAGE], ""
    return [], (f"not run here: no BuildKit builder of the suite's own: {_why_no_buildkitd(found)}, and the "
                f"engine has no {BUILDKIT_IMAGE} (Docker Hub out of reach)")


NO_PRIVATE_BUILDER_HOW = f"docker pull {BUILDKIT_IMAGE} where Docker Hub is reachable, or sudo scripts/test with shared/buildkit/"


@pytest.fixture(scope="session")
def buildkit_builder(engine, tmp_path_factory):
    """A BuildKit 0.26 builder of the session's own, made by `bakegen builder up`."""
    driver, why_not = private_builder()
    if why_not:
        _unavailable(why_not, NO_PRIVATE_BUILDER_HOW)
    name, state = f"{PREFIX}-bk", tmp_path_factory.mktemp("builder")
    loopback = {SPARE_REGISTRY, REGISTRY, REGISTRY.replace("127.0.0.1", "localhost")}
    insecure = [arg for host in sorted(loopback) for arg in ("--insecure-registry", host)]
    up = bakegen("builder", "up", "--name", name, *driver, "--state", str(state), *insecure, "--max-storage", "5GB")
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[-1] == name
    # Its bases come from the loopback registry: it cannot see the engine's images.
    pushed = f"{REGISTRY}/{PREFIX}/busybox"
    engine.images.get(BUSYBOX_IMAGE).tag(pushed, "latest")
    engine.images.push(pushed, tag="latest")
    remove_images(engine, [f"{pushed}:latest"])
    yield BuildEnv("buildkit", name, f"docker-image://{pushed}:latest", {"LOAD": "true"}, owned=True)
    down = bakegen("builder", "down", "--name", name, "--state", str(state), "--purge")
    assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def docker_builder(engine, user_state) -> BuildEnv:
    """The engine's own BuildKit: the user's, never pruned."""
    name = subprocess.run(["docker", "context", "show"], capture_output=True, text=True).stdout.strip() or "default"
    return BuildEnv("docker", name, f"docker-image://{BUSYBOX_IMAGE}", {}, owned=False)


@pytest.fixture(scope="session", params=["docker", "buildkit"])
def build_env(request) -> BuildEnv:
    return request.getfixturevalue(f"{request.param}_builder")


# --- the fixture monorepo ---------------------------------------------------------------------------


class Monorepo:
    """The fixture copied to a temp folder, with a registry namespace of its own."""

    def __init__(self, root: Path, backend: CacheBackend, heavy_seconds: int, env: BuildEnv,
                 heavy_mb: int = 200, registry_addr: str = REGISTRY):
        self.root = root
        self.env = env
        self.run_id = uuid.uuid4().hex[:10]
        self.registry = registry_addr.replace("127.0.0.1", "localhost")
        self.repository_prefix = f"{PREFIX}/{env.kind}-{self.run_id}"
        self.namespace = f"{self.registry}/{self.repository_prefix}"
        shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
        # RUN_ID makes the heavy step new for this run, so "cold" is cold even on a warm engine.
        (root / "bakegen.toml").write_text(f"""
[project]
registry = "{self.namespace}"
source = "{PREFIX}"

[cache]
backend = "{backend.value}"
directory = ".buildx-cache"

[images]
"busybox:stable" = "{env.busybox}"

[targets.base-heavy]
args = {{ RUN_ID = "{self.run_id}", HEAVY_SECONDS = "{heavy_seconds}", HEAVY_MB = "{heavy_mb}" }}
""")
        self.emit()

    def emit(self) -> None:
        (self.root / "docker-bake.hcl").write_text(generate(self.root), encoding="utf-8")
        self.images = [f"{self.namespace}/{name}:latest" for name in load(self.root).targets]

    def bake(self, targets=(), *, load: bool = False, env: dict[str, str] | None = None, **kwargs) -> BakeResult:
        """Bake on this monorepo's builder; `load` brings the images into the engine."""
        extra = {**(self.env.load if load else {}), **(env or {})}
        return run_bake(self.root, targets, builder=self.env.builder, env=extra, **kwargs)

    def forget_everything(self, client) -> None:
        self.env.forget_everything()

    def clean_up(self, client) -> None:
        """Remove the registry repositories this monorepo made (its images go at the end)."""
        addr = self.registry.replace("localhost", "127.0.0.1")
        if registry.reachable(addr)[0]:
            registry.delete_repositories(addr, self.repository_prefix)
