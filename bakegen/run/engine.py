"""What this machine can build with: cores and memory (and the MAX_JOBS they give), WSL, Docker
Desktop, engine, buildx, cache export, named contexts, registry, GPU."""

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

from bakegen import command, machine
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
    required: bool = True  # a miss fails `doctor` (exit 1); otherwise it is advice


def engine_address() -> str:
    """Where the docker CLI talks to the engine: DOCKER_HOST, else the current Docker context's
    endpoint (rootless Docker and Docker Desktop use contexts whose socket is not
    /var/run/docker.sock), else the default socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if shutil.which("docker"):
        with contextlib.suppress(BakegenError):
            done = command.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
                               check=False, timeout=30)
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
    return "unix:///var/run/docker.sock"


def connect() -> docker.DockerClient:
    """A client of a running engine, or a clear error saying how to get one."""
    address = engine_address()
    try:
        # from_env keeps DOCKER_HOST's TLS settings; a context's endpoint is named directly.
        client = docker.from_env(timeout=10) if os.environ.get("DOCKER_HOST") else \
            docker.DockerClient(base_url=address, timeout=10)
        client.ping()
        return client
    except docker.errors.DockerException as e:
        reason = str(e).split("(")[0].strip().rstrip(":") or type(e).__name__
        raise BakegenError(f"no Docker engine answers at {address} ({reason}); {START_ENGINE}") from None


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


# --- the machine: cores, memory, MAX_JOBS, WSL ---------------------------------------------------

WSL_NVIDIA_SMI = "/usr/lib/wsl/lib/nvidia-smi"  # what the Windows driver gives WSL, often off PATH
CLONE_INSIDE = ("clone it inside the Linux file system and work there: `git clone URL ~/src/NAME` "
                "(Windows reaches it as \\\\wsl$\\<distro>\\home\\...)")


@dataclass(frozen=True)
class Host:
    """What the kernel says about the machine bakegen runs on (read by `read_host`)."""

    cores: int
    memory: int | None  # MemTotal, bytes
    cgroup_limit: int | None  # bytes, when this process's cgroup has one
    proc_version: str = ""
    proc_mounts: str = ""
    cwd: str = ""
    nvidia_smi: tuple[bool, str] | None = None  # (ran, its first line); None: not found


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def read_host(cwd: Path) -> Host:
    """The facts of this machine, from /proc and /sys where they exist (empty elsewhere)."""
    limit = next((text for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
                  if (text := _read(path))), "")
    proc_version = _read("/proc/version")
    smi = shutil.which("nvidia-smi") or (WSL_NVIDIA_SMI if Path(WSL_NVIDIA_SMI).is_file() else None)
    nvidia = None
    if smi and machine.wsl(proc_version):
        done = command.run([smi, "-L"], check=False, timeout=30)
        lines = (done.stdout or done.stderr).strip().splitlines()
        nvidia = (done.returncode == 0, lines[0] if lines else f"exit code {done.returncode}")
    return Host(cores=os.cpu_count() or 1, memory=machine.meminfo_total(_read("/proc/meminfo")),
                cgroup_limit=machine.cgroup_limit(limit), proc_version=proc_version,
                proc_mounts=_read("/proc/mounts"), cwd=str(cwd), nvidia_smi=nvidia)


def host_checks(host: Host, engine_info: dict | None = None) -> list[Check]:
    """Cores and memory, the MAX_JOBS the pose base's compiles get, and WSL's traps. The engine's
    NCPU and MemTotal, when known, are where builds run (Docker Desktop's VM, a remote engine)."""
    wsl = machine.wsl(host.proc_version)
    checks = []
    if host.memory is not None:
        memory = machine.effective_memory(host.memory, host.cgroup_limit)
        detail = f"{host.cores} cores, {machine.gib(host.memory)}"
        if host.cgroup_limit is not None and host.cgroup_limit < host.memory:
            detail += f", limited to {machine.gib(host.cgroup_limit)} by its cgroup"
        if wsl and wsl.version == 2:
            detail += (" (the WSL2 VM's cap: by default half of Windows' memory; raise it with memory= under "
                       "[wsl2] in %UserProfile%\\.wslconfig, then `wsl --shutdown`)")
        checks.append(Check("machine", True, detail))
    resources = machine.engine_resources(engine_info or {})
    where = "the engine's machine"
    if resources is None and host.memory is not None:
        resources, where = (host.cores, machine.effective_memory(host.memory, host.cgroup_limit)), "this machine"
    if resources is not None:
        cores, memory = resources
        stages = machine.POSE_COMPILE_STAGES
        jobs = machine.max_jobs(cores, memory, stages)
        fits = memory >= stages * machine.GB_PER_NVCC_JOB * 1024**3
        checks.append(Check(
            "MAX_JOBS", fits,
            f"{jobs} per CUDA compile, {stages} compiles at once ({where}: {cores} cores, {machine.gib(memory)}, "
            f"{machine.GB_PER_NVCC_JOB:g} GiB per nvcc job); the pose base computes this itself unless MAX_JOBS is set",
            f"{machine.gib(memory)} holds fewer than {stages} nvcc jobs: give the builder more memory "
            "(WSL2: .wslconfig memory=; Docker Desktop: Settings > Resources) or the compiles may be killed",
            required=False))
    if wsl is not None:
        drive = machine.windows_drive(host.cwd, host.proc_mounts)
        if wsl.version == 1:
            checks.append(Check("WSL", False, "WSL1: Docker Desktop and BuildKit need WSL2",
                                "`wsl --set-version <distro> 2` in PowerShell", required=False))
        else:
            checks.append(Check(
                "WSL", drive is None,
                f"WSL2; this folder is in the Linux file system ({host.cwd})" if drive is None else
                f"WSL2; {host.cwd} is on the Windows drive {drive} (9p): every build context sent, every "
                "`affected`/`impact` walk crosses it, many times slower",
                CLONE_INSIDE, required=False))
        ran, line = host.nvidia_smi or (False, "nvidia-smi not found")
        checks.append(Check(
            "GPU in WSL", ran, f"nvidia-smi: {line}",
            "install the NVIDIA driver on Windows (it gives WSL /usr/lib/wsl/lib/nvidia-smi); "
            "never a Linux NVIDIA driver inside WSL", required=False))
    return checks


def desktop_checks(engine_info: dict) -> list[Check]:
    """Docker Desktop: its default builder is the engine's own (docker driver); cache export
    there needs the containerd image store, a setting of Docker Desktop."""
    if not machine.is_docker_desktop(engine_info):
        return []
    containerd = machine.uses_containerd_store(engine_info)
    return [Check(
        "Docker Desktop", containerd,
        f"{engine_info.get('OperatingSystem')}: default builder is the docker driver (the engine's BuildKit), "
        f"image store {'containerd' if containerd else 'classic'}; a current BuildKit of your own: "
        '`bakegen build --builder "$(bakegen builder up --driver docker-container)"`',
        f'turn on Settings > General > "{machine.DESKTOP_CONTAINERD_SETTING}" (cache export on the default builder '
        "needs it), or build on `bakegen builder up --driver docker-container`",
        required=False)]


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


def doctor(registry: str, builder: str | None = None, cwd: Path | None = None) -> list[Check]:
    checks: list[Check] = []
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
    host = read_host(cwd or Path.cwd())
    checks = host_checks(host, engine_info) + checks + desktop_checks(engine_info)
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
            "builder of bakegen's own (`bakegen builder up`), or use the containerd image store ("
            + (f'Docker Desktop: Settings > General > "{machine.DESKTOP_CONTAINERD_SETTING}"'
               if machine.is_docker_desktop(engine_info) else
               'set {"features": {"containerd-snapshotter": true}} in daemon.json') + ")",
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
