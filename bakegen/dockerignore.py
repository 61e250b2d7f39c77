"""`.dockerignore` as BuildKit reads it: which files of a context reach the build."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

# Entries every context should ignore (secrets, dependency trees, caches, local data).
RECOMMENDED = (
    "node_modules/", "__pycache__/", ".git/", ".gitignore", ".env", "*.log", "data/", "*.pkl",
    ".venv/", "venv/", "dist/", "build/",
)


@dataclass(frozen=True)
class Rule:
    pattern: str
    exclusion: bool  # a `!pattern` line: brings matching files back
    regex: re.Pattern[str]


def parse(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        pattern = posixpath.normpath(line).lstrip("/") if line not in ("/", ".") else "."
        rules.append(Rule(pattern, exclusion, _compile(pattern)))
    return rules


def read(context_dir: Path) -> list[Rule]:
    path = context_dir / ".dockerignore"
    try:
        return parse(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return []


def is_ignored(rules: list[Rule], path: str) -> bool:
    """Whether `path` (posix, relative to the context) is left out of the build context.

    As in moby's patternmatcher: the last matching rule wins, and a rule matches a path when it
    matches the path itself or any folder above it.
    """
    parents = _self_and_parents(path)
    ignored = False
    for rule in rules:
        if any(rule.regex.match(p) for p in parents):
            ignored = not rule.exclusion
    return ignored


def missing_recommended(rules: list[Rule]) -> list[str]:
    present = {r.pattern.rstrip("/").removeprefix("**/") for r in rules if not r.exclusion}
    return [entry for entry in RECOMMENDED if entry.rstrip("/") not in present]


def _self_and_parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):  # `**/`: any number of folders, none included
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")
