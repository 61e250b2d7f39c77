"""HCL text for bake: the one escaping function for strings, the one for comments, and values
written as HCL."""

from __future__ import annotations

import re
import unicodedata

from bakegen.model import BakegenError
from bakegen.plan_values import Concat, Conditional, Expr, Template, Value
from bakegen.sinks import require_unicode, visible

_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t]|[$%]\{')
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """Body of an HCL quoted string that bake reads back as exactly `text`.

    Backslash, quote and line breaks get backslash escapes; `${` and `%{` are doubled into
    `$${` and `%%{` so bake does not interpolate them; other non-printables become \\uNNNN.
    Text not in Unicode NFC form is refused: HCL normalises every string, escaped or not; so is
    text that is not Unicode (a file name whose bytes are not UTF-8).
    """
    if not unicodedata.is_normalized("NFC", text):
        raise BakegenError(f"{text!r} is not in Unicode NFC form, which bake would silently change")
    if text.isprintable() and not _NEEDS_ESCAPE.search(text):  # the common case, at C speed
        return text
    require_unicode(text, "HCL string")
    out = []
    for i, ch in enumerate(text):
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch in "$%" and text[i + 1 : i + 2] == "{":
            out.append(ch + ch)
        elif not ch.isprintable() and ch != " ":
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def comment(text: str) -> str:
    """A `#` comment line holding free text (a compose service name, a folder's path) on one
    printable line: a newline in it would end the comment and let the text write a block of its
    own (a `target` adding a secret to another), so it and other controls are shown escaped."""
    return f"# {visible(text)}"


def quote(text: str) -> str:
    return f'"{escape(text)}"'


def template(value: Template) -> str:
    return '"' + "".join(
        f"${{{part.code}}}" if isinstance(part, Expr) else escape(part) for part in value.parts
    ) + '"'


def value(v: Value, indent: str = "  ") -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, Template):
        return template(v)
    if isinstance(v, Expr):
        return v.code
    if isinstance(v, Conditional):
        return f"{v.condition} ? {value(v.value, indent)} : []"
    if isinstance(v, Concat):
        return "concat(" + ", ".join(value(part, indent) for part in v.parts) + ")"
    if isinstance(v, list):
        if not v:
            return "[]"
        if len(v) == 1 and isinstance(v[0], str) and len(v[0]) < 60:
            return f"[{value(v[0])}]"
        inner = indent + "  "
        return "[\n" + "".join(f"{inner}{value(x, inner)},\n" for x in v) + indent + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = indent + "  "
        return "{\n" + "".join(
            f"{inner}{quote(k)} = {value(x, inner)}\n" for k, x in v.items()
        ) + indent + "}"
    raise TypeError(f"no HCL form for {type(v).__name__}")


def block(kind: str, name: str, attrs: dict[str, Value]) -> str:
    lines = [f"{kind} {quote(name)} {{"]
    lines += [f"  {k} = {value(v)}" for k, v in attrs.items()]
    lines.append("}")
    return "\n".join(lines) + "\n"
