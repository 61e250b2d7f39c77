"""Which files changed since a git revision (for `bakegen affected`)."""

from __future__ import annotations

from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError


def _git(root: Path, *args: str) -> list[str]:
    """git's answer as NUL-separated paths (`-z`): as they are, never quoted or escaped."""
    try:
        done = command.run(["git", "-C", str(root), "-c", "core.quotePath=false", *args])
    except command.CommandError as e:
        raise BakegenError(f"git {' '.join(args)}: {e.reason}") from None
    return [path for path in done.stdout.split("\0") if path]


def changed_paths(root: Path, since: str) -> list[str]:
    """Files that differ from `since` in the work tree (committed or not), and untracked files,
    as posix paths relative to `root`; a rename counts as both its old and its new path."""
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    except BakegenError as e:
        raise BakegenError(f"--since {since}: not a commit of {root} ({e})") from None
    changed = _git(root, "diff", "--name-only", "-z", "--no-renames", "--relative", since, "--")
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
    return sorted(set(changed) | set(untracked))


def file_at(root: Path, revision: str, path: str) -> str | None:
    """The text of `path` (relative to root) at `revision`; None where git has no such file."""
    try:
        done = command.run(["git", "-C", str(root), "show", f"{revision}:./{path}"])
    except BakegenError:
        return None
    return done.stdout
