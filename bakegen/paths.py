"""Paths inside a repository, as posix text relative to its root ("." for the root)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path


def inside(root: Path, path: str) -> bool:
    """Whether `path` (relative to root, or absolute) stays in the repository, symlinks followed."""
    if posixpath.isabs(path) or posixpath.normpath(path).split("/")[0] == "..":
        return False
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, path))
    return real == real_root or real.startswith(real_root + os.sep)


def join_path(folder: str, name: str) -> str:
    """A path relative to the project root, from a folder ("." for the root) and a name."""
    return name if folder in (".", "") else f"{folder.rstrip('/')}/{name}"


def relative_to(path: str, folder: str) -> str | None:
    """`path` relative to `folder` (both relative to the root, "." the root), or None if outside."""
    if folder in (".", ""):
        return path
    if path.startswith(folder.rstrip("/") + "/"):
        return path[len(folder.rstrip("/")) + 1 :]
    return None
