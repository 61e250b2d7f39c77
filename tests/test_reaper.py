"""A test run killed part-way leaves no daemon behind (the reaper the e2e suite starts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REAPER = Path(__file__).parent / "reaper.py"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]  # its last word: a folder it names


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too (the daemon below is the test's child, so it lingers as one)
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def wait_until(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_daemon_of_a_killed_run_is_stopped_and_others_are_left(tmp_path):
    run_folder = tmp_path / "pytest-of-ci" / "pytest-7"
    run_folder.mkdir(parents=True)
    # A daemon in a session of its own naming the run's folder (as buildkitd's --root does), and
    # one that does not name it.
    daemon = subprocess.Popen([*SLEEPER, str(run_folder / "builder0")], start_new_session=True)
    bystander = subprocess.Popen([*SLEEPER, f"{run_folder}0/builder0"], start_new_session=True)  # pytest-70
    test_run = subprocess.Popen(["sleep", "300"])
    reaper = subprocess.Popen([sys.executable, str(REAPER), str(test_run.pid), str(run_folder), "bakegen-test-none-"],
                              start_new_session=True)
    try:
        time.sleep(1)
        assert alive(daemon.pid), "the reaper must wait for the run to end"
        test_run.send_signal(signal.SIGKILL)  # killed part-way: no teardown of its own runs
        test_run.wait()
        assert wait_until(lambda: not alive(daemon.pid)), "the daemon outlived the killed run"
        assert reaper.wait(timeout=60) == 0
        assert alive(bystander.pid)
    finally:
        for process in (daemon, bystander, test_run, reaper):
            process.kill()
            process.wait()
