"""A buildkitd process of bakegen's own, for the remote driver: its config, finding the binary,
starting it in a session of its own, and stopping only the process it started (by PID, checked
against its --root, since PIDs get reused)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError

LOOPBACK_REGISTRIES = ("127.0.0.1:5000", "localhost:5000")
READY_SECONDS = 20.0

Say = Callable[[str], None]


def buildkitd_config(max_storage: str, insecure_registries: Iterable[str] = ()) -> str:
    """buildkitd.toml: OCI worker with bounded storage; loopback registries over plain HTTP."""
    hosts = dict.fromkeys([*LOOPBACK_REGISTRIES, *insecure_registries])
    registries = "".join(f'\n[registry."{host}"]\n  http = true\n  insecure = true\n' for host in hosts)
    return (
        "# Written by `bakegen builder up`.\n"
        "[worker.oci]\n"
        "  enabled = true\n"
        "  # Garbage collection keeps the cache under maxUsedSpace and leaves minFreeSpace on the disk.\n"
        "  gc = true\n"
        f'  maxUsedSpace = "{max_storage}"\n'
        '  minFreeSpace = "10%"\n'
        "[worker.containerd]\n"
        "  enabled = false\n"
        + registries
    )


def find(explicit: str | None) -> str | None:
    """--buildkitd, then $BAKEGEN_BUILDKITD, then PATH."""
    for candidate, origin in ((explicit, "--buildkitd"), (os.environ.get("BAKEGEN_BUILDKITD"), "BAKEGEN_BUILDKITD")):
        if candidate:
            path = Path(candidate)
            if not path.is_file() or not os.access(path, os.X_OK):
                raise BakegenError(f"{origin} {candidate}: not an executable file")
            return str(path.resolve())
    return shutil.which("buildkitd")


def start(binary: str, endpoint: str, folder: Path, max_storage: str, insecure_registries: Iterable[str],
          say: Say) -> None:
    """Start `binary` on `endpoint` with its state and log in `folder`; returns once it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "buildkitd.toml"
    config.write_text(buildkitd_config(max_storage, insecure_registries), encoding="utf-8")
    if endpoint.startswith("tcp://"):
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        if not _port_free(host, int(port)):
            raise BakegenError(f"{endpoint}: port {port} is in use; choose another --addr")
    else:
        sock = Path(endpoint.removeprefix("unix://"))
        if _unix_answers(sock):
            raise BakegenError(f"{endpoint}: another process listens there; choose another --addr or --state")
        sock.unlink(missing_ok=True)
    log = folder / "buildkitd.log"
    args = [binary, "--root", str(folder / "root"), "--addr", endpoint, "--config", str(config)]
    say(f"starting buildkitd ({binary}) on {endpoint}, log in {log}")
    process = command.start_daemon(args, log)
    (folder / "buildkitd.pid").write_text(f"{process.pid}\n", encoding="utf-8")
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BakegenError(f"buildkitd exited at start (code {process.returncode}): {_log_reason(log)}")
        if _endpoint_answers(endpoint):
            return
        time.sleep(0.1)
    process.kill()
    raise BakegenError(f"buildkitd did not answer on {endpoint} within {READY_SECONDS:.0f} s (log: {log})")


def _log_reason(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    bad = [ln for ln in lines if "level=fatal" in ln or "level=error" in ln] or lines or ["no output"]
    m = re.search(r'msg="(.*?)"', bad[-1])
    return m.group(1) if m else bad[-1].strip()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _unix_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def _endpoint_answers(endpoint: str) -> bool:
    if endpoint.startswith("unix://"):
        return _unix_answers(Path(endpoint.removeprefix("unix://")))
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def read_pid(folder: Path) -> int | None:
    try:
        return int((folder / "buildkitd.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def is_ours(pid: int | None, folder: Path) -> bool:
    """The PID is a buildkitd whose --root is in this state folder (PIDs get reused)."""
    if pid is None:
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(args) and Path(args[0].decode()).name == "buildkitd" and str(folder / "root").encode() in args


def alive(endpoint: str, folder: Path) -> bool:
    """The buildkitd started for `folder` runs and answers on `endpoint`."""
    return is_ours(read_pid(folder), folder) and _endpoint_answers(endpoint)


def stop(pid: int | None, folder: Path) -> bool:
    if not is_ours(pid, folder):
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not is_ours(pid, folder):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True
