"""Which files changed since a git revision (for `bakegen affected`)."""

from __future__ import annotations

from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError


def _git(root: Path, *args: str) -> list[str]:
    try:
        done = command.run(["git", "-C", str(root), *args])
    except command.CommandError as e:
        raise BakegenError(f"git {' '.join(args)}: {e.reason}") from None
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
