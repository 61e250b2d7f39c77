"""Which files changed since a git revision (for `bakegen affected`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bakegen.model import BakegenError


def _git(root: Path, *args: str) -> list[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BakegenError("git is not installed; `bakegen affected` needs it") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise BakegenError(f"git {' '.join(args)}: {reason}")
    return [line for line in done.stdout.splitlines() if line]


def changed_paths(root: Path, since: str) -> list[str]:
    """Files that differ from `since` in the work tree (committed or not), and untracked files,
    as posix paths relative to `root`; a rename counts as both its old and its new path."""
    try:
        _git(root, "rev-parse", "--verify", f"{since}^{{commit}}")
    except BakegenError as e:
        raise BakegenError(f"--since {since}: not a commit of {root} ({e})") from None
    changed = _git(root, "diff", "--name-only", "--no-renames", "--relative", since, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard")
    return sorted(set(changed) | set(untracked))
