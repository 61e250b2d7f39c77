"""Facts about the machine a build runs on, from the text the kernel and Docker give: cores,
memory (and the cgroup limit that caps it), WSL, Docker Desktop, and the compile jobs that fit.

Pure functions over text and numbers; reading the files and asking Docker is the caller's job
(`bakegen.run.engine`), so every rule here is tested on real markers replayed as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

# nvcc compiling these CUDA kernels (detectron2, pytorch3d, the neural renderer) is commonly cited
# at 1.5-3 GB per process; 2.5 GB keeps a margin for the linker and the rest of the machine.
# docker/base-python-pose/max-jobs.sh holds the same default in tenths (25).
GB_PER_NVCC_JOB = 2.5
# The pose base compiles three CUDA extensions in stages of their own, which BuildKit runs at once.
POSE_COMPILE_STAGES = 3
_GIB = 1024**3


def max_jobs(cores: int, memory_bytes: int, stages: int = 1, gb_per_job: float = GB_PER_NVCC_JOB) -> int:
    """Compile jobs (`MAX_JOBS`) for each of `stages` compiles running at once: the machine's
    cores and memory shared among them, never fewer than one.

    Integer arithmetic on kB and tenths of a GB (GiB, as /proc/meminfo counts), step for step as
    docker/base-python-pose/max-jobs.sh computes it inside the build, so both give the same number.
    """
    stages = max(1, stages)
    tenths = max(1, round(gb_per_job * 10))
    memory_kb = memory_bytes // 1024
    by_cores = cores // stages
    by_memory = memory_kb * 10 // (tenths * 1024 * 1024) // stages
    return max(1, min(by_cores, by_memory))


def meminfo_total(text: str) -> int | None:
    """MemTotal of /proc/meminfo, in bytes (the kernel writes kB)."""
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


def cgroup_limit(text: str | None) -> int | None:
    """A cgroup's memory limit in bytes: v2's memory.max ("max" when unlimited) or v1's
    memory.limit_in_bytes (a number near 2^63 when unlimited); None when there is none."""
    value = (text or "").strip()
    if not value.isdigit():
        return None
    limit = int(value)
    return limit if limit < 2**62 else None


def effective_memory(total: int, limit: int | None) -> int:
    """What a process here may use: the machine's memory, or the cgroup limit when lower."""
    return min(total, limit) if limit else total


@dataclass(frozen=True)
class Wsl:
    version: int  # 1 or 2


def wsl(proc_version: str) -> Wsl | None:
    """WSL from /proc/version: WSL2 kernels are named `...-microsoft-standard[-WSL2]` (lowercase),
    WSL1's fake kernel `...-Microsoft` (capitalised, built by Microsoft@Microsoft.com)."""
    if "microsoft" not in proc_version.lower():
        return None
    return Wsl(2 if re.search(r"microsoft-standard|WSL2", proc_version) else 1)


# File systems through which WSL reaches the Windows drives (9p since WSL2; drvfs is its name in
# the mount table; v9fs on some kernels).
_WINDOWS_FILE_SYSTEMS = {"9p", "drvfs", "v9fs"}


def windows_drive(path: str, proc_mounts: str = "") -> str | None:
    """The Windows mount a path lives on (`/mnt/c`), or None when it is in the Linux file system.

    The mount table decides when it names one (WSL's automount root can be moved in
    /etc/wsl.conf); otherwise the default automount place, /mnt/<drive letter>/.
    """
    here = PurePosixPath(path)
    best: tuple[str, str] | None = None  # (mount point, file system type), the longest that holds `path`
    for line in proc_mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (here == PurePosixPath(point) or PurePosixPath(point) in here.parents) and (
                best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    if best is not None:
        return best[0] if best[1] in _WINDOWS_FILE_SYSTEMS else None
    m = re.match(r"^/mnt/([a-zA-Z])(?:/|$)", path)
    return f"/mnt/{m.group(1)}" if m else None


# --- Docker Desktop ------------------------------------------------------------------------------

DESKTOP_CONTAINERD_SETTING = "Use containerd for pulling and storing images"


def is_docker_desktop(engine_info: Mapping[str, Any]) -> bool:
    """`docker info`'s OperatingSystem is "Docker Desktop" on every Docker Desktop engine (it is
    the PRETTY_NAME of the docker-desktop VM the engine runs in)."""
    return str(engine_info.get("OperatingSystem") or "").startswith("Docker Desktop")


def uses_containerd_store(engine_info: Mapping[str, Any]) -> bool:
    """The engine stores images in containerd: DriverStatus has driver-type
    io.containerd.snapshotter.v1 (the Driver itself may be overlayfs, stargz, ...)."""
    return any(len(pair) == 2 and pair[0] == "driver-type" and str(pair[1]).startswith("io.containerd.snapshotter")
               for pair in engine_info.get("DriverStatus") or [])


def engine_resources(engine_info: Mapping[str, Any]) -> tuple[int, int] | None:
    """(cores, memory bytes) of the machine the engine runs on (`NCPU`, `MemTotal`): under
    Docker Desktop, its VM, which is where builds run."""
    cores, memory = engine_info.get("NCPU"), engine_info.get("MemTotal")
    return (int(cores), int(memory)) if isinstance(cores, int) and isinstance(memory, int) and cores > 0 else None


def gib(n: int) -> str:
    return f"{n / _GIB:.1f} GiB"
