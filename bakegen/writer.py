"""The one way bakegen writes a file: where it may write (`check_destination`), and the write
itself, atomic (a temporary file beside the destination, renamed over it).

bakegen runs on repositories it does not trust, in CI jobs that hold credentials: a committed
link named docker-bake.hcl or .github/workflows/bakegen.yml that points at ~/.bashrc must not
make bakegen replace ~/.bashrc, and a repository's own hand-written bake file must not be lost
to `bakegen emit`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bakegen.model import BakegenError

_FIRST_LINE_MAX = 4096  # bytes read to find the mark: a file's first line, or enough of it


@dataclass(frozen=True)
class Owned:
    """A file bakegen replaces only when bakegen wrote it: its first line starts with `mark`.
    `advice` says how to go on when it did not (`-o another.hcl`, `--force`)."""

    mark: str
    advice: str


def check_destination(root: Path, path: Path, *, owned: Owned | None = None, force: bool = False,
                      given: bool = False) -> Path:
    """Where writing `path` really writes, links followed; BakegenError (one line) when bakegen
    may not write there. The rule, in full:

    - a path in the repository must stay in it once links are followed: bakegen never writes
      through a link (of the file or of a folder on the way) that leaves the repository. A path
      given on the command line outside the repository is the user's choice and is written;
    - only regular files are replaced. A FIFO or character device given on the command line
      (`-o /dev/null`, a pipe) is written to, never replaced; one where bakegen writes by itself
      (a FIFO named docker-bake.hcl) is refused, as it would block or write to a device;
    - an `owned` file (the bake file, the workflow) that has text and was not written by bakegen
      is kept unless `force`;
    - the folder must exist (callers that make it call this first, so nothing is made outside).
    """
    real = Path(os.path.realpath(path))
    if _in(os.path.abspath(path), os.path.abspath(root)) and not _in(str(real), os.path.realpath(root)):
        raise BakegenError(f"{path}: leads outside the repository (to {real}) through a link; "
                           "bakegen never writes there (replace the link by a file)")
    try:
        mode = os.stat(path).st_mode  # the kernel follows the links: /dev/stdout is what it is now
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if given and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            return Path(path)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise BakegenError(f"{path}: {kind}; bakegen writes only regular files")
    if mode is not None and owned is not None and not force and not _starts_with(real, owned.mark):
        raise BakegenError(f"{path}: not written by bakegen (its first line is not `{owned.mark}...`), "
                           f"so it is kept; {owned.advice}")
    return real


def _in(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _starts_with(path: Path, mark: str) -> bool:
    """Whether the file begins with `mark`; an empty file has nothing to lose and counts as ours."""
    with path.open("rb") as f:
        head = f.read(_FIRST_LINE_MAX)
    return not head or head.startswith(mark.encode())


def write_file(root: Path, path: Path, content: str | bytes, *, owned: Owned | None = None,
               force: bool = False, given: bool = False, make_folder: bool = False) -> None:
    """Write `content` to `path` if `check_destination` allows it: to a temporary file in the
    same folder, then renamed over the destination (over the file a link inside the repository
    points to, so the link stays a link); a failed or interrupted write leaves the old file as it
    was. `make_folder` makes the missing folders first, after the check."""
    real = check_destination(root, path, owned=owned, force=force, given=given)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if real.exists() and not real.is_file():  # a device or pipe given with -o: written to
        try:
            with real.open("wb") as f:
                f.write(data)
        except OSError as e:
            raise BakegenError(f"{path}: cannot write ({e.strerror})") from None
        return
    folder = real.parent
    if make_folder:
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        shown = path.parent if str(path.parent) else Path(".")
        raise BakegenError(f"{path}: folder {shown} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, real.stat().st_mode & 0o7777 if real.exists() else 0o644)
        os.replace(tmp, real)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise BakegenError(f"{path}: cannot write ({e.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
