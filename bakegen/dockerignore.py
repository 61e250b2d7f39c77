"""`.dockerignore` as BuildKit reads it: which files of a context reach the build."""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from bakegen.model import Project

# Entries every context should ignore (VCS data, secrets, logs), and more by what the context
# builds, told apart by its manifest files: a Go context needs no `__pycache__/`.
COMMON = (".git/", ".env", "*.log")
BY_KIND: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind: (manifests, entries)
    "python": (("requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "environment.yml"),
               ("__pycache__/", ".venv/", "venv/", "*.pkl", "data/")),
    "node": (("package.json",), ("node_modules/", "dist/")),
    "java": (("pom.xml", "build.gradle", "build.gradle.kts", "gradlew"), ("target/", "build/", ".gradle/")),
    "rust": (("Cargo.toml",), ("target/",)),
    "dotnet": (("*.csproj", "*.sln", "*.fsproj"), ("bin/", "obj/")),
}
# Everything above: what a context of every kind at once would need.
RECOMMENDED = tuple(dict.fromkeys([*COMMON, *(e for _, entries in BY_KIND.values() for e in entries)]))


def kinds_of(context_dir: Path) -> list[str]:
    """What the context builds, by the manifests at its top (several for a repository root)."""
    try:
        names = {p.name for p in context_dir.iterdir()}
    except OSError:
        return []
    return [kind for kind, (manifests, _) in BY_KIND.items()
            if any(fnmatch.filter(names, m) if "*" in m else m in names for m in manifests)]


def recommended_for(kinds: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*COMMON, *(e for k in kinds for e in BY_KIND[k][1])]))


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


def ignore_file(root: Path, context: str, dockerfile: str) -> Path:
    """The ignore file BuildKit uses: `<Dockerfile>.dockerignore` beside the Dockerfile when there
    is one (each Dockerfile of a shared context can leave out its own files), else the context's."""
    own = root / context / (dockerfile + ".dockerignore")
    return own if own.is_file() else root / context / ".dockerignore"


def read(context_dir: Path, path: Path | None = None) -> list[Rule]:
    """The rules of `path` (default: the context's `.dockerignore`); none when it is missing."""
    path = path or context_dir / ".dockerignore"
    try:
        return parse(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return []


def read_for(root: Path, context: str, dockerfile: str) -> list[Rule]:
    return read(root / context, ignore_file(root, context, dockerfile))


def rules_by_target(project: Project) -> dict[str, list[Rule]]:
    """Each target's ignore rules: what of its context never reaches its build."""
    return {name: read_for(project.root, t.context, t.dockerfile) for name, t in project.targets.items()}


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


def missing_recommended(rules: list[Rule], wanted: tuple[str, ...] = RECOMMENDED) -> list[str]:
    present = {r.pattern.rstrip("/").removeprefix("**/") for r in rules if not r.exclusion}
    return [entry for entry in wanted if entry.rstrip("/") not in present]


def _self_and_parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@functools.lru_cache(maxsize=4096)  # the same few patterns recur in every context
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
