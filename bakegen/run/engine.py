"""What this machine can build with: engine, buildx, cache export, named contexts, registry, GPU."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bakegen import command
from bakegen.model import BakegenError
from bakegen.run.bake import ENGINE_BUG_6521
from bakegen.run.builder import MIN_BUILDKIT, BuilderInfo, inspect
from bakegen.run.registry import reachable

START_ENGINE = ("start the Docker engine (`sudo systemctl start docker`), or install it: "
                "https://docs.docker.com/engine/install/")
MIN_BUILDX = (0, 13)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    advice: str = ""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def connect() -> docker.DockerClient:
    """A client of a running engine, or a clear error saying how to get one."""
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except docker.errors.DockerException as e:
        reason = str(e).split("(")[0].strip().rstrip(":") or type(e).__name__
        raise BakegenError(f"no Docker engine answers at {engine_address()} ({reason}); {START_ENGINE}") from None


def buildx_version() -> tuple[int, ...] | None:
    if shutil.which("docker") is None:
        return None
    done = command.run(["docker", "buildx", "version"], check=False, timeout=30)
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", done.stdout) if done.returncode == 0 else None
    return tuple(int(x) for x in m.groups() if x is not None) if m else None


def current_builder() -> str:
    """Name of the builder bake uses when none is named (buildx's current one)."""
    done = command.run(["docker", "buildx", "inspect"], timeout=60)
    for line in done.stdout.splitlines():
        if line.startswith("Name:"):
            return line.split(":", 1)[1].strip()
    raise BakegenError("`docker buildx inspect` named no builder")


def engine_builder() -> str:
    """The engine's own builder (docker driver): buildx names it after the Docker context."""
    return command.run(["docker", "context", "show"], timeout=30).stdout.strip() or "default"


def has_gpu_runtime(engine_info: dict) -> bool:
    """Containers can be given a GPU: the engine knows the NVIDIA runtime."""
    return "nvidia" in (engine_info.get("Runtimes") or {}) or shutil.which("nvidia-container-runtime") is not None


def builder_checks(info: BuilderInfo, engine_version: str) -> list[Check]:
    """Which builder, its driver and BuildKit, and what that BuildKit can do."""
    version = info.buildkit_version
    if info.driver == "docker":
        buildkit = f"the engine's own (Docker {engine_version}; dockerd 26 ships BuildKit 0.13)"
    else:
        buildkit = info.buildkit
    checks = [Check("builder", info.running, f"{info.name} ({info.driver} driver), BuildKit {buildkit}",
                    f"start it: `docker buildx inspect --bootstrap {info.name}` or `bakegen builder up`")]
    new_enough = info.driver != "docker" and version is not None and version[:2] >= MIN_BUILDKIT
    need = ".".join(map(str, MIN_BUILDKIT))
    checks.append(Check(
        "gha cache", new_enough,
        f"BuildKit {info.buildkit} can use type=gha (GitHub's cache service, inside GitHub Actions only)"
        if new_enough else f"needs BuildKit {need}+ and GitHub's cache service; this builder's is older",
        "`bakegen builder up` makes a builder with BuildKit 0.26; the docker driver's BuildKit is the engine's "
        "and too old for gha (GitHub retired the old cache service in 2025)",
    ))
    return checks


_PROBE_BAKE = """
target "probe-base" {
  dockerfile-inline = "FROM scratch\\nCOPY docker-bake.hcl /probe"
  cache-to = ["type=local,dest=CACHE,mode=max"]
  output = ["type=cacheonly"]
  labels = { "bakegen.probe" = "1" }
}
target "probe-child" {
  dockerfile-inline = "FROM probe-base\\nLABEL bakegen.probe=child"
  contexts = { probe-base = "target:probe-base" }
  output = ["type=cacheonly"]
}
"""


def probe_bake(builder: str) -> tuple[bool, bool, str]:
    """Build two tiny linked targets (nothing pulled): do named contexts and cache export work?

    The base copies a file: a base without any layer cannot be linked (buildx 0.13 says
    "unsupported context source target").
    """
    with tempfile.TemporaryDirectory(prefix="bakegen-doctor-") as tmp:
        cache = Path(tmp) / "cache"
        (Path(tmp) / "docker-bake.hcl").write_text(_PROBE_BAKE.replace("CACHE", str(cache)))
        done = command.run(["docker", "buildx", "bake", "--builder", builder, "--progress=plain", "probe-child"],
                           cwd=tmp, timeout=120, check=False)
        detail = command.reason_of(done.stderr, done.returncode) if done.returncode else ""
        _remove_probe_images()
        return done.returncode == 0, (cache / "index.json").is_file(), detail


def _remove_probe_images() -> None:
    """The docker driver loads a linked target as an untagged image: the probe's go, by label."""
    client = connect()
    for image in client.images.list(all=True, filters={"label": "bakegen.probe"}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(image.id, force=True)


def doctor(registry: str, builder: str | None = None) -> list[Check]:
    checks = []
    docker_cli = shutil.which("docker")
    checks.append(Check("docker CLI", docker_cli is not None, docker_cli or "not found",
                        "install the docker client (Debian: docker.io, or docker-ce-cli)"))
    try:
        client = connect()
        engine_version = str(client.version().get("Version"))
        engine_info = client.info()
        checks.append(Check("engine", True, f"Docker {engine_version} at {engine_address()}"))
    except BakegenError as e:
        checks.append(Check("engine", False, str(e).split(";")[0], START_ENGINE))
        client, engine_version, engine_info = None, "", {}
    bx = buildx_version()
    checks.append(Check(
        "buildx", bx is not None and bx[:2] >= MIN_BUILDX,
        ".".join(map(str, bx)) if bx else "not installed",
        "install buildx 0.13 or later (Docker's docker-buildx-plugin, or Debian/Ubuntu's docker-buildx); "
        "bake needs it",
    ))
    builder_info = None
    if client is not None and bx is not None:
        builder_info, found = _builder(builder)
        checks += builder_checks(builder_info, engine_version) if builder_info else found
    if client is not None:
        store = _driver_status(engine_info)
        snapshotter = "io.containerd.snapshotter" in store
        # The store matters to the engine's own BuildKit only: a builder of its own exports cache anyway.
        own_builder = builder_info is not None and builder_info.driver != "docker"
        if snapshotter:
            store_detail = (f"containerd ({engine_info.get('Driver')}); its builds sometimes fail with \"parent "
                            f"snapshot ... does not exist\" ({ENGINE_BUG_6521}, open): bakegen build and bench run "
                            "such a build once more")
        else:
            store_detail = f"classic ({engine_info.get('Driver')})"
            if own_builder and builder_info is not None:
                store_detail += f"; {builder_info.name} exports cache without it"
        checks.append(Check(
            "image store", snapshotter or own_builder, store_detail,
            "the classic store cannot export cache through the engine's own BuildKit (docker driver): build on a "
            "builder of bakegen's own (`bakegen builder up`), or use the containerd image store",
        ))
        if builder_info is not None and builder_info.running:
            built, exported, detail = probe_bake(builder_info.name)
            checks.append(Check("named contexts (target:)", built, "a linked target built" if built else detail,
                                "upgrade buildx and the engine (named contexts need BuildKit 0.10+)"))
            checks.append(Check("cache export", exported, "local cache written" if exported else detail,
                                "use the containerd image store or a builder of its own (`bakegen builder up`)"))
        runtimes = sorted(engine_info.get("Runtimes", {}))
        has_gpu = has_gpu_runtime(engine_info)
        checks.append(Check(
            "GPU runtime", has_gpu, "nvidia runtime present" if has_gpu else f"none (runtimes: {', '.join(runtimes)})",
            "GPU images build without one; running them needs the NVIDIA Container Toolkit",
        ))
    ok, detail = reachable(registry)
    checks.append(Check(f"registry {registry}", ok, detail,
                        "start a registry there or log in to yours (`docker login`)"))
    return checks


def _builder(name: str | None) -> tuple[BuilderInfo | None, list[Check]]:
    """The named builder, or buildx's current one, started if it was stopped."""
    try:
        info = inspect(name or current_builder(), bootstrap=True)
    except BakegenError as e:
        return None, [Check("builder", False, str(e), "check `docker buildx ls`")]
    if info is None:
        return None, [Check("builder", False, f"no builder {name}",
                            f"make it with `bakegen builder up --name {name}`")]
    return info, []


def _driver_status(info: dict) -> str:
    status = info.get("DriverStatus") or []
    return " ".join(f"{k}={v}" for k, v in status)
