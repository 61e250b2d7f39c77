"""`bakegen.toml` as data: parse the TOML, check every key and type against the schema, and
say where it is wrong (the key path, or the line of malformed TOML). Knows nothing of projects.

The schema is the model's own settings fields (those declared with `keys.key`): `KEYS` collects
them, in the order the README and `bakegen init` show them. Nothing here names a key.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import MISSING, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from bakegen.keys import Invalid, Key, type_name
from bakegen.model import BakegenError, CacheSettings, CiSettings, Defaults, Project, Target
from bakegen.names import TARGET_NAME, first_collision
from bakegen.paths import read_regular

CONFIG_FILE = "bakegen.toml"
SETTINGS = (Project, CacheSettings, CiSettings, Defaults, Target)  # the classes whose fields may be keys
SECTIONS = ("project", "cache", "defaults", "images", "names", "groups", "targets", "bench", "ci")  # as shown
_NAME = "<name>"  # a path segment the user chooses (a target's name)


@dataclass(frozen=True)
class Field:
    """A key and where its value lives: the field `name` of an object of class `owner`."""

    owner: type
    name: str
    key: Key


def _collect() -> tuple[Field, ...]:
    found = [Field(cls, f.name, f.metadata["key"]) for cls in SETTINGS for f in fields(cls) if "key" in f.metadata]
    return tuple(sorted(found, key=lambda f: SECTIONS.index(f.key.path.split(".")[0])))  # stable: declared order


FIELDS = _collect()
KEYS = {f.key.path: f.key for f in FIELDS}


def _tree() -> dict[str, Any]:
    """The key paths as nested tables: a leaf is the Key, `<name>` a table of the user's names."""
    tree: dict[str, Any] = {}
    for path, spec in KEYS.items():
        *parents, last = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = spec
    return tree


_TREE = _tree()


def load_config(path: Path, shown: str) -> dict[str, Any]:
    """Read, parse and validate; the result holds only known keys with checked types."""
    try:
        text = read_regular(path, shown).decode("utf-8")
    except UnicodeDecodeError as e:
        raise BakegenError(f"{shown}: cannot read ({e})") from None
    return parse_config(text, shown)


def parse_config(text: str, shown: str) -> dict[str, Any]:
    """`load_config` of a text (an old version from git, say)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"{shown}:{m.group(1)}" if m else shown
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise BakegenError(f"{where}: malformed TOML: {reason}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise BakegenError(f"{shown}: malformed TOML: arrays or tables nested too deep") from None
    except ValueError as e:  # Python's int-str limit: an integer of thousands of digits
        m = re.search(r"[0-9_]{4000,}", text)  # linear: one character class, no nesting
        where = f"{shown}:{text.count(chr(10), 0, m.start()) + 1}" if m else shown
        raise BakegenError(f"{where}: malformed TOML: {str(e).split(';')[0]}") from None
    try:
        return _validate(raw)
    except _InvalidAt as e:
        raise BakegenError(f"{shown}: {e.key}: {e.reason}") from None


def check_override(path: str, value: Any, option: str) -> Any:
    """A command-line value for the key `path`, checked as the config's own (`--tag` is `project.tag`)."""
    try:
        return _into(KEYS[path], KEYS[path].check(value))
    except Invalid as e:
        raise BakegenError(f"{option}: {e.reason}") from None


class _InvalidAt(Exception):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason


def _validate(raw: dict[str, Any]) -> dict[str, Any]:
    out = _section("", raw, _TREE)
    if collision := first_collision(out["names"]):
        (first, name), (second, _) = collision
        raise _InvalidAt(f"names.{first} and names.{second}", f"both name '{name}'; one target would replace the other")
    return out


def _section(where: str, table: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    """`table` checked against `tree` (`where` is its path, "" for the file itself)."""
    known = set(tree) - {_NAME}
    out: dict[str, Any] = {}
    for name, value in table.items():
        at = f"{where}.{name}" if where else name
        node = tree.get(name, tree.get(_NAME))
        if node is None:
            raise _InvalidAt(at, f"unknown key (known: {', '.join(sorted(known))})")
        if isinstance(node, Key):
            out[name] = _check(at, node, value)
        else:
            if name not in tree and not TARGET_NAME.match(name):  # a name the user chose (a target's)
                raise _InvalidAt(at, f"'{name}' is not a valid bake name (letters, digits, _ and - only)")
            out[name] = _section(at, _table(at, value), node)
    if not where:  # every top-level table in the result, given or not: `config["names"]` needs no `.get`
        for name in sorted(known - set(out)):
            out[name] = _section(name, {}, tree[name]) if isinstance(tree[name], dict) else {}
    return out


def _check(at: str, spec: Key, value: Any) -> Any:
    try:
        return spec.check(value)
    except Invalid as e:
        raise _InvalidAt(at + e.at, e.reason) from None


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _InvalidAt(key, f"expected a table, got {type_name(value)}")
    return value


def _into(spec: Key, value: Any) -> Any:
    return spec.into(value) if spec.into else value


def apply(obj: object, config: dict[str, Any], prefix: str = "") -> None:
    """Set on `obj` each of its class's keys that `config` (checked, and below `prefix`) gives; a
    table is merged over the field's own."""
    for f in FIELDS:
        if f.owner is not type(obj) or not f.key.path.startswith(prefix):
            continue
        *parents, last = f.key.path.removeprefix(prefix).split(".")
        table = config
        for part in parents:
            table = table.get(part, {})
        if last not in table:
            continue
        value = _into(f.key, table[last])
        if isinstance(value, dict):
            getattr(obj, f.name).update(value)
        else:
            setattr(obj, f.name, value)


def key_table() -> str:
    """The README's table of keys (`scripts/config-table` prints it; a test compares the README)."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for f in FIELDS:
        path = f"{f.key.path}.<{f.key.check.entry}>" if f.key.check.entry else f.key.path
        rows.append(f"| `{path}` | {f.key.check.shows} | {_shown_default(f)} | {f.key.doc} |")
    return "\n".join(rows) + "\n"


def _shown_default(f: Field) -> str:
    if f.key.default:
        return f.key.default
    spec = next(d for d in fields(f.owner) if d.name == f.name)
    value = spec.default_factory() if spec.default_factory is not MISSING else spec.default
    if value is MISSING or value in ({}, [], "", None):
        return ""
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value.value if isinstance(value, Enum) else value)}`"


TABLE_START = "<!-- config-table: made by scripts/config-table from the schema; tests fail when it differs -->"
TABLE_END = "<!-- end of config-table -->"


def readme_with_key_table(readme: str) -> str:
    """`readme` with the text between the table's markers replaced by `key_table()`."""
    head, start, rest = readme.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise BakegenError(f"README: no `{TABLE_START}` ... `{TABLE_END}` to hold the key table")
    return f"{head}{start}\n{key_table()}{end}{tail}"
