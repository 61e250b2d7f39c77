"""The machine's facts (bakegen/machine.py) and what `doctor` makes of them, from real markers
replayed as text; the pose base's MAX_JOBS script against the Python rule, row by row."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bakegen import machine
from bakegen.dockerfile import parse_dockerfile, run_mounts
from bakegen.run.engine import Host, desktop_checks, host_checks

ROOT = Path(__file__).resolve().parents[1]
POSE = ROOT / "docker/base-python-pose"
GIB = 1024**3

# (cores, memory bytes, compiles at once) -> MAX_JOBS each
ROWS = [
    (16, 32 * GIB, 3, 4),  # the case: 3 x 16 = 48 nvcc jobs before; memory allows 12
    (16, 64 * GIB, 3, 5),  # cores bound: 16 // 3
    (64, 256 * GIB, 3, 21),
    (32, 16 * GIB, 3, 2),  # WSL2's default cap: half of a 32 GB laptop
    (2, 24 * GIB, 3, 1),  # fewer cores than compiles: one job each, never zero
    (8, 4 * GIB, 3, 1),  # too little memory for even one each: still one (doctor warns)
    (16, 32 * GIB, 1, 12),  # one compile alone takes what the memory holds
    (12, 31 * GIB + 512 * 1024**2, 2, 6),  # a fraction of a GiB is not a job
    (1, 1 * GIB, 1, 1),
]


@pytest.mark.parametrize(("cores", "memory", "stages", "jobs"), ROWS)
def test_max_jobs_shares_cores_and_memory_among_the_compiles_that_run_at_once(cores, memory, stages, jobs):
    assert machine.max_jobs(cores, memory, stages) == jobs


def run_script(tmp_path: Path, cores: int, meminfo: str, cgroup: str | None, stages: int) -> tuple[int, str]:
    """max-jobs.sh as the build runs it, with nproc, /proc/meminfo and the cgroup file faked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nproc").write_text(f"#!/bin/sh\necho {cores}\n")
    (bin_dir / "nproc").chmod(0o755)
    (tmp_path / "meminfo").write_text(meminfo)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MAX_JOBS_MEMINFO": str(tmp_path / "meminfo"),
           "MAX_JOBS_CGROUP": str(tmp_path / "memory.max")}
    (tmp_path / "memory.max").unlink(missing_ok=True)
    if cgroup is not None:
        (tmp_path / "memory.max").write_text(cgroup)
    done = subprocess.run(["sh", str(POSE / "max-jobs.sh"), str(stages)], env=env, capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip()), done.stderr


def meminfo(memory: int) -> str:
    # The kernel's own layout (kB), as in /proc/meminfo.
    return f"MemTotal:       {memory // 1024} kB\nMemFree:         1234567 kB\nMemAvailable:   {memory // 2048} kB\n"


@pytest.mark.parametrize(("cores", "memory", "stages", "jobs"), ROWS)
def test_the_build_script_gives_what_the_python_rule_gives(tmp_path, cores, memory, stages, jobs):
    got, said = run_script(tmp_path, cores, meminfo(memory), "max\n", stages)
    assert got == jobs == machine.max_jobs(cores, memory, stages)
    assert f"MAX_JOBS={jobs} each" in said  # the build log says what it chose


@pytest.mark.parametrize(("limit", "jobs"), [(f"{8 * GIB}\n", 1), (f"{20 * GIB}\n", 2), ("max\n", 4),
                                             # cgroup v1's "no limit" is a number near 2^63
                                             ("9223372036854771712\n", 4)])
def test_a_cgroup_memory_limit_caps_the_memory_in_both(tmp_path, limit, jobs):
    memory = 32 * GIB
    got, _ = run_script(tmp_path, 16, meminfo(memory), limit, 3)
    python = machine.max_jobs(16, machine.effective_memory(memory, machine.cgroup_limit(limit)), 3)
    assert got == python == jobs


def test_every_cuda_compile_stage_sizes_its_jobs_with_the_shared_script():
    """The three CUDA stages (and only they) mount max-jobs.sh and take MAX_JOBS from it unless
    the build arg is set, for as many compiles as there are such stages."""
    text = (POSE / "Dockerfile").read_text()
    parsed = parse_dockerfile(text, POSE / "Dockerfile", "docker/base-python-pose/Dockerfile")
    users = {}
    for instruction in parsed.instructions:
        if instruction.keyword == "RUN" and "max-jobs.sh" in instruction.text:
            mounts = [m for m in run_mounts(instruction.text) if m.get("source") == "max-jobs.sh"]
            assert mounts and mounts[0]["target"] == "/tmp/max-jobs.sh" and "from" not in mounts[0]
            assert 'MAX_JOBS="${MAX_JOBS:-$(sh /tmp/max-jobs.sh "$CUDA_COMPILE_STAGES")}"' in instruction.text
            users[parsed.stages[instruction.stage].name] = instruction
    assert sorted(users) == ["detectron2", "neural-renderer", "pytorch3d"]
    stages = re.search(r"CUDA_COMPILE_STAGES=(\d+)", text)
    assert stages and int(stages.group(1)) == len(users) == machine.POSE_COMPILE_STAGES
    assert not any("$(nproc)" in i.text for i in parsed.instructions)  # the old default: every core, thrice
    assert re.search(r"^set -eu", (POSE / "max-jobs.sh").read_text(), re.M)
    assert f"tenths=${{2:-{round(machine.GB_PER_NVCC_JOB * 10)}}}" in (POSE / "max-jobs.sh").read_text()


# --- WSL, from /proc/version as these kernels write it -------------------------------------------

# leoheck/kiri#28 (a WSL2 machine, 2021)
WSL2 = ("Linux version 5.4.72-microsoft-standard-WSL2 (oe-user@oe-host) (gcc version 8.2.0 (GCC)) "
        "#1 SMP Wed Oct 28 23:40:43 UTC 2020")
# microsoft/WSL#4555 (the first WSL2 kernels, 2019, had no -WSL2 suffix)
WSL2_EARLY = ("Linux version 4.19.67-microsoft-standard (oe-user@oe-host) (gcc version 8.2.0 (GCC)) "
              "#1 SMP Sun Aug 18 13:37:54 UTC 2019")
# microsoft/WSL#4555: WSL1's kernel interface
WSL1 = ("Linux version 4.4.0-18985-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) "
        "#1-Microsoft Fri Sep 13 14:26:00 PST 2019")
# this project's machine (Debian 12)
DEBIAN = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP"


@pytest.mark.parametrize(("text", "version"), [(WSL2, 2), (WSL2_EARLY, 2), (WSL1, 1), (DEBIAN, None)])
def test_wsl_is_told_from_proc_version(text, version):
    found = machine.wsl(text)
    assert (found.version if found else None) == version


# /proc/mounts in a WSL2 distribution: the Windows drive is a 9p mount (drvfs as WSL names it).
WSL_MOUNTS = """/dev/sdc / ext4 rw,relatime,discard,errors=remount-ro,data=ordered 0 0
C:\\134 /mnt/c 9p rw,noatime,dirsync,aname=drvfs;path=C:\\;uid=1000;gid=1000;symlinkroot=/mnt/,mmap,access=client 0 0
D:\\134 /win/d 9p rw,noatime,aname=drvfs;path=D:\\ 0 0
"""


@pytest.mark.parametrize(("path", "mounts", "drive"), [
    ("/mnt/c/Users/ana/src/pose-app", WSL_MOUNTS, "/mnt/c"),
    ("/win/d/work/pose-app", WSL_MOUNTS, "/win/d"),  # automount root moved in /etc/wsl.conf
    ("/home/ana/src/pose-app", WSL_MOUNTS, None),
    ("/mnt/c/Users/ana/src", "", "/mnt/c"),  # no mount table: the default automount place
    ("/mnt/data/pose-app", "", None),
])
def test_a_repository_on_the_windows_drive_is_found(path, mounts, drive):
    assert machine.windows_drive(path, mounts) == drive


def host(**kw) -> Host:
    return Host(**{"cores": 16, "memory": 32 * GIB, "cgroup_limit": None, **kw})


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_doctor_under_wsl2_on_the_windows_drive_warns_with_the_fix():
    checks = by_name(host_checks(host(proc_version=WSL2, proc_mounts=WSL_MOUNTS, cwd="/mnt/c/Users/ana/pose-app",
                                      nvidia_smi=(True, "GPU 0: NVIDIA GeForce RTX 3080 (UUID: GPU-1)"))))
    assert not checks["WSL"].ok and not checks["WSL"].required
    assert "/mnt/c" in checks["WSL"].detail and "git clone" in checks["WSL"].advice
    assert "Linux file system" in checks["WSL"].advice
    assert checks["GPU in WSL"].ok and "RTX 3080" in checks["GPU in WSL"].detail
    assert ".wslconfig" in checks["machine"].detail  # the WSL2 cap, and how to raise it
    assert checks["MAX_JOBS"].detail.startswith("4 per CUDA compile, 3 compiles at once (this machine: 16 cores")


def test_doctor_under_wsl2_in_the_linux_file_system_and_without_a_gpu():
    checks = by_name(host_checks(host(proc_version=WSL2, proc_mounts=WSL_MOUNTS, cwd="/home/ana/pose-app")))
    assert checks["WSL"].ok
    assert not checks["GPU in WSL"].ok and "Windows" in checks["GPU in WSL"].advice
    wsl1 = by_name(host_checks(host(proc_version=WSL1)))
    assert not wsl1["WSL"].ok and "--set-version" in wsl1["WSL"].advice


def test_doctor_off_wsl_says_nothing_of_it_and_sizes_jobs_on_the_engines_machine():
    checks = by_name(host_checks(host(proc_version=DEBIAN, cgroup_limit=8 * GIB),
                                 {"NCPU": 8, "MemTotal": 16 * GIB}))
    assert "WSL" not in checks and "GPU in WSL" not in checks
    assert "limited to 8.0 GiB by its cgroup" in checks["machine"].detail
    assert checks["MAX_JOBS"].detail.startswith("2 per CUDA compile") and "the engine's machine: 8 cores" in \
        checks["MAX_JOBS"].detail
    small = by_name(host_checks(host(proc_version=DEBIAN), {"NCPU": 4, "MemTotal": 4 * GIB}))
    assert not small["MAX_JOBS"].ok and not small["MAX_JOBS"].required  # advice, not a failure


# --- Docker Desktop, from `docker info` ---------------------------------------------------------

# `docker info` (the API's /info) of Docker Desktop on WSL2. OperatingSystem is the PRETTY_NAME of
# the VM the engine runs in, "Docker Desktop" (siemens/ghostwire#7 shows that VM's os-release);
# DriverStatus with and without the containerd image store as docker/for-win#14460 prints them
# ("Storage Driver: overlayfs / driver-type: io.containerd.snapshotter.v1" against overlay2 with
# extfs); the kernel as in docker/for-win#14557 (WSL 2.4.8, kernel 5.15.167.4).
DESKTOP_CONTAINERD = {
    "OperatingSystem": "Docker Desktop", "OSType": "linux", "KernelVersion": "5.15.167.4-microsoft-standard-WSL2",
    "NCPU": 16, "MemTotal": 16_657_813_504, "Driver": "overlayfs",
    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
}
DESKTOP_CLASSIC = {**DESKTOP_CONTAINERD, "Driver": "overlay2", "DriverStatus": [
    ["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"],
    ["Native Overlay Diff", "true"], ["userxattr", "false"]]}
# A Linux engine (vmware-tanzu/community-edition#1962): not Docker Desktop.
LINUX_ENGINE = {"OperatingSystem": "Arch Linux", "OSType": "linux", "NCPU": 4, "Driver": "overlay2",
                "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]}


def test_docker_desktop_and_its_image_store_are_told_from_docker_info():
    assert machine.is_docker_desktop(DESKTOP_CONTAINERD) and machine.uses_containerd_store(DESKTOP_CONTAINERD)
    assert machine.is_docker_desktop(DESKTOP_CLASSIC) and not machine.uses_containerd_store(DESKTOP_CLASSIC)
    assert not machine.is_docker_desktop(LINUX_ENGINE) and desktop_checks(LINUX_ENGINE) == []
    assert machine.engine_resources(DESKTOP_CONTAINERD) == (16, 16_657_813_504)


def test_doctor_on_docker_desktop_names_the_setting_and_the_way():
    classic, = desktop_checks(DESKTOP_CLASSIC)
    assert not classic.ok and "image store classic" in classic.detail
    assert '"Use containerd for pulling and storing images"' in classic.advice
    assert "bakegen builder up --driver docker-container" in classic.advice
    containerd, = desktop_checks(DESKTOP_CONTAINERD)
    assert containerd.ok and "bakegen builder up --driver docker-container" in containerd.detail
    # the builds run in Docker Desktop's VM: its 16 cores and 15.5 GiB decide MAX_JOBS
    jobs = by_name(host_checks(host(proc_version=WSL2, cores=32, memory=64 * GIB), DESKTOP_CONTAINERD))["MAX_JOBS"]
    assert jobs.detail.startswith("2 per CUDA compile") and "15.5 GiB" in jobs.detail


@pytest.mark.parametrize(("text", "limit"), [("max\n", None), (f"{4 * GIB}\n", 4 * GIB), ("", None),
                                             ("9223372036854771712\n", None)])
def test_cgroup_limits_as_both_cgroup_versions_write_them(text, limit):
    assert machine.cgroup_limit(text) == limit


def test_meminfo_is_read_in_bytes():
    assert machine.meminfo_total(meminfo(24 * GIB)) == 24 * GIB
    assert machine.meminfo_total("nothing here") is None


def test_nothing_in_bakegen_assumes_a_root_user_or_a_linux_only_path_without_a_way_out():
    """A Linux-only path is read only where its absence is handled (doctor's facts, the builder's
    PID check); root is asked for only by the remote driver, whose error names the other driver."""
    allowed = {"bakegen/run/engine.py", "bakegen/machine.py", "bakegen/run/builder.py", "bakegen/run/buildkitd.py"}
    for path in sorted((ROOT / "bakegen").rglob("*.py")):
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        if re.search(r"[\"'](/proc/|/sys/|/var/run/|/root\b)|geteuid|getuid", text):
            assert where in allowed, where
    builder = (ROOT / "bakegen/run/builder.py").read_text() + (ROOT / "bakegen/run/buildkitd.py").read_text()
    assert "needs root here" in builder and "use --driver docker-container" in builder
