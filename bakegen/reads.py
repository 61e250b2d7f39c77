"""What an emit read, so that the next emit can tell by stat calls alone that nothing it reads
has changed, and answer without importing or reading anything else (as git's index tells an
unchanged file by its stat data).

Every file opened and every folder listed under the repository is recorded by Python's audit
hooks (`open`, `os.scandir`, `os.listdir`), so no reader can forget to say what it read; a path
only tested for existence is told here (`probe`). Each is kept with its stat signature (inode,
mode, size, modification and change times, taken when first touched: a change after that moves
the change time). A signature within two seconds of the save is not trusted (the file may still
be changing within the clock's resolution): no stamp is kept then. A run of git adds git's own
files; bakegen's own code is part of the key.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zlib import crc32

RACY_NS = 2_000_000_000
GIT_FILES = ("HEAD", "config", "index", "packed-refs", "refs/remotes/origin/HEAD", "refs/remotes/origin")
Signature = list[int] | None

_recording: dict[str, Signature] | None = None
_listed: dict[str, set[str]] = {}  # each folder listed: its names then
_in_hook = False
_under: str = ""
_ran_git = False
_hooked = False


def signature(path: str) -> Signature:
    try:
        s = os.lstat(path)
        if os.path.islink(path):  # a link: the file it names counts too
            t = os.stat(path)
            return [s.st_ino, s.st_mtime_ns, s.st_ctime_ns, t.st_ino, t.st_mode, t.st_size, t.st_mtime_ns,
                    t.st_ctime_ns]
    except OSError:
        return None
    return [s.st_ino, s.st_mode, s.st_size, s.st_mtime_ns, s.st_ctime_ns]


def _note(path: str) -> None:
    if _recording is not None and path not in _recording:
        _recording[path] = signature(path)


def _audit(event: str, args: tuple) -> None:
    global _ran_git, _in_hook
    if _recording is None or _in_hook:
        return
    if event in ("open", "os.scandir", "os.listdir") and args and isinstance(args[0], str | bytes | os.PathLike):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == _under or path.startswith(_under + os.sep):
            _note(path)
            if event != "open" and path not in _listed:
                _in_hook = True
                try:
                    _listed[path] = set(os.listdir(path))
                except OSError:
                    pass
                finally:
                    _in_hook = False
    elif event == "subprocess.Popen" and "git" in os.path.basename(os.fsdecode(args[0] or "")):
        _ran_git = True


def probe(path: Path | str) -> None:
    """`path` was only tested for existence (its signature says whether it exists: None when not)."""
    if _recording is not None:
        _note(os.path.abspath(path))


@contextmanager
def recording(root: Path) -> Iterator[dict[str, Signature]]:
    """Record what is read under `root` while the block runs."""
    global _recording, _under, _ran_git, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    _recording, _under, _ran_git = {}, os.path.abspath(root), False
    _listed.clear()
    try:
        yield _recording
    finally:
        _recording = None


def _git_files(root: str) -> dict[str, Signature] | None:
    """git's files that decide what its commands answer; None when they cannot be known (.git a file)."""
    home = os.path.expanduser("~")
    found = {p: signature(p) for p in (os.path.join(home, ".gitconfig"), "/etc/gitconfig",
                                       os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.join(home, ".config")),
                                                    "git", "config"))}
    for folder in (root, *map(str, Path(root).parents)):
        dot_git = os.path.join(folder, ".git")
        if os.path.lexists(dot_git):
            if not os.path.isdir(dot_git) or os.path.islink(dot_git):
                return None
            return found | {os.path.join(dot_git, name): signature(os.path.join(dot_git, name)) for name in GIT_FILES}
        found[dot_git] = None
    return found


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bakegen" / "emit"


def _code() -> list:
    """bakegen's own code and Python's version: a new bakegen never reuses an old answer."""
    package = os.path.dirname(os.path.abspath(__file__))
    return [sys.version, *sorted((name, signature(os.path.join(dirpath, name)))
                                 for dirpath, _, names in os.walk(package) for name in names if name.endswith(".py"))]


def emit_key(options: Any) -> str:
    """The key of an emit (bakegen/options.py EmitOptions): where it reads and writes, its overrides."""
    parts = [os.path.realpath(options.root), os.path.abspath(options.destination),
             options.config and os.path.abspath(options.config), options.cache, options.registry, options.tag,
             options.quiet, options.overlay, options.strict,
             sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_"))]
    return json.dumps(parts, default=str)  # kept in the stamp and compared whole: a file name shared is a miss


def _stamp_file(stamp_key: str) -> Path:
    return _folder() / f"{crc32(stamp_key.encode()):08x}.json"  # a checksum, not a digest: hashlib costs start-up


def save(stamp_key: str, root: Path, read: dict[str, Signature], output: Path, answer: dict) -> None:
    """Keep what this run read and the file it wrote, unless a signature is too recent to trust."""
    entries = dict(read)
    if _ran_git:
        git = _git_files(os.path.abspath(root))
        if git is None:
            return
        entries |= git
    now = time.time_ns()
    if any(sig is not None and max(sig[-2:]) > now - RACY_NS for sig in entries.values()):
        return  # too fresh to trust: the next emit does the work again
    output = Path(os.path.abspath(output))
    entries[str(output)] = signature(str(output))  # written by this run: its own change
    folder = str(output.parent)
    if folder in entries:  # the write changed its folder: kept only when nothing else came or went
        try:
            if set(os.listdir(folder)) != _listed.get(folder, set()) | {output.name}:
                return
        except OSError:
            return
        entries[folder] = signature(folder)
    stamps = _folder()
    try:
        stamps.mkdir(parents=True, exist_ok=True)
        path = _stamp_file(stamp_key)
        tmp = stamps / f".{path.name}.{os.getpid()}"
        stamp = {"key": stamp_key, "code": _code(), "entries": entries, "answer": answer}
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a cache that cannot be written only costs the next run its shortcut
        pass


def replay(options: Any, say: Callable[[str], None]) -> int | None:
    """An emit answered from its stamp when nothing it reads has changed: its warnings said again,
    its number of targets returned; None when it must do the work (or prints the file: `-o -`)."""
    kept = None if options.stdout else unchanged(emit_key(options))
    if kept is None:
        return None
    for warning in kept["warnings"]:
        say(warning)
    return kept["targets"]


def unchanged(stamp_key: str) -> dict | None:
    """The answer kept for this key when nothing it read (nor bakegen) has changed since."""
    try:
        stamp = json.loads(_stamp_file(stamp_key).read_text(encoding="utf-8"))
        if stamp["key"] != stamp_key or stamp["code"] != json.loads(json.dumps(_code())):
            return None
        if all(signature(path) == sig for path, sig in stamp["entries"].items()):
            return stamp["answer"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None
