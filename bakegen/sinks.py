"""One escaping function per sink that repository text reaches (HCL strings have theirs in hcl.py):
the terminal, TOML, YAML, and GitHub's environment and output files.

A repository's names and values are input, never code (design.md, "The trust model"): a newline
in a folder name must not end a comment and start a TOML table, a workflow key or a
`$GITHUB_ENV` line of its own, and an escape sequence must not reach a terminal. Text reaches
each sink only through its function here. Printable text passes unchanged, so ordinary output
stays byte for byte what it was; hostile text is escaped so the sink reads back exactly the
original (TOML, YAML, GitHub's files) or shows it visibly (comments, the terminal). Only what no
sink can hold is refused: text that is not Unicode (a file name whose bytes are not UTF-8), and
`${{` in a workflow value, which GitHub would evaluate.
"""

from __future__ import annotations

import re

from bakegen.errors import BakegenError


def _code(ch: str, short: bool = True) -> str:
    """`ch` as a backslash escape of its code point: \\x1b (when `short`), \\u202e, \\U0001f600."""
    code = ord(ch)
    if code <= 0xFF and short:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _shown(text: str, keep: str) -> str:
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _code(ch) for ch in text)


def visible(text: str) -> str:
    """`text` as one line of printable characters, for a comment or a message: every other
    character (newline, CR, tab, ESC and the other C0/C1 controls, bidi overrides, zero-width
    and line separators, bytes that were not UTF-8) is shown escaped, e.g. `\\x1b`."""
    return _shown(text, "")


def terminal(text: str) -> str:
    """Text for a person's terminal or a CI log: its lines and tabs kept, every other character
    that is not printable shown escaped as in `visible`, so no escape sequence reaches it raw."""
    return "\n".join(_shown(line, "\t") for line in text.split("\n"))


def require_unicode(text: str, what: str) -> None:
    """Lone surrogates stand for bytes that were not UTF-8 (a file name): no file can hold them."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise BakegenError(f"{what} '{visible(text)}': not UTF-8 text; rename it")


# --- TOML (`bakegen init`) -----------------------------------------------------------------------

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def toml_string(text: str) -> str:
    """A TOML basic string that reads back as exactly `text`: quote, backslash and controls
    escaped (TOML has no \\x, so \\u001b), other non-printable characters as \\uXXXX."""
    if text.isprintable() and '"' not in text and "\\" not in text:  # the common case, at C speed
        return f'"{text}"'
    require_unicode(text, "TOML value")
    return '"' + "".join(
        _TOML_ESCAPES.get(ch) or (ch if ch.isprintable() else _code(ch, short=False)) for ch in text) + '"'


def toml_key(text: str) -> str:
    """A TOML key: bare when it can be, else quoted, so a dot or bracket in it stays in the key."""
    return text if _TOML_BARE_KEY.match(text) else toml_string(text)


def toml_array(items: list[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


# --- YAML (the workflow `bakegen ci` writes) -----------------------------------------------------

_YAML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_string(text: str, key: str) -> str:
    """A double-quoted YAML scalar that reads back as exactly `text` (`key` names the setting in
    errors): a newline, `#` or `: ` in it cannot start a key, a comment or a step of its own.

    `${{` is refused: GitHub evaluates expressions in any workflow value, so a value could read a
    secret into a step's environment.
    """
    require_unicode(text, key)
    if "${{" in text:
        raise BakegenError(f"{key}: '{visible(text)}': `${{{{` is a GitHub Actions expression, which bakegen "
                           "never writes into the workflow; remove it")
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_YAML_ESCAPES.get(ch) or (ch if ch.isprintable() else _code(ch)) for ch in text) + '"'


# --- $GITHUB_ENV and $GITHUB_OUTPUT (`bakegen ci-plan`) ------------------------------------------

_GITHUB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def github_file(values: dict[str, str]) -> str:
    """Lines for `$GITHUB_ENV` or `$GITHUB_OUTPUT` that set each name to exactly its value.

    `NAME=value` when the value is one printable line; otherwise GitHub's documented multi-line
    form, `NAME<<DELIMITER`, the value, `DELIMITER`, with a random delimiter (`ghadelimiter_<uuid>`,
    as GitHub's own toolkit writes it) that occurs nowhere in the value: a newline in a ref name
    or a config value cannot add a line of its own (`LD_PRELOAD=...`).
    """
    from uuid import uuid4  # here: the terminal's escapers, imported by every command, need none of it

    out = []
    for name, value in values.items():
        if not _GITHUB_NAME.match(name):
            raise ValueError(f"not a variable name: {name!r}")
        require_unicode(value, name)
        if value.isprintable():
            out.append(f"{name}={value}\n")
            continue
        delimiter = f"ghadelimiter_{uuid4()}"
        while delimiter in value:  # never in practice; checked because the value is not ours
            delimiter = f"ghadelimiter_{uuid4()}"
        out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)
