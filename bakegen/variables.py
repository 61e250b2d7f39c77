"""`${...}` expansion, shared by compose interpolation, `.env` files and Dockerfile ARGs, with
bounds: a repository may nest defaults hundreds deep (`${A:-${A:-...}}`) or double a value on
every line (`A=${A}${A}`), and neither may cost more than a few milliseconds.

Both dialects know `$NAME`, `${NAME}`, `${NAME-word}`, `${NAME+word}`, `${NAME?message}` and
their `:` forms (`:` also treats an empty value as unset); words nest. They differ in the escape
of a literal `$` (compose: `$$`; a Dockerfile: `\\$`) and in what an unset `${NAME}` becomes
(compose: empty; for bakegen's reading of a FROM: unknown), which callers decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bakegen.model import BakegenError

MAX_DEPTH = 32  # `${A:-${B:-...}}` nesting; real files use two or three
MAX_LENGTH = 64 * 1024  # characters of one expanded value; build args and image names are short

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


class ExpansionError(BakegenError):
    """An expansion refused: too deep, too long, or `${NAME?message}` with NAME unset. Callers
    prefix the file (and line) it came from."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class Required(ExpansionError):
    """`${NAME?message}` (or `:?`) with NAME unset: the message is the file author's own."""

    def __init__(self, name: str, message: str):
        super().__init__(name, message or "required but not set")
        self.message = message


class Unsupported(ValueError):
    """A `${NAME<op>...}` form this dialect does not evaluate (`#`, `%`, `/`, ...), or no closing `}`."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def expand(text: str, values: Mapping[str, str], *, escape: str, missing: Callable[[str], str],
           _depth: int = 0) -> str:
    """`text` with its variables replaced from `values`. `escape` is what precedes a literal `$`
    ("$" for compose's `$$`, "\\\\" for a Dockerfile's `\\$`); `missing(name)` gives the value of
    a plain reference to an unset variable (or raises)."""
    if _depth > MAX_DEPTH:
        raise ExpansionError(_first_name(text), f"variables nested more than {MAX_DEPTH} deep")
    if "$" not in text and len(text) <= MAX_LENGTH:  # most words: nothing to expand, nothing escaped
        return text
    out: list[str] = []
    size = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == escape and text.startswith("$", i + 1):
            piece, i = "$", i + 2
        elif ch == "$" and text.startswith("{", i + 1):
            end = _closing_brace(text, i + 2, escape)
            piece = _braced(text[i + 2:end], values, escape, missing, _depth)
            i = end + 1
        elif ch == "$" and i + 1 < len(text) and text[i + 1] in _NAME_START:
            end = _name_end(text, i + 1)
            name = text[i + 1:end]
            piece = values[name] if name in values else missing(name)
            i = end
        else:
            piece, i = ch, i + 1
        size += len(piece)
        if size > MAX_LENGTH:
            raise ExpansionError(_first_name(text), f"expands to more than {MAX_LENGTH} characters")
        out.append(piece)
    return "".join(out)


def _braced(inner: str, values: Mapping[str, str], escape: str, missing: Callable[[str], str], depth: int) -> str:
    end = _name_end(inner, 0) if inner[:1] in _NAME_START else 0
    if not end:
        raise Unsupported(inner)
    name, rest = inner[:end], inner[end:]
    if not rest:
        return values[name] if name in values else missing(name)
    colon = rest.startswith(":")
    op, word = rest[colon:colon + 1], rest[colon + 1:]
    is_set = name in values and (values[name] != "" or not colon)
    if op == "-":
        return values[name] if is_set else expand(word, values, escape=escape, missing=missing, _depth=depth + 1)
    if op == "+":
        return expand(word, values, escape=escape, missing=missing, _depth=depth + 1) if is_set else ""
    if op == "?":
        if is_set:
            return values[name]
        raise Required(name, expand(word, values, escape=escape, missing=lambda _: "", _depth=depth + 1))
    raise Unsupported(name)


def _name_end(text: str, i: int) -> int:
    while i < len(text) and text[i] in _NAME_CHARS:
        i += 1
    return i


def _closing_brace(text: str, i: int, escape: str) -> int:
    """The index of the `}` closing the `${` before i, nested `${...}` skipped."""
    depth = 1
    while i < len(text):
        ch = text[i]
        if ch == escape and text.startswith("$", i + 1):
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Unsupported(_first_name(text))


def _first_name(text: str) -> str:
    """The first variable named in `text`, for a message ("?" when none)."""
    i = text.find("$")
    while i != -1:
        j = i + 1 + (text.startswith("{", i + 1))
        end = _name_end(text, j)
        if end > j:
            return text[j:end]
        i = text.find("$", i + 1)
    return "?"
