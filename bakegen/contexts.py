"""Where a Dockerfile that no compose file describes is built from: its build context, read from
what it copies (bakegen/dockerfile.py records each COPY/ADD source)."""

from __future__ import annotations

import glob
import os
import posixpath
import re
from pathlib import Path

from bakegen.dockerfile import Unresolved, expand, global_values
from bakegen.model import Dockerfile
from bakegen.paths import exists, join_path
from bakegen.reads import probe

SOURCE_NOT_FOUND = ("files copied that are neither beside the Dockerfile nor in a folder above it (a build "
                    "output?); the context is where the rest is, set targets.<name>.context if that is wrong")
SOURCE_UNRESOLVED = ("files copied whose path names a build arg without a value, not used to find the context (set "
                     "it in targets.<name>.args)")


def infer_context(root: Path, folder: str, filename: str, parsed: Dockerfile,
                  build_args: dict[str, str] | None = None) -> tuple[str, str, list[tuple[str, str]]]:
    """The build context of a Dockerfile no compose file describes: the repository root when it
    copies the whole context and then names its own folder in it (`COPY . /src` then
    `/src/cmd/tool/tool`: `docker build -f cmd/tool/Dockerfile .`); else its folder when what it
    copies is there, else the nearest folder above holding the most of it (the root at most). A
    source found nowhere (a build output absent from a clean clone) or naming a build arg without
    a value does not decide: it is a warning. Returns (context, Dockerfile relative to it, warnings)."""
    # A build arg reaches a stage's own `ARG X` too; the global ARGs' defaults otherwise.
    values = {**(build_args or {}), **global_values(parsed, build_args or {})}
    path = join_path(folder, filename)
    sources, warnings = [], []
    for line, source in parsed.sources:
        if "://" in source or source.startswith("git@"):
            continue
        try:
            source = expand(source, values)
        except Unresolved as e:
            warnings.append((SOURCE_UNRESOLVED, f"{path}:{line} {source[:80]} (ARG {e.name})"))
            continue
        # Relative to the context, which a source cannot leave (BuildKit reads `../x` as `x`).
        sources.append((line, posixpath.normpath("/" + source).lstrip("/") or "."))
    if not sources:
        return folder, filename, warnings
    if folder != "." and _names_its_folder_in_the_copy(parsed, folder, [ln for ln, s in sources if s == "."]):
        return ".", path, warnings
    candidates = [folder]
    while candidates[-1] not in (".", ""):
        candidates.append(posixpath.dirname(candidates[-1]) or ".")
    found = {c: [s for _, s in sources if _exists(os.path.join(root, c), s)] for c in candidates}
    best = max(candidates, key=lambda c: len(found[c]))  # the nearest of the best: max keeps the first
    if not found[best]:
        best = folder
    warnings += [(SOURCE_NOT_FOUND, f"{path}:{line} {source[:80]}") for line, source in sources
                 if source not in found[best]]
    return best, filename if best == folder else posixpath.relpath(path, best), warnings


def _names_its_folder_in_the_copy(parsed: Dockerfile, folder: str, whole_copies: list[int]) -> bool:
    """Whether an instruction after a `COPY . <dest>` names `folder` as a path inside the copy
    (`/src/loki/cmd/loki/loki`, `./frontend`, `WORKDIR frontend`): the file expects the
    repository's root as its context. A one-part folder must stand as a relative path (`/app`,
    `/usr/src/app` are the image's own folders, not the repository's `app/`)."""
    if not whole_copies:
        return False
    first = min(whole_copies)
    before = r"(?:^|[\s\"'=,\[]|\./)" if "/" not in folder else r"(?:^|[\s\"'=,\[]|\./|/)"
    pattern = re.compile(before + re.escape(folder) + r"(?=$|[/\s\"',\]])")  # literals and classes: linear
    return any(pattern.search(i.text[:4096]) for i in parsed.instructions
               if i.line > first and not (i.keyword in ("COPY", "ADD") and i.flag("from") is None))


def _exists(base: str, source: str) -> bool:
    if source == ".":
        return True
    if any(ch in source for ch in "*?["):
        probe(base)  # glob lists the folders it searches (recorded as read)
        return bool(glob.glob(source, root_dir=base))
    return exists(os.path.join(base, source))
