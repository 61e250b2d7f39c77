"""The one gate for external commands (docker, buildx, git, buildkitd): run, stream or start.

Every failure becomes a `CommandError` carrying the command, its exit code and the stderr line
that says why, so callers never pick error lines out of output themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bakegen.model import BakegenError

# What to install when a program is missing, by program name.
_INSTALL_HINTS = {
    "docker": "install the docker client (Debian: docker.io, or docker-ce-cli); see `bakegen doctor`",
    "git": "install git",
}


class CommandError(BakegenError):
    """An external command failed: which one, its exit code, and why in one line."""

    def __init__(self, args: Sequence[str], returncode: int, reason: str):
        self.command = list(args)
        self.returncode = returncode
        self.reason = reason
        super().__init__(f"`{shown(args)}` failed: {reason}")


def shown(args: Sequence[str], words: int = 4) -> str:
    """A command as a person recognises it: its first few words."""
    head = " ".join(str(a) for a in args[:words])
    return head + (" …" if len(args) > words else "")


def reason_of(stderr: str, returncode: int) -> str:
    """The useful line of a failed command's stderr: its last ERROR/error line, else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "error", "Error", "fatal:"))]
    picked = (errors or lines or [f"exit code {returncode}"])[-1].removeprefix("ERROR: ").removeprefix("error: ")
    if re.fullmatch(r"exit code \d+", picked):  # says nothing: the last line before it that says why
        why = [ln for ln in lines if re.search(r"failed|error|not found|denied", ln, re.I) and "ERROR" not in ln]
        if why:
            picked = f"{why[-1]} ({picked})"
    return picked


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {})}


def run(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run to completion and capture text output; raise `CommandError` on failure when `check`."""
    try:
        done = subprocess.run(
            list(args), cwd=cwd, env=environment(env), capture_output=True, text=True,
            timeout=timeout, input=input,
        )
    except FileNotFoundError:
        raise _missing(args) from None
    except subprocess.TimeoutExpired:
        raise CommandError(args, -1, f"no answer within {timeout:.0f} s") from None
    if check and done.returncode != 0:
        raise CommandError(args, done.returncode, reason_of(done.stderr, done.returncode))
    return done


class Runner(Protocol):
    """The shape of `run`: what code that asks buildx or git takes as `run=`, so its tests can
    give a stand-in that answers from canned output."""

    def __call__(self, args: Sequence[str], *, cwd: Path | str | None = None, env: dict[str, str] | None = None,
                 timeout: float | None = None, check: bool = True,
                 input: str | None = None) -> subprocess.CompletedProcess[str]: ...


def stream(
    args: Sequence[str], *, cwd: Path | str | None = None, env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start with stderr piped as text lines (progress is read from it), stdout discarded."""
    try:
        return subprocess.Popen(
            list(args), cwd=cwd, env=environment(env), text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise _missing(args) from None


def stop(process: subprocess.Popen, seconds: float = 10) -> None:
    """Terminate a started process, killing it if it does not end within `seconds`."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_daemon(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-lived process in a session of its own (a Ctrl-C of ours does not reach it)."""
    try:
        with log.open("ab") as out:
            return subprocess.Popen(
                list(args), env=environment(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
    except FileNotFoundError:
        raise _missing(args) from None
    except PermissionError:
        raise BakegenError(f"{args[0]}: not executable") from None


def _missing(args: Sequence[str]) -> BakegenError:
    program = Path(str(args[0])).name
    hint = _INSTALL_HINTS.get(program, f"install {program} or put it on PATH")
    return BakegenError(f"{program}: not found; {hint}")
