"""What this machine can build with: engine, buildx, cache export, named contexts, registry, GPU."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bakegen.model import BakegenError

START_ENGINE = "start one with `scripts/engine start` (installs Debian's docker.io when none is present)"
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
    done = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True)
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", done.stdout) if done.returncode == 0 else None
    return tuple(int(x) for x in m.groups() if x is not None) if m else None


def buildx_builder() -> str:
    """Name and driver of the builder bake would use, as `docker buildx inspect` says."""
    done = subprocess.run(["docker", "buildx", "inspect"], capture_output=True, text=True)
    fields = dict(
        line.split(":", 1) for line in done.stdout.splitlines()[:3] if ":" in line
    )
    name, driver = fields.get("Name", "?").strip(), fields.get("Driver", "?").strip()
    return f"{name} ({driver} driver)"


def registry_reachable(address: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=3) as response:
            return True, f"HTTP {response.status}"
    except urllib.error.HTTPError as e:  # 401: there, but wants a login
        return e.code == 401, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return False, str(getattr(e, "reason", e))


_PROBE_BAKE = """
target "probe-base" {
  dockerfile-inline = "FROM scratch\\nCOPY docker-bake.hcl /probe"
  cache-to = ["type=local,dest=CACHE,mode=max"]
}
target "probe-child" {
  dockerfile-inline = "FROM probe-base\\nLABEL bakegen.probe=child"
  contexts = { probe-base = "target:probe-base" }
  output = ["type=cacheonly"]
}
"""


def probe_bake() -> tuple[bool, bool, str]:
    """Build two tiny linked targets (nothing pulled): do named contexts and cache export work?

    The base copies a file: a base without any layer cannot be linked (buildx 0.13 says
    "unsupported context source target").
    """
    with tempfile.TemporaryDirectory(prefix="bakegen-doctor-") as tmp:
        cache = Path(tmp) / "cache"
        (Path(tmp) / "docker-bake.hcl").write_text(_PROBE_BAKE.replace("CACHE", str(cache)))
        done = subprocess.run(
            ["docker", "buildx", "bake", "--progress=plain", "probe-child"],
            cwd=tmp, capture_output=True, text=True, timeout=120,
        )
        errors = [ln for ln in done.stderr.splitlines() if "ERROR" in ln or "error" in ln]
        detail = errors[-1].strip() if errors else ""
        return done.returncode == 0, (cache / "index.json").is_file(), detail


def doctor(registry: str) -> list[Check]:
    checks = []
    docker_cli = shutil.which("docker")
    checks.append(Check("docker CLI", docker_cli is not None, docker_cli or "not found",
                        "install the docker client (Debian: docker.io, or docker-ce-cli)"))
    try:
        client = connect()
        version = client.version()
        info = client.info()
        checks.append(Check("engine", True, f"Docker {version.get('Version')} at {engine_address()}"))
    except BakegenError as e:
        checks.append(Check("engine", False, str(e).split(";")[0], START_ENGINE))
        client, info = None, {}
    bx = buildx_version()
    checks.append(Check(
        "buildx", bx is not None and bx[:2] >= MIN_BUILDX,
        ".".join(map(str, bx)) if bx else "not installed",
        "install buildx 0.13 or later (`scripts/engine buildx`); bake needs it",
    ))
    if client is not None and bx is not None:
        checks.append(Check("builder", True, buildx_builder()))
    if client is not None:
        store = _driver_status(info)
        snapshotter = "io.containerd.snapshotter" in store
        checks.append(Check(
            "image store", snapshotter,
            f"containerd ({info.get('Driver')})" if snapshotter else f"classic ({info.get('Driver')})",
            'set {"features": {"containerd-snapshotter": true}} in daemon.json: the classic store '
            "cannot export cache with the default docker driver",
        ))
        if bx is not None:
            built, exported, detail = probe_bake()
            checks.append(Check("named contexts (target:)", built, "a linked target built" if built else detail,
                                "upgrade buildx and the engine (named contexts need BuildKit 0.10+)"))
            checks.append(Check("cache export", exported, "local cache written" if exported else detail,
                                "use the containerd image store or a docker-container builder"))
        runtimes = sorted(info.get("Runtimes", {}))
        has_gpu = "nvidia" in runtimes or shutil.which("nvidia-container-runtime") is not None
        checks.append(Check(
            "GPU runtime", has_gpu, "nvidia runtime present" if has_gpu else f"none (runtimes: {', '.join(runtimes)})",
            "the pose service runs on a GPU runner only; images still build without one",
        ))
    ok, detail = registry_reachable(registry)
    checks.append(Check(f"registry {registry}", ok, detail,
                        "start the loopback registry (`scripts/engine start`) or log in to yours"))
    return checks


def _driver_status(info: dict) -> str:
    status = info.get("DriverStatus") or []
    return " ".join(f"{k}={v}" for k, v in status)
