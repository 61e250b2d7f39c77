"""Read a Dockerfile as BuildKit reads it, as far as bakegen needs: stages, bases, references.

Handles parser directives (`# escape=`), a UTF-8 byte order mark, any bytes in comments, line
continuations, comments inside continuations, heredocs (whose bodies may hold anything, even a
line starting with FROM; `<<` inside a word such as `"a<<b"` or `$((1<<2))` is no heredoc),
`--platform` flags, global `ARG`s expanded in FROM as BuildKit's shell lexer does (`$X`, `${X}`,
`${X:-d}`, `${X-d}`, `${X:+a}`, `${X+a}`, nested), `COPY --from`, `RUN --mount=...,from=` and
the sources of COPY/ADD.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bakegen import variables
from bakegen.model import BakegenError, Dockerfile, Heredoc, Instruction, Mount, Reference, Stage
from bakegen.paths import Unreadable, read_regular

_DIRECTIVE_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9]*")
# BuildKit's rule: a word (quotes kept) that starts with `<<` and holds no other `<`.
_HEREDOC_WORD = re.compile(r"^\d*<<(-?)([^<]+)\Z")
_HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Set by BuildKit for every build; a FROM using them is resolved per platform, never by us.
PLATFORM_ARGS = frozenset({
    "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
})


EXCLUDE_HINT = "; fix it, or leave it out with project.exclude in bakegen.toml"


class NoFrom(BakegenError):
    """A file with no FROM: no Dockerfile (a variant's name can be a template's or a note's)."""


class Unresolved(Exception):
    """An expansion needs a variable that has no value (or a form bakegen does not evaluate);
    `message` is the file's own word for it (`${X:?message}`), if any."""

    def __init__(self, name: str, message: str = ""):
        super().__init__(name)
        self.name = name
        self.message = message
        self.stage: Stage | None = None  # set where a FROM line needed it


def read_dockerfile(path: Path, display: str | None = None) -> Dockerfile:
    """Parse the file at `path`; errors name it as `display` (a path relative to the project)."""
    shown = display or str(path)
    try:
        data = read_regular(path, shown)
    except Unreadable as e:
        raise Unreadable(f"{e}{EXCLUDE_HINT}") from None
    # BuildKit reads bytes: a BOM is skipped and bytes that are not UTF-8 (a Latin-1 comment)
    # stay harmless; only instruction text matters here.
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    return parse_dockerfile(text, path, shown)


def parse_dockerfile(text: str, path: Path, shown: str) -> Dockerfile:
    global_args: list[tuple[str, str | None]] = []
    stages: list[Stage] = []
    references: list[Reference] = []
    sources: list[tuple[int, str]] = []
    instructions: list[Instruction] = []
    lines = text.removeprefix("\ufeff").splitlines()
    directives, first_line = _directives(lines)
    escape = directives.get("escape", "\\")
    escape = escape if escape in ("`", "\\") else "\\"
    for line_no, text, heredocs in _instructions(lines, first_line, escape):
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            global_args += arg_declarations(rest)
        elif keyword == "FROM":
            stages.append(_parse_from(rest, line_no, shown, _global_defaults(global_args, shown, line_no)))
        if not stages:
            continue
        instruction = instruction_record(line_no, len(stages) - 1, keyword, rest, heredocs)
        instructions.append(instruction)
        if keyword in ("COPY", "ADD"):
            if instruction.flag("from") is not None:
                references.append(Reference(instruction.flag("from") or "", line_no, instruction.stage))
            else:
                sources += [(line_no, s) for s in instruction.sources if not _HEREDOC_WORD.match(s)]
        for mount in instruction.mounts:
            if mount.from_ is not None:
                references.append(Reference(mount.from_, line_no, instruction.stage))
            elif mount.type == "bind":  # a bind mount without from= reads the context
                sources.append((line_no, mount.source))
    if not stages:
        raise NoFrom(f"{shown}: no FROM instruction{EXCLUDE_HINT}")
    return Dockerfile(path=path, stages=tuple(stages), syntax=directives.get("syntax"),
                      global_args=tuple(global_args), references=tuple(references), sources=tuple(sources),
                      instructions=tuple(instructions))


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives (`# key=value` lines before anything else), and the index after them."""
    found = {}
    count = 0
    for line in lines:
        # Split by hand, not by a regex: `(.+?)\s*$` over a line padded with spaces is quadratic.
        body = line.strip()
        key, eq, value = body[1:].partition("=")
        key, value = key.strip(), value.strip()
        if not body.startswith("#") or not eq or not value or not _DIRECTIVE_KEY.fullmatch(key):
            break
        found[key.lower()] = value
        count += 1
    return found, count


def _instructions(lines: list[str], i: int, escape: str):
    """Yield (first line number, instruction text, heredocs) from line index i on, continuations
    joined."""
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
        heredocs = []
        if keyword in _HEREDOC_INSTRUCTIONS and "<<" in instruction:
            for word in split_words(instruction):
                m = _HEREDOC_WORD.match(word)
                if not m:
                    continue
                strip_tabs, end = m.group(1), m.group(2).strip("\"'")
                body_lines = []
                while i < len(lines):
                    body = lines[i].lstrip("\t") if strip_tabs else lines[i]
                    i += 1
                    if body.rstrip("\r") == end:
                        break
                    body_lines.append(body)
                heredocs.append(Heredoc(end, "\n".join(body_lines)))
        yield start, instruction, tuple(heredocs)


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, quotes kept, a quoted space inside one word."""
    if "'" not in text and '"' not in text:
        return text.split()
    words, word, quote = [], [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            word.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                word.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            word.append(ch)
        elif ch.isspace():
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(ch)
        i += 1
    if word:
        words.append("".join(word))
    return words


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


def arg_declarations(rest: str) -> list[tuple[str, str | None]]:
    args = []
    for token in split_words(rest):
        name, eq, value = token.partition("=")
        args.append((name, _unquote(value) if eq else None))
    return args


def instruction_record(line: int, stage: int, keyword: str, rest: str,
                       heredocs: tuple[Heredoc, ...] = ()) -> Instruction:
    """One instruction parsed once: flags, the words after them, mounts, and for ONBUILD the
    instruction it holds (parsed the same way)."""
    onbuild = None
    if keyword == "ONBUILD":
        inner, _, inner_rest = rest.partition(" ")
        onbuild = instruction_record(line, stage, inner.upper(), inner_rest.strip())
    flags, words = _flags_and_words(rest)
    mounts = tuple(_mount(value) for name, value in flags if name == "mount") if keyword == "RUN" else ()
    return Instruction(line, stage, keyword, rest, tuple(flags), tuple(words), mounts, heredocs, onbuild)


def _flags_and_words(rest: str) -> tuple[list[tuple[str, str]], list[str]]:
    """`--key=value` flags at the start (keys lowercased, values unquoted), and the words after
    them (the JSON form read)."""
    words = split_words(rest)
    flags = []
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags.append((key.lower(), _unquote(value)))
    remainder = " ".join(words)
    if remainder.startswith("["):
        try:
            parsed = json.loads(remainder)
            if isinstance(parsed, list) and all(isinstance(w, str) for w in parsed):
                return flags, parsed
        except ValueError:
            pass
    return flags, [_unquote(w) for w in words]


def _mount(value: str) -> Mount:
    fields = [(k.strip().lower(), v.strip()) for k, _, v in (part.partition("=") for part in value.split(","))]
    kind = next((v for k, v in reversed(fields) if k == "type"), "bind")
    return Mount(kind, tuple(fields))


def copy_flags(rest: str) -> tuple[dict[str, str], list[str]]:
    """`--key=value` flags at the start of COPY/ADD (the last of each), and the words after them."""
    flags, words = _flags_and_words(rest)
    return dict(flags), words


def run_mounts(rest: str) -> list[dict[str, str]]:
    """RUN's mounts as {option: value} (the typed form: `Instruction.mounts`)."""
    flags, _ = _flags_and_words(rest)
    return [dict(_mount(value).options) for name, value in flags if name == "mount"]


def global_values(parsed: Dockerfile, build_args: dict[str, str]) -> dict[str, str]:
    """The global ARGs as BuildKit sets them (see `arg_values`)."""
    return arg_values(parsed.global_args, build_args)


def arg_values(declarations: list[tuple[str, str | None]] | tuple[tuple[str, str | None], ...],
               build_args: dict[str, str]) -> dict[str, str]:
    """ARG values as BuildKit sets them: a build arg wins over the default, and a default may use
    the ARGs declared before it. An ARG with neither (or a default that does not resolve) has none."""
    values: dict[str, str] = {}
    for name, default in declarations:
        if name in build_args:
            values[name] = build_args[name]
        elif default is not None:
            try:
                values[name] = expand(default, values)
            except Unresolved:
                values.pop(name, None)
    return values


def expand(word: str, values: dict[str, str]) -> str:
    """`word` with its variables replaced as BuildKit's shell lexer does; `Unresolved` names the
    first variable without a value (or a form beyond `-`, `+`, `?` and their `:` variants);
    `variables.ExpansionError` when it nests or grows past the bounds."""
    try:
        return variables.expand(word, values, escape="\\", missing=_unresolved)
    except variables.Unsupported as e:
        raise Unresolved(e.name) from None
    except variables.Required as e:
        raise Unresolved(e.name, e.message) from None


def _unresolved(name: str) -> str:
    raise Unresolved(name)


def _global_defaults(declarations: list[tuple[str, str | None]], shown: str, line_no: int) -> dict[str, str]:
    try:
        return arg_values(declarations, {})
    except variables.ExpansionError as e:
        raise BakegenError(f"{shown}:{line_no}: the ARGs before this FROM: {e}") from None


def _parse_from(rest: str, line_no: int, shown: str, args: dict[str, str]) -> Stage:
    tokens = [t for t in split_words(rest) if not t.startswith("--")]
    if not tokens:
        raise BakegenError(f"{shown}:{line_no}: FROM without an image")
    raw = _unquote(tokens[0])  # `FROM "${BASE_IMAGE}"`: BuildKit's lexer drops the quotes
    name = None
    if len(tokens) >= 3 and tokens[1].lower() == "as":
        name = tokens[2]
    elif len(tokens) != 1:
        raise BakegenError(f"{shown}:{line_no}: cannot read 'FROM {rest}' (expected FROM image [AS name])")
    try:
        image = expand(raw, args)
    except Unresolved:
        image = raw
    except variables.ExpansionError as e:
        raise BakegenError(f"{shown}:{line_no}: FROM {raw[:80]}: {e}") from None
    return Stage(image=image, name=name, line=line_no, raw=raw)


def resolved_images(parsed: Dockerfile, build_args: dict[str, str],
                    stage: str | None = None) -> list[tuple[Stage, str | None]]:
    """Each stage the build of `stage` (default: the last, as `docker build` builds) needs, in
    file order, with its FROM image as BuildKit expands it for these build args; None where a
    platform ARG decides (one image per platform). Stages the build never reaches are left out:
    BuildKit does not build them, so their FROM lines neither link nor need a value."""
    values = global_values(parsed, build_args)
    images: dict[int, str | None] = {}
    names = {s.name.lower(): i for i, s in enumerate(parsed.stages) if s.name}
    wanted = [names[stage.lower()]] if stage and stage.lower() in names else [len(parsed.stages) - 1]
    while wanted:
        index = wanted.pop()
        if index in images or index < 0:
            continue
        images[index] = image = _stage_image(parsed.stages[index], values)
        needs = [s.source.lower() for s in parsed.references if s.stage == index]
        needs += [image.lower()] if image is not None else []
        for need in needs:
            if need.isdigit() and int(need) < index:
                wanted.append(int(need))
            elif names.get(need, index) < index:  # only an earlier stage is a stage (BuildKit's rule)
                wanted.append(names[need])
    return [(parsed.stages[i], images[i]) for i in sorted(images)]


def _stage_image(stage: Stage, values: dict[str, str]) -> str | None:
    try:
        image = expand(stage.raw, values)
    except Unresolved as e:
        if e.name in PLATFORM_ARGS:
            return None
        e.stage = stage
        raise
    if not image.strip():
        e = Unresolved(next(iter(_NAME.findall(stage.raw)), stage.raw))
        e.stage = stage
        raise e
    return image


def missing_build_args(parsed: Dockerfile, build_args: dict[str, str], stage: str | None = None) -> list[str]:
    """The ARGs a FROM the build needs that have no value (nor default) for these build args."""
    trial, missing = dict(build_args), []
    while len(missing) <= len(parsed.global_args):
        try:
            resolved_images(parsed, trial, stage)
            break
        except Unresolved as e:
            if e.name in trial:  # a form not evaluated here: no value fixes it
                break
            missing.append(e.name)
            trial[e.name] = "x"
    return missing


def external_refs(parsed: Dockerfile, build_args: dict[str, str], stage: str | None = None) -> list[str]:
    """What the build of `stage` (default: the last) takes from outside the file: FROM images that
    are no earlier stage, and `COPY --from` / `RUN --mount from=` names that are no stage and no
    stage index, in the stages that build needs only (a FROM of a stage never built is no link)."""
    seen: set[str] = set()
    refs = []
    needed = set()
    for found, image in resolved_images(parsed, build_args, stage):
        needed.add(parsed.stages.index(found))
        if image is not None and image.lower() not in seen:
            refs.append(image)
        if found.name:
            seen.add(found.name.lower())
    stage_names = {s.name.lower() for s in parsed.stages if s.name}
    for ref in parsed.references:
        if ref.stage not in needed:
            continue
        if ref.source.lower() not in stage_names and not ref.source.isdigit() and "$" not in ref.source:
            refs.append(ref.source)
    return refs
