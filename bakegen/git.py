"""Every question bakegen asks git, and one rule for when git cannot answer.

git tells the truth or bakegen says it cannot: a refusal (a clone owned by another user, which
git rejects as "dubious ownership"), a missing git, or a broken repository is one line saying
why and how to fix it, never an answer made up from nothing. Commands that need git (affected,
impact, ci-plan) fail with it; `emit` falls back for the defaults it reads from git and warns.
"""

from __future__ import annotations

from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError
from bakegen.paths import exists


class GitUnavailable(BakegenError):
    """git could not answer about this folder, and why (with the fix when there is one)."""


# Paths come back as they are, never quoted.
_OPTIONS = ("-c", "core.quotePath=false")


def _run(root: Path, *args: str, unset_ok: bool = False) -> str:
    """git's stdout; with `unset_ok`, a silent exit 1 (a key or ref that is not there) is ""."""
    try:
        done = command.run(["git", "-C", str(root), *_OPTIONS, *args], timeout=60, check=False)
    except BakegenError as e:  # git not installed, or no answer in time
        raise GitUnavailable(str(e)) from None
    if done.returncode == 1 and unset_ok and not done.stderr.strip():
        return ""
    if done.returncode != 0:
        raise GitUnavailable(_why(root, command.reason_of(done.stderr, done.returncode)))
    return done.stdout


def _why(root: Path, reason: str) -> str:
    if "dubious ownership" in reason:
        return (f"git refuses to read {root}: the repository is owned by another user "
                f"(if you trust it: git config --global --add safe.directory {root.resolve()})")
    return f"git: {reason}"


def _paths(text: str) -> list[str]:
    """git's `-z` output: paths as they are, never quoted or escaped."""
    return [path for path in text.split("\0") if path]


def is_repository(root: Path) -> bool:
    """Whether `root` lies in a git work tree (a `.git` at or above it), asked of the file
    system, so it holds even when git itself is missing or refuses."""
    here = root.resolve()
    return any(exists(folder / ".git") for folder in (here, *here.parents))


def changed_paths(root: Path, since: str) -> list[str]:
    """Files that differ from `since` in the work tree (committed or not), untracked files, and
    submodules whose commit moved or whose content changed, as posix paths relative to `root`;
    a rename counts as both its old and its new path."""
    try:
        _run(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    except GitUnavailable as e:
        if not is_repository(root) or "refuses" in str(e) or "not found" in str(e):
            raise
        raise GitUnavailable(f"--since {since}: not a commit of {root}") from None
    changed = _paths(_run(root, "diff", "--name-only", "-z", "--no-renames", "--relative",
                                 # a submodule counts whatever .gitmodules says (`ignore = all` hides
                                 # a bumped or dirty one otherwise)
                                 "--ignore-submodules=none", since, "--"))
    untracked = _paths(_run(root, "ls-files", "-z", "--others", "--exclude-standard"))
    return sorted(set(changed) | set(untracked))


def file_at(root: Path, revision: str, path: str) -> str | None:
    """The text of `path` (relative to root) at `revision`; None where git has no such file."""
    try:
        return _run(root, "show", f"{revision}:./{path}")
    except GitUnavailable as e:
        if "refuses" in str(e):
            raise
        return None


def origin_url(root: Path) -> tuple[str | None, str | None]:
    """The `origin` remote's URL, or None with the reason git could not say (None, None when the
    folder is no repository or has no `origin`: a true answer, not a failure)."""
    if not is_repository(root):
        return None, None
    try:
        _run(root, "rev-parse", "--git-dir")  # `git config` skips a refused repository's config silently
        url = _run(root, "config", "--get", "remote.origin.url", unset_ok=True).strip()
    except GitUnavailable as e:
        return None, str(e)
    return url or None, None


def origin_head_branch(root: Path) -> str | None:
    """The branch `origin/HEAD` points at, when git knows it."""
    try:
        head = _run(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", unset_ok=True).strip()
    except GitUnavailable:
        return None
    return head.split("/", 1)[1] if "/" in head else None


def tracked_files(root: Path) -> frozenset[str] | None:
    """The files git tracks under root (posix, relative to root), from one `git ls-files`; None
    when root is no git repository: then every file counts. When git cannot answer in a
    repository, nothing counts as tracked (an untracked file must never decide the output)."""
    if not is_repository(root):
        return None
    try:
        listed = _run(root, "ls-files", "-z", "--recurse-submodules")
    except GitUnavailable:
        return frozenset()
    return frozenset(_paths(listed))


def clone_head(root: Path, destination: Path) -> Path:
    """A fresh clone of the repository holding `root`, checked out at its HEAD, made in the new
    folder `destination`; returns where `root` lies in the clone. `--local` only reads the
    original's .git (objects hardlinked where the file system allows), so nothing of the
    original changes."""
    top = Path(_run(root, "rev-parse", "--show-toplevel").strip())
    head = _run(root, "rev-parse", "--verify", "HEAD^{commit}").strip()
    _run(root, "clone", "--quiet", "--local", "--no-checkout", str(top), str(destination))
    _run(destination, "checkout", "--quiet", "--detach", head)
    return destination / root.resolve().relative_to(top.resolve())
