"""The plan's values: what the renderer writes. Blocks of attributes whose values are literal
strings, lists, maps, booleans, or `Template`s that mix literal text with bake expressions
(`${REGISTRY}`). Literal text is escaped once, by the renderer."""

from __future__ import annotations

from dataclasses import dataclass, field

from bakegen.keys import BAKE_EXPRESSION


@dataclass(frozen=True)
class Expr:
    """A bake (HCL) expression, written inside `${...}` in a string or bare as a value."""

    code: str


@dataclass(frozen=True)
class Template:
    """A string made of literal parts and expressions."""

    parts: tuple[str | Expr, ...]


def bake_text(text: str) -> Template:
    """A config string whose `${...}` are bake expressions (`${REGISTRY}/web`): those kept as
    expressions, the rest literal text (escaped once, by the renderer)."""
    parts: list[str | Expr] = []
    pos = 0
    for m in BAKE_EXPRESSION.finditer(text):
        parts += [text[pos:m.start()], Expr(m.group(1))]
        pos = m.end()
    parts.append(text[pos:])
    return Template(tuple(p for p in parts if p != ""))


@dataclass(frozen=True)
class Conditional:
    """`COND ? value : []` in bake: a list that is empty unless a boolean variable is true."""

    condition: str
    value: list[Template]


@dataclass(frozen=True)
class Concat:
    """`concat(a, b, ...)` of conditional lists in bake."""

    parts: tuple[Conditional, ...]


Value = str | bool | Template | Expr | Conditional | Concat | list["Value"] | dict[str, "Value"]


@dataclass
class Variable:
    name: str
    default: Value
    description: str


@dataclass
class BakePlan:
    variables: list[Variable]
    groups: dict[str, list[str]]
    targets: dict[str, dict[str, Value]]  # name -> attributes in output order
    comments: dict[str, str] = field(default_factory=dict)  # name -> what made the target

