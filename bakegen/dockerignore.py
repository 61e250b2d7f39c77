"""`.dockerignore` as BuildKit reads it: which files of a context reach the build."""

from __future__ import annotations

import fnmatch
import functools
import posixpath
from dataclasses import dataclass
from pathlib import Path

import re2

from bakegen.model import Project
from bakegen.paths import Outside, Unreadable, encodable, exists, is_file, read_text, within

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


MALFORMED = ("ignore patterns that are no pattern, matching nothing here (BuildKit fails a build whose "
             "context has one: 'syntax error in pattern')")
# BuildKit reads ignore files with Go's bufio.Scanner, which fails on a longer line.
MAX_LINE = 64 * 1024
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a malformed pattern is reported once, as a warning, not on stderr
_RE2_OPTIONS.never_capture = True


@dataclass(frozen=True)
class Rule:
    """One line of an ignore file, as moby/patternmatcher compiles it: an exact path, a prefix
    (`dir/**`), a suffix (`**/name`), or Go's regexp syntax matched by RE2 (linear in the path,
    where Python's `re` backtracks for minutes on `*a*a*a*a*a*b`)."""

    pattern: str
    exclusion: bool  # a `!pattern` line: brings matching files back
    line: int = 0
    kind: str = "exact"  # exact, prefix, suffix, regexp, or none (malformed: matches nothing)
    regex: re2._Regexp | None = None
    problem: str = ""  # why a malformed pattern is one

    def matches(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.pattern
        if self.kind == "prefix":
            return path.startswith(self.pattern[:-2])
        if self.kind == "suffix":
            suffix = self.pattern[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self.regex is not None and self.regex.match(encodable(path)) is not None


def parse(text: str) -> list[Rule]:
    """The rules of an ignore file, read as BuildKit's ignorefile.ReadAll and patternmatcher.New
    read it; a malformed line is kept as a rule matching nothing, its `problem` saying why."""
    rules = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if raw.startswith("#"):  # only at the very start of the line: `  #x` is a pattern
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        pattern = line[1:].strip() if exclusion else line
        if pattern:
            pattern = _go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        rules.append(_rule(pattern, exclusion, number, too_long=len(raw) > MAX_LINE))
    return rules


def ignore_file(root: Path, context: str, dockerfile: str) -> Path:
    """The ignore file BuildKit uses: `<Dockerfile>.dockerignore` beside the Dockerfile when there
    is one (each Dockerfile of a shared context can leave out its own files), else the context's."""
    own = root / context / (dockerfile + ".dockerignore")
    return own if is_file(own) else root / context / ".dockerignore"


def read(context_dir: Path, path: Path | None = None, root: Path | None = None) -> list[Rule]:
    """The rules of `path` (default: the context's `.dockerignore`); none when it is missing.
    With the repository's `root`, a file whose link leads outside it is `Unreadable`: nothing
    outside the repository is read (paths.within)."""
    path = path or context_dir / ".dockerignore"
    if not exists(path):
        return []
    if root is not None:
        try:
            within(root, path.relative_to(root).as_posix())
        except Outside as e:
            raise Unreadable(f"{path.relative_to(root).as_posix()}: {e}; not read") from None
    return parse(read_text(path, str(path)))


def read_for(root: Path, context: str, dockerfile: str) -> list[Rule]:
    return read(root / context, ignore_file(root, context, dockerfile), root)


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
        if rule.exclusion != ignored:  # it could not change the answer (patternmatcher skips it too)
            continue
        if any(rule.matches(p) for p in parents):
            ignored = not rule.exclusion
    return ignored


def problems(rules: list[Rule], shown: str) -> list[str]:
    """The malformed lines of an ignore file shown as `shown`, one item each."""
    return [f"{shown}:{r.line} {r.pattern or '!'} ({r.problem})" for r in rules if r.kind == "none"]


def missing_recommended(rules: list[Rule], wanted: tuple[str, ...] = RECOMMENDED) -> list[str]:
    present = {r.pattern.rstrip("/").removeprefix("**/") for r in rules if not r.exclusion}
    return [entry for entry in wanted if entry.rstrip("/") not in present]


def _self_and_parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _go_clean(pattern: str) -> str:
    """Go's filepath.Clean: like posixpath.normpath, but `//a` is `/a`."""
    cleaned = posixpath.normpath(pattern)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@functools.lru_cache(maxsize=4096)  # the same few patterns recur in every context
def _rule(pattern: str, exclusion: bool, line: int, too_long: bool = False) -> Rule:
    problem = ("a line longer than 64 KiB" if too_long else "a lone !" if exclusion and not pattern
               else _go_match_syntax_error(pattern))
    if problem:
        return Rule(pattern, exclusion, line, "none", problem=problem)
    kind, regex = _translate(pattern)
    if kind != "regexp":
        return Rule(pattern, exclusion, line, kind)
    try:
        return Rule(pattern, exclusion, line, kind, re2.compile(regex, options=_RE2_OPTIONS))
    except re2.error as e:  # Go's regexp refuses it too (`[z-a]`): BuildKit fails the build
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        return Rule(pattern, exclusion, line, "none", problem=reason.split(":")[0] or "not a pattern")


def _translate(pattern: str) -> tuple[str, str]:
    """patternmatcher's compile: the kind of match, and for `regexp` the regexp in Go's syntax
    (which RE2 shares). `[` and `]` pass through as they are, as BuildKit passes them."""
    out = ["^"]
    kind = "exact"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*" and pattern.startswith("*", i):
            i += 1
            if pattern.startswith("/", i):  # `**/` reads as `**`
                i += 1
            if i >= len(pattern):  # `**` at the end: anything
                if kind == "exact":
                    kind = "prefix"
                else:
                    out.append(".*")
                    kind = "regexp"
            else:  # any number of folders, none included
                out.append("(.*/)?")
                kind = "regexp"
            if i <= 3 and pattern.startswith("**"):  # the pattern starts with it
                kind = "suffix"
        elif ch == "*":
            out.append("[^/]*")
            kind = "regexp"
        elif ch == "?":
            out.append("[^/]")
            kind = "regexp"
        elif ch in ".+()|{}$":
            out.append("\\" + ch)
        elif ch == "\\":
            if i < len(pattern):
                out.append("\\" + pattern[i])
                i += 1
                kind = "regexp"
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = "regexp"
        else:
            out.append(ch)
    return kind, "".join(out) + "$"


def _go_match_syntax_error(pattern: str) -> str:
    """Why Go's filepath.Match calls `pattern` malformed ("" when it does not): patternmatcher
    checks every pattern with it first."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return "a trailing \\"
            i += 2
        elif ch == "[":
            i += 1 + pattern.startswith("^", i + 1)
            ranges = 0
            while not (pattern.startswith("]", i) and ranges):
                i, problem = _class_char(pattern, i)
                if not problem and pattern.startswith("-", i):
                    i, problem = _class_char(pattern, i + 1)
                if problem:
                    return problem
                ranges += 1
            i += 1
        else:
            i += 1
    return ""


def _class_char(pattern: str, i: int) -> tuple[int, str]:
    """Go's getEsc: one character of a class at i (`\\x` escapes), and the index after it."""
    if i >= len(pattern) or pattern[i] in "-]":
        return i, "an empty or unclosed [ ]" if i >= len(pattern) or pattern[i] == "]" else "a - out of place in [ ]"
    if pattern[i] == "\\":
        i += 1
    i += 1
    return i, "an unclosed [" if i >= len(pattern) else ""
