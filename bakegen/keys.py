"""What each `bakegen.toml` key accepts, declared where the value lives.

A settings field of the model becomes a config key with `key(...)`: its TOML path, the check
its value passes, the default shown to people and one line of doc. `bakegen.schema` collects
these declarations from the model's classes and derives everything else from them: validation,
the README's key table, `bakegen init`'s file and the checks of command-line overrides. Pure (no
I/O, no bakegen imports but `names`) so `model` can use it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field
from enum import Enum
from typing import Any

from bakegen.names import REGISTRY, REGISTRY_RULE, TAG, TAG_RULE, TARGET_NAME


class Invalid(Exception):
    """A value the key does not accept; `at` names the entry of a table that is wrong."""

    def __init__(self, reason: str, at: str = ""):
        super().__init__(reason)
        self.reason, self.at = reason, at


@dataclass(frozen=True)
class Check:
    """A check of one value: `run` returns the cleaned value or raises Invalid; `shows` is the
    accepted form as the README's key table writes it."""

    run: Callable[[Any], Any]
    shows: str
    entry: str = ""  # a table's: what its keys are ("scenario"), shown as `<path>.<scenario>`

    def __call__(self, value: Any) -> Any:
        return self.run(value)


@dataclass(frozen=True)
class Key:
    """One config key: `path` in the TOML (`<name>` stands for a name the user chooses)."""

    path: str
    check: Check
    doc: str  # the README's "meaning" cell; also `init`'s comment (markdown backticks dropped)
    default: str = ""  # as people read it ("" when the field's own default says it)
    init: str | None = None  # `init` writes: "value" (the project's), an example (commented out), None: nothing
    into: Callable[[Any], Any] | None = None  # the checked value as the field holds it (when they differ)


def key(path: str, check: Check, doc: str, *, default: Any = MISSING, default_factory: Any = MISSING,
        shown_default: str = "", init: str | None = None, into: Callable[[Any], Any] | None = None) -> Any:
    """A dataclass field that is also a config key (see `Key`)."""
    spec = Key(path, check, doc, shown_default, init, into)
    return field(default=default, default_factory=default_factory, metadata={"key": spec})


def type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


# --- the checks --------------------------------------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {type_name(value)}")
    if not unicodedata.is_normalized("NFC", value):
        raise Invalid("text not in Unicode NFC form; bake would silently change it")
    return value


string = Check(_string, "string")


def _scalar(value: Any) -> str:
    """Build args and labels: strings, or numbers written as such in TOML."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"expected a string or number, got {type_name(value)}")
    return _string(str(value))


scalar = Check(_scalar, "string or number")


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {type_name(value)}")
    return value


boolean = Check(_boolean, "bool")


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"expected a list of strings, got {type_name(value)}")
    return [_string(v) for v in value]


string_list = Check(_string_list, "list")


def choice(values: Iterable[str] | type[Enum]) -> Check:
    """One of `values`; an Enum's members come back as members."""
    enum = values if isinstance(values, type) and issubclass(values, Enum) else None
    allowed = tuple(m.value for m in enum) if enum else tuple(values)

    def run(value: Any) -> Any:
        if _string(value) not in allowed:
            raise Invalid(f"expected one of {', '.join(allowed)}, got {value!r}")
        return enum(value) if enum else value

    return Check(run, ", ".join(f"`{a}`" for a in allowed))


def whole_number(low: int, high: int, what: str = "a whole number", note: str = "") -> Check:
    def run(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"expected {what} from {low} to {high}{note}, got {value!r}")
        return value

    return Check(run, f"integer {low}-{high}")


def matching(pattern: re.Pattern[str], what: str, rule: str, form: str = "string") -> Check:
    """A string `pattern` matches in full; otherwise "'x' is not <what> (<rule>)"."""
    def run(value: Any) -> str:
        if not pattern.match(_string(value)):
            raise Invalid(f"{value!r} is not {what} ({rule})")
        return value

    return Check(run, form)


registry = matching(REGISTRY, "a registry", REGISTRY_RULE)
tag = matching(TAG, "a valid image tag", TAG_RULE)
bake_name = matching(TARGET_NAME, "a valid bake name", "letters, digits, _ and - only")
bake_names = Check(lambda value: [bake_name(v) for v in _string_list(value)], "list")

# A bake expression inside a string (`${REGISTRY}`, `${lower(X)}`): bake evaluates it; no nesting.
BAKE_EXPRESSION = re.compile(r"\$\{([^{}]*)\}")
_REFERENCE_TEXT = re.compile(r"^[A-Za-z0-9._/:@-]+\Z")  # what is left of an image reference without its expressions


def is_reference(text: str) -> bool:
    """A whole image reference (`ghcr.io/acme/web:1.2`, `${IMAGE}:1`) rather than a tag of one (`1.2`)."""
    return any(ch in BAKE_EXPRESSION.sub("x", text) for ch in "/:")


def _image_ref(value: Any) -> str:
    literal = BAKE_EXPRESSION.sub("x", _string(value))
    if "${" in literal or not _REFERENCE_TEXT.match(literal):
        raise Invalid(f"{value!r} is not an image reference (registry/name[:tag], bake variables as ${{NAME}})")
    return value


image_ref = Check(_image_ref, "string")


def _image_tags(value: Any) -> list[str]:
    for entry in _string_list(value):
        if is_reference(entry):
            _image_ref(entry)
        elif not TAG.match(BAKE_EXPRESSION.sub("x", entry)) or "${" in BAKE_EXPRESSION.sub("x", entry):
            raise Invalid(f"{entry!r} is neither a tag ({TAG_RULE}, bake variables as ${{NAME}}) nor an image "
                          "reference")
    return value


image_tags = Check(_image_tags, "list")

MAX_VARIANTS = 256  # variants of one target
_MATRIX_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_MATRIX_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+\Z")  # a tag's characters (and +): it names the variant's tag


def _matrix(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not value:
        raise Invalid(f"expected a table of lists, got {type_name(value)}")
    for name, values in value.items():
        if not _MATRIX_KEY.match(name):
            raise Invalid(f"{name!r} is not a matrix key (a letter or _, then letters, digits, _)", f".{name}")
        items = [str(v) for v in values] if isinstance(values, list) and all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in values) else None
        if not items or len(set(items)) != len(items) or not all(_MATRIX_VALUE.match(v) for v in items):
            raise Invalid("expected a list of distinct values (letters, digits, _ . + -)", f".{name}")
        value[name] = items
    variants = math.prod(len(items) for items in value.values())
    if variants > MAX_VARIANTS:  # each is a target bake builds: a product this large is a mistake, and unbounded work
        raise Invalid(f"{variants} variants; at most {MAX_VARIANTS} a target")
    return value


matrix = Check(_matrix, "table of lists")

_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9.]+)?\Z")


def _platforms(value: Any) -> list[str]:
    for platform in _string_list(value):
        if not _PLATFORM.match(platform):
            raise Invalid(f"{platform!r} is not a platform (os/arch[/variant], e.g. linux/amd64)")
    return value


platforms = Check(_platforms, "list")
_SECRET_KEYS = {"id", "type", "src", "source", "env"}


def _secrets(value: Any) -> list[str]:
    """bake `secret` entries: id=NAME plus src=PATH or env=VAR (bake rejects the whole file otherwise)."""
    for entry in _string_list(value):
        fields = dict(part.split("=", 1) for part in entry.split(",") if "=" in part)
        if "id" not in fields or len(fields) != len(entry.split(",")) or set(fields) - _SECRET_KEYS:
            raise Invalid(f"{entry!r} is not a secret (id=NAME,env=VAR or id=NAME,src=PATH)")
    return value


secrets = Check(_secrets, "list")
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # the scanner's (trivy's) levels


def _severities(value: Any) -> str:
    """The levels that fail the scan, comma-separated as trivy reads them."""
    if not all(level in SEVERITIES for level in _string(value).split(",")):
        raise Invalid(f"expected a comma-separated list of {', '.join(SEVERITIES)}, got {value!r}")
    return value


severities = Check(_severities, "string")
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|s)?\s*\Z")


def budget_form(value: Any) -> tuple[str, float]:
    """A budget's value, whatever it is for: ("seconds", 30) for 30 or "30s", ("percent_of_cold", 5)
    for "5%". The names a budget may have are the bench's business (`bench.budgets`)."""
    m = _BUDGET.match(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    if not m:
        raise Invalid(f"{value!r} is not a budget (seconds such as 30, or a share of cold such as \"5%\")")
    return ("percent_of_cold" if m.group(2) == "%" else "seconds"), float(m.group(1))


budgets = Check(lambda v: [budget_form(item) for item in (v if isinstance(v, list) else [v])],
                'number, `"N%"` or a list')


def table_of(check: Check, entry: str, names: Check | None = None) -> Check:
    """A table whose entries each pass `check` (and whose keys pass `names`); errors name the entry."""
    def run(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Invalid(f"expected a table, got {type_name(value)}")
        clean = {}
        for name, item in value.items():
            try:
                if names is not None:
                    names(name)
                clean[name] = check(item)
            except Invalid as e:
                raise Invalid(e.reason, f".{name}{e.at}") from None
        return clean

    return Check(run, check.shows, entry)  # the README shows each entry: `<path>.<entry>`, its form
