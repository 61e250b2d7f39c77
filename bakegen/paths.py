"""Paths inside a repository, as posix text relative to its root ("." for the root), and the one
way discovery reads a file of it.

The trust rule: every path a repository, its compose files, its config or the command line names
is resolved with symlinks followed and must stay inside the repository (`within`); discovery
reads regular files only, and only so much of them (`read_regular`)."""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from pathlib import Path

from bakegen.model import BakegenError
from bakegen.reads import probe

# No input bakegen reads (Dockerfile, compose file, ignore file, .env, bakegen.toml) is anywhere
# near this; a bigger one is a mistake or an attack, and reading it whole would cost memory.
MAX_FILE_BYTES = 4 * 1024 * 1024


class Outside(ValueError):
    """A path that leaves the repository (absolute, `..`, or a symlink leading out)."""


class Unreadable(BakegenError):
    """A file discovery will not read: not a regular file, too big, or an error reading it."""


def within(root: Path, path: str, folder: str = ".") -> str:
    """`path` (relative to `folder`, itself relative to root) as a normalised posix path relative
    to root, when it stays inside the repository with symlinks followed; else `Outside` says why.

    Absolute paths are refused even when they point into the repository: they name this clone's
    location, which differs on every machine."""
    if posixpath.isabs(path):
        raise Outside(f"{path!r} is outside the repository (an absolute path)")
    joined = posixpath.normpath(posixpath.join(folder, path))
    if joined == ".." or joined.startswith("../"):
        raise Outside(f"{path!r} is outside the repository (.. leads out)")
    real_root = _real_root(str(root))
    real = os.path.realpath(os.path.join(real_root, joined))
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise Outside(f"{path!r} is outside the repository (a symlink leads out)")
    return joined


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    """The repository's own real path, asked once per run rather than for every path in it."""
    return os.path.realpath(root)


def inside(root: Path, path: str) -> bool:
    """Whether `path` (relative to root) stays in the repository, symlinks followed."""
    try:
        within(root, path)
    except Outside:
        return False
    return True


def exists(path: Path | str) -> bool:
    """Whether `path` exists, the test told to bakegen/reads.py (an emit's answer depends on it)."""
    probe(path)
    return os.path.exists(path)


def is_file(path: Path | str) -> bool:
    probe(path)
    return os.path.isfile(path)


def read_regular(path: Path, shown: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file, at most `limit`; `Unreadable` (one line naming `shown`) for a
    FIFO, device, socket or folder (opening a FIFO would block), a bigger file, or an OS error."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise Unreadable(f"{shown}: not a regular file ({_kind(mode)}); not read")
        # O_NONBLOCK: should it become a FIFO between stat and open, opening still returns.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise Unreadable(f"{shown}: cannot read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Unreadable(f"{shown}: not a regular file; not read")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Unreadable(f"{shown}: larger than {limit // (1024 * 1024)} MB; not read")
    return data


def read_text(path: Path, shown: str, limit: int = MAX_FILE_BYTES) -> str:
    """`read_regular` as text; bytes that are not UTF-8 become U+FFFD, as the tools reading these
    files (BuildKit, compose, git) treat them as bytes, not as an error."""
    return read_regular(path, shown, limit).decode("utf-8", errors="replace")


def encodable(path: str) -> str:
    """`path` with the undecodable bytes os.walk keeps as lone surrogates turned into U+FFFD, so a
    UTF-8 matcher (RE2) can take it; `*` and `?` still match them."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a file"


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


def bake_path(path: str) -> str:
    """A local path as bake must be given it to read it as a path: `-` is stdin to bake, and a
    path with a `:` or starting `github.com/` reads as a remote (git or URL) context, so such a
    folder name (a repository may hold one) is written `./-`, `./git@host:x`."""
    if path.startswith("-") or ":" in path or path.startswith("github.com/"):
        return "./" + path
    return path


def bake_reads_as_remote(path: str) -> bool:
    """Whether bake takes this relative path for an scp-like git remote (`user@host:path`),
    however it is written (`./`, a trailing `/`): then it cannot name a local folder."""
    at = path.find("@")
    return at >= 0 and ":" in path[at:]


OCI_LAYOUT = "oci-layout://"


def is_local_context(value: str) -> bool:
    """Whether a named context's value is a plain local path, as buildx reads it: not another
    target (`target:`), not a scheme (`docker-image://`, `https://`, `oci-layout://`), not a git
    remote (`git@host:repo`)."""
    return not value.startswith(("target:", "git@")) and "://" not in value


def context_folder(value: str) -> str | None:
    """The local folder a named context's value reads, as written: the path itself, or the
    layout folder of `oci-layout://PATH[:TAG][@DIGEST]`; None for what reads nothing local."""
    if value.startswith(OCI_LAYOUT):
        folder = value[len(OCI_LAYOUT):].split("@", 1)[0]
        head, _, last = folder.rpartition("/")
        return (head + "/" if head else "") + last.split(":", 1)[0]
    return value if is_local_context(value) else None
