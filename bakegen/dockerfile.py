"""Read the FROM lines of a Dockerfile: enough of BuildKit's syntax to find stages and bases.

Handles parser directives (`# escape=`), line continuations, comments inside continuations,
heredocs (whose bodies may hold anything, even a line starting with FROM), `--platform` flags
and global `ARG` defaults used in FROM (`FROM ${BASE}`).
"""

from __future__ import annotations

import re
from pathlib import Path

from bakegen.model import BakegenError, Dockerfile, Stage

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}


def read_dockerfile(path: Path, display: str | None = None) -> Dockerfile:
    """Parse the file at `path`; errors name it as `display` (a path relative to the project)."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BakegenError(f"{shown}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise BakegenError(f"{shown}: cannot read ({e.strerror})") from None
    return parse_dockerfile(text, path, shown)


def parse_dockerfile(text: str, path: Path, shown: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    lines = text.splitlines()
    directives, first_line = _directives(lines)
    escape = directives.get("escape", "\\")
    for line_no, instruction in _instructions(lines, first_line, escape if escape in ("`", "\\") else "\\"):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            global_args.update(_parse_args(rest))
        elif keyword == "FROM":
            stages.append(_parse_from(rest, line_no, shown, global_args))
    if not stages:
        raise BakegenError(f"{shown}: no FROM instruction")
    return Dockerfile(path=path, stages=tuple(stages), syntax=directives.get("syntax"))


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives (`# key=value` lines before anything else), and the index after them."""
    found = {}
    count = 0
    for line in lines:
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        found[m.group(1).lower()] = m.group(2)
        count += 1
    return found, count


def _instructions(lines: list[str], i: int, escape: str):
    """Yield (first line number, instruction text) from line index i on, continuations joined."""
    while i < len(lines):
        stripped = lines[i].strip()
        start = i + 1
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        parts = []
        while stripped.endswith(escape) and i < len(lines):
            parts.append(stripped[:-1])
            # Comment and empty lines inside a continuation are dropped, as BuildKit does.
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            stripped = lines[i].strip() if i < len(lines) else ""
            i += 1
        parts.append(stripped.rstrip(escape))
        instruction = " ".join(p.strip() for p in parts if p.strip())
        keyword = instruction.split(" ", 1)[0].upper()
        if keyword in _HEREDOC_INSTRUCTIONS:
            for strip_tabs, _, word in _HEREDOC.findall(instruction):
                while i < len(lines):
                    body = lines[i].lstrip("\t") if strip_tabs else lines[i]
                    i += 1
                    if body.rstrip("\r") == word:
                        break
        yield start, instruction


def _parse_args(rest: str) -> dict[str, str]:
    args = {}
    for token in rest.split():
        name, eq, value = token.partition("=")
        if eq:
            args[name] = value.strip("\"'")
    return args


def _substitute(value: str, args: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name in args and args[name] != "":
            return args[name]
        if m.group(2) is not None:
            return m.group(2)
        return m.group(0)

    return _VAR.sub(repl, value)


def _parse_from(rest: str, line_no: int, shown: str, args: dict[str, str]) -> Stage:
    tokens = [t for t in rest.split() if not t.startswith("--")]
    if not tokens:
        raise BakegenError(f"{shown}:{line_no}: FROM without an image")
    image = _substitute(tokens[0], args)
    name = None
    if len(tokens) >= 3 and tokens[1].lower() == "as":
        name = tokens[2]
    elif len(tokens) != 1:
        raise BakegenError(f"{shown}:{line_no}: cannot read 'FROM {rest}' (expected FROM image [AS name])")
    return Stage(image=image, name=name, line=line_no)


def normalize_image_ref(ref: str) -> str:
    """The form buildx matches `contexts` keys against: lowercase, no docker.io/library/, no :latest."""
    ref = ref.lower()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if ref.endswith(":latest"):
        ref = ref[: -len(":latest")]
    return ref
