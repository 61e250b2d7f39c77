"""Nothing a test run started outlives it, however it ends.

`python tests/reaper.py PID FOLDER PREFIX` waits, in a session of its own, for the test run PID
to end (a normal exit, SIGTERM, SIGKILL), then stops every process whose command line names the
run's temp FOLDER (the private buildkitd daemons keep their state there and run in sessions of
their own, so no signal to the test run reaches them) and removes the buildx builders whose name
starts with PREFIX. After a normal run there is nothing left to do: the fixtures did it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def processes_naming(folder: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        inside = os.fsencode(folder.rstrip("/") + "/")  # pytest-5 must not match pytest-50
        if any(word == inside[:-1] or inside in word for word in words):
            found.append(int(entry.name))
    return found


def reap(folder: str, prefix: str) -> None:
    for pid in processes_naming(folder):
        with _gone():
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while processes_naming(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in processes_naming(folder):
        with _gone():
            os.kill(pid, signal.SIGKILL)
    listed = subprocess.run(["docker", "buildx", "ls", "--format", "{{.Name}}"], capture_output=True, text=True)
    for name in sorted({line.strip().rstrip("*").strip() for line in listed.stdout.splitlines()}):
        if prefix and name.startswith(prefix):
            subprocess.run(["docker", "buildx", "rm", "--force", name], capture_output=True)


class _gone:
    """A process that ended before we could signal it is what we wanted."""

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        return kind is ProcessLookupError


def main(pid: int, folder: str, prefix: str) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    reap(folder, prefix)


def start(folder: Path, prefix: str) -> subprocess.Popen:
    """Watch this process from a session of its own (a signal to our process group spares it)."""
    return subprocess.Popen([sys.executable, __file__, str(os.getpid()), str(folder), prefix],
                            start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
