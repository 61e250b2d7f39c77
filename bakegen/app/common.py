"""What every command of the application layer shares: options naming a repository, the
messages it has for a person, and the verdict on a file bakegen writes or checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bakegen.advice import project_warnings
from bakegen.generate import load
from bakegen.model import BakegenError, Project
from bakegen.options import ProjectOptions
from bakegen.render import bounded_diff
from bakegen.writer import Owned, check_destination, write_file

# A message for a person (a warning, progress), without the "bakegen: " the CLI puts before it.
Say = Callable[[str], None]


def silent(message: str) -> None:
    """The default listener of a library call: nothing is printed."""


class Outcome(StrEnum):
    WRITTEN = "written"
    PRINTED = "printed"  # handed back to print, nothing written
    CURRENT = "current"  # --check: the file on disk is what would be written
    STALE = "stale"  # --check: it differs (see `diff`)
    MISSING = "missing"  # --check: there is none

    @property
    def failed(self) -> bool:
        return self in (Outcome.STALE, Outcome.MISSING)


@dataclass(frozen=True)
class FileResult:
    """A file bakegen wrote, printed or checked."""

    path: Path | None  # None when printed
    text: str
    outcome: Outcome
    diff: str = ""  # STALE: what changes, bounded to the changed lines
    targets: int = 0


def load_project(options: ProjectOptions, say: Say | None = None, **overrides: str | None) -> Project:
    """The project at options.root; its warnings told to `say` as soon as it is read (before any
    error a later step may raise), when one is given."""
    project = load(options.root, options.config, **overrides)
    if say is not None:
        for warning in project_warnings(project):
            say(f"warning: {warning}")
    return project


def write_or_check(root: Path, path: Path, text: str, *, check: bool, owned: Owned | None = None,
                   force: bool = False, given: bool = False, make_folder: bool = False,
                   targets: int = 0) -> FileResult:
    """`text` written to `path` (atomically, only over a file bakegen owns), or, with `check`,
    compared with what `path` holds."""
    if not check:
        write_file(root, path, text, owned=owned, force=force, given=given, make_folder=make_folder)
        return FileResult(path, text, Outcome.WRITTEN, targets=targets)
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return FileResult(path, text, Outcome.MISSING, targets=targets)
    if current == text:
        return FileResult(path, text, Outcome.CURRENT, targets=targets)
    return FileResult(path, text, Outcome.STALE, bounded_diff(current, text, str(path)), targets=targets)


def refuse_early(root: Path, path: Path, *, check: bool, owned: Owned | None = None, force: bool = False,
                 given: bool = False) -> None:
    """A destination that would be refused is refused before any work or warning."""
    if not check:
        check_destination(root, path, owned=owned, force=force, given=given)


def in_root(root: Path, path: Path) -> str | None:
    """`path` (relative to here) as a posix path relative to the project root; None if outside."""
    where = os.path.relpath(path.absolute(), root.absolute())
    return None if where.split(os.sep)[0] == ".." else Path(where).as_posix()


def in_project(root: Path, path: Path) -> str:
    where = in_root(root, path)
    if where is None:
        raise BakegenError(f"{path}: not in the project {root}")
    return where
