"""`bakegen.toml` as data: parse the TOML, check every key and type against the schema, and
say where it is wrong (the key path, or the line of malformed TOML). Knows nothing of projects."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from bakegen.bench.budgets import Budget, budget_from
from bakegen.model import BakegenError, CacheBackend, Compression, Kind
from bakegen.names import REGISTRY, REGISTRY_RULE, TAG, TAG_RULE, TARGET_NAME, first_collision
from bakegen.paths import read_regular

CONFIG_FILE = "bakegen.toml"

# A schema is a dict of key -> checker; a checker returns the cleaned value or raises _Invalid.


class _Invalid(Exception):
    pass


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_type_name(value)}")
    if not unicodedata.is_normalized("NFC", value):
        raise _Invalid("text not in Unicode NFC form; bake would silently change it")
    return value


def _scalar(value: Any) -> str:
    """Build args and labels: strings, or numbers written as such in TOML."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"expected a string or number, got {_type_name(value)}")
    return _string(str(value))


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_type_name(value)}")
    return value


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"expected a list of strings, got {_type_name(value)}")
    return [_string(v) for v in value]


def _choice(*allowed: str):
    def check(value: Any) -> str:
        if _string(value) not in allowed:
            raise _Invalid(f"expected one of {', '.join(allowed)}, got '{value}'")
        return value

    return check


def _whole_number(low: int, high: int, what: str, note: str = ""):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"expected {what} from {low} to {high}{note}, got {value!r}")
        return value

    return check


_compression_level = _whole_number(0, 22, "a whole number", " (gzip: 0 to 9)")
_minutes = _whole_number(1, 4320, "whole minutes")
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # the scanner's (trivy's) levels


def _severities(value: Any) -> str:
    """`ci.scan_severity`: the levels that fail the scan, comma-separated as trivy reads them."""
    levels = _string(value).split(",")
    if not all(level in SEVERITIES for level in levels):
        raise _Invalid(f"expected a comma-separated list of {', '.join(SEVERITIES)}, got '{value}'")
    return value


def _registry(value: Any) -> str:
    if not REGISTRY.match(_string(value)):
        raise _Invalid(f"{value!r} is not a registry ({REGISTRY_RULE})")
    return value


_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9.]+)?$")
_SECRET_KEYS = {"id", "type", "src", "source", "env"}


def _platforms(value: Any) -> list[str]:
    for platform in _string_list(value):
        if not _PLATFORM.match(platform):
            raise _Invalid(f"{platform!r} is not a platform (os/arch[/variant], e.g. linux/amd64)")
    return value


def _secrets(value: Any) -> list[str]:
    """bake `secret` entries: id=NAME plus src=PATH or env=VAR (bake rejects the whole file otherwise)."""
    for entry in _string_list(value):
        fields = dict(part.split("=", 1) for part in entry.split(",") if "=" in part)
        if "id" not in fields or len(fields) != len(entry.split(",")) or set(fields) - _SECRET_KEYS:
            raise _Invalid(f"{entry!r} is not a secret (id=NAME,env=VAR or id=NAME,src=PATH)")
    return value


def _tag(value: Any) -> str:
    if not TAG.match(_string(value)):
        raise _Invalid(f"'{value}' is not a valid image tag ({TAG_RULE})")
    return value


TARGET_SCHEMA = {
    "context": _string,
    "dockerfile": _string,
    "stage": _string,
    "kind": _choice(*(k.value for k in Kind)),
    "args": _scalar,  # tables: each value checked
    "labels": _scalar,
    "platforms": _platforms,
    "secrets": _secrets,
    "contexts": _string,
    "groups": _string_list,
}
_TABLES_IN_TARGET = {"args", "labels", "contexts"}


def _budgets(value: Any) -> list[Budget]:
    """[bench.budgets]: scenario = seconds, or "N%" of cold, or a list of both."""
    if not isinstance(value, dict):
        raise _Invalid(f"expected a table, got {_type_name(value)}")
    found = []
    for name, given in value.items():
        for item in given if isinstance(given, list) else [given]:
            try:
                found.append(budget_from(name, item))
            except ValueError as e:
                raise _InvalidAt(f"bench.budgets.{name}", str(e)) from None
    return found


SCHEMA = {
    "project": {
        "registry": _registry, "tag": _tag, "source": _string, "default_branch": _string,
        "exclude": _string_list,
    },
    "cache": {
        "backend": _choice(*(b.value for b in CacheBackend)),
        "repository": _string, "directory": _string, "mode": _choice("min", "max"),
        "export": _boolean, "compression": _choice(*(c.value for c in Compression)),
        "compression_level": _compression_level,
    },
    "bench": {"budgets": _budgets},
    "ci": {
        "runner_labels": _string_list, "registry": _string, "builder": _string, "max_storage": _string,
        "install": _string, "test_command": _string, "smoke_target": _string, "smoke_command": _string,
        "bench": _boolean, "bench_args": _string, "build_timeout_minutes": _minutes, "gpu_timeout_minutes": _minutes,
        "scan": _boolean, "scan_severity": _severities,
    },
}
_TOP_TABLES = {"images", "groups", "targets", "names"}


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


class _InvalidAt(Exception):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason


def _check(key: str, checker, value: Any) -> Any:
    try:
        return checker(value)
    except _Invalid as e:
        raise _InvalidAt(key, str(e)) from None


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _InvalidAt(key, f"expected a table, got {_type_name(value)}")
    return value


def _known(key: str, table: dict[str, Any], known: set[str]) -> None:
    for k in table:
        if k not in known:
            where = f"{key}.{k}" if key else k
            raise _InvalidAt(where, f"unknown key (known: {', '.join(sorted(known))})")


def _validate(raw: dict[str, Any]) -> dict[str, Any]:
    _known("", raw, set(SCHEMA) | _TOP_TABLES)
    out: dict[str, Any] = {}
    for section, fields in SCHEMA.items():
        table = _table(section, raw.get(section, {}))
        _known(section, table, set(fields))
        out[section] = {k: _check(f"{section}.{k}", fields[k], v) for k, v in table.items()}
    images = _table("images", raw.get("images", {}))
    out["images"] = {k: _check(f"images.{k}", _string, v) for k, v in images.items()}
    names = _table("names", raw.get("names", {}))
    out["names"] = {}
    for path, name in names.items():
        _check_name(f"names.{path}", _check(f"names.{path}", _string, name))
        out["names"][path] = name
    if collision := first_collision(out["names"]):
        (first, name), (second, _) = collision
        raise _InvalidAt(f"names.{first} and names.{second}", f"both name '{name}'; one target would replace the other")
    groups = _table("groups", raw.get("groups", {}))
    out["groups"] = {}
    for name, members in groups.items():
        _check_name(f"groups.{name}", name)
        out["groups"][name] = _check(f"groups.{name}", _string_list, members)
    out["targets"] = {}
    for name, fields in _table("targets", raw.get("targets", {})).items():
        key = f"targets.{name}"
        _check_name(key, name)
        fields = _table(key, fields)
        _known(key, fields, set(TARGET_SCHEMA))
        clean: dict[str, Any] = {}
        for field_name, value in fields.items():
            checker = TARGET_SCHEMA[field_name]
            if field_name in _TABLES_IN_TARGET:
                table = _table(f"{key}.{field_name}", value)
                clean[field_name] = {
                    k: _check(f"{key}.{field_name}.{k}", checker, v) for k, v in table.items()
                }
            else:
                clean[field_name] = _check(f"{key}.{field_name}", checker, value)
        out["targets"][name] = clean
    return out


def _check_name(key: str, name: str) -> None:
    if not TARGET_NAME.match(name):
        raise _InvalidAt(key, f"'{name}' is not a valid bake name (letters, digits, _ and - only)")


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), type(value).__name__)


