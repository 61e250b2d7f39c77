"""Read `bakegen.toml` and lay it over what discovery found. Errors name the key path or line."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from bakegen import dockerignore
from bakegen.budgets import Budget, budget_from
from bakegen.discover import default_stage, discover, inside, join_path, kind_of
from bakegen.dockerfile import Unresolved, read_dockerfile, resolved_images
from bakegen.model import BakegenError, CacheBackend, Compression, Kind, Project, Target
from bakegen.names import REGISTRY, REGISTRY_RULE, TAG, TAG_RULE, TARGET_NAME

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
    },
}
_TOP_TABLES = {"images", "groups", "targets", "names"}


def load_config(path: Path, shown: str) -> dict[str, Any]:
    """Parse and validate; the result holds only known keys with checked types."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"{shown}:{m.group(1)}" if m else shown
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise BakegenError(f"{where}: malformed TOML: {reason}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BakegenError(f"{shown}: cannot read ({e})") from None
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


def apply_config(project: Project, config: dict[str, Any], shown: str) -> None:
    """Lay the validated config over the discovered project (in place)."""
    settings = config["project"]
    project.registry = settings.get("registry", project.registry)
    project.tag = settings.get("tag", project.tag)
    project.source = settings.get("source", project.source)
    cache = config["cache"]
    if "backend" in cache:
        project.cache.backend = CacheBackend(cache["backend"])
    project.cache.repository = cache.get("repository", project.cache.repository)
    project.cache.directory = cache.get("directory", project.cache.directory)
    project.cache.mode = cache.get("mode", project.cache.mode)
    project.cache.export = cache.get("export", project.cache.export)
    if "compression" in cache:
        project.cache.compression = Compression(cache["compression"])
    project.cache.compression_level = cache.get("compression_level", project.cache.compression_level)
    if project.cache.compression == Compression.GZIP and (project.cache.compression_level or 0) > 9:
        raise BakegenError(f"{shown}: cache.compression_level: gzip levels go from 0 to 9")
    if project.cache.compression == Compression.UNCOMPRESSED and project.cache.compression_level is not None:
        raise BakegenError(f"{shown}: cache.compression_level: no level for uncompressed layers")
    project.cache.default_branch = settings.get("default_branch", project.cache.default_branch)
    project.bench_budgets = config["bench"].get("budgets", [])
    for key, value in config["ci"].items():
        setattr(project.ci, key, tuple(value) if key == "runner_labels" else value)
    if project.ci.smoke_target and project.ci.smoke_target not in project.targets:
        raise BakegenError(f"{shown}: ci.smoke_target: no target '{project.ci.smoke_target}'")
    project.image_replacements.update(config["images"])
    project.groups.update(config["groups"])
    for name, fields in config["targets"].items():
        _apply_target(project, name, fields, f"{shown}: targets.{name}")


def _apply_target(project: Project, name: str, fields: dict[str, Any], where: str) -> None:
    for key in ("context", "dockerfile"):
        if key in fields:
            path = fields["context"] if key == "context" else join_path(
                fields.get("context", project.targets[name].context if name in project.targets else "."), fields[key])
            if not inside(project.root, path):
                raise BakegenError(f"{where}.{key}: {fields[key]!r} is outside the repository; bake would send "
                                   "files from elsewhere (use contexts for a folder outside)")
    target = project.targets.get(name)
    if target is None:
        if "context" not in fields:
            raise BakegenError(f"{where}: no folder makes this target; set 'context' to add one")
        context = fields["context"]
        target = project.targets[name] = Target(name=name, kind=kind_of(context), context=context)
    for field_name in ("context", "dockerfile", "stage", "platforms", "secrets", "groups"):
        if field_name in fields:
            setattr(target, field_name, fields[field_name])
    if "kind" in fields:
        target.kind = Kind(fields["kind"])
        target.kind_given = True
    target.args.update(fields.get("args", {}))
    target.labels.update(fields.get("labels", {}))
    target.contexts.update(fields.get("contexts", {}))
    if target.parsed is None or "context" in fields or "dockerfile" in fields:
        shown = join_path(target.context, target.dockerfile)
        path = project.root / shown
        if not path.is_file():
            raise BakegenError(f"{where}: Dockerfile '{shown}' not found")
        target.parsed = read_dockerfile(path, shown)
        if "stage" not in fields:
            target.stage = default_stage(target.parsed)
    if target.stage and target.stage not in target.parsed.stage_names():
        stages = ", ".join(sorted(target.parsed.stage_names())) or "none"
        raise BakegenError(f"{where}.stage: no stage '{target.stage}' in the Dockerfile (stages: {stages})")


def load_project(root: Path, config_path: Path | None = None) -> Project:
    """Discovery, then `bakegen.toml` (the given one, or the one at the root if present)."""
    if not root.is_dir():
        raise BakegenError(f"{root}: not a folder")
    path = config_path if config_path is not None else root / CONFIG_FILE
    shown = str(config_path) if config_path is not None else CONFIG_FILE
    config = None
    if config_path is not None or path.exists():
        if not path.is_file():
            raise BakegenError(f"{shown}: {'not a regular file' if path.exists() else 'no such file'}")
        config = load_config(path, shown)
    project = discover(root, config["project"].get("exclude") if config else None,
                       config["names"] if config else None)
    if config is not None:
        apply_config(project, config, shown)
    if not project.targets:
        raise BakegenError(f"{root}: no Dockerfile found (looked in every folder not ignored)")
    check_bases_resolve(project)
    return project


def check_bases_resolve(project: Project) -> None:
    """Every FROM names an image once its ARGs are expanded, as BuildKit will expand them; else
    the build fails later with `base name (${X}) should not be blank` and no word of why."""
    for name, target in sorted(project.targets.items()):
        if target.parsed is None:
            continue
        try:
            resolved_images(target.parsed, target.args)
        except Unresolved as e:
            shown = join_path(target.context, target.dockerfile)
            line = e.stage.line if e.stage else 1
            raw = e.stage.raw if e.stage else ""
            raise BakegenError(
                f"{shown}:{line}: FROM {raw}: ARG {e.name} has no value; set it in {CONFIG_FILE} as "
                f'[targets.{name}.args] {e.name} = "..."'
            ) from None


SHOWN_IN_A_WARNING = 6  # names listed in one summary line before "and N more"


def project_warnings(project: Project) -> list[str]:
    """What is worth telling about the inputs, one line per kind of finding: what discovery could
    not settle, ignore files missing or lacking what their context's kind needs, `# syntax=`
    lines. Reads every context's ignore file, so only `emit` asks for it."""
    missing, lacking = [], []
    files = {(dockerignore.ignore_file(project.root, t.context, t.dockerfile), t.context)
             for t in project.targets.values()}  # a context shared by many targets is told once
    for path, context in sorted(files):
        shown = path.relative_to(project.root).as_posix()
        if not path.is_file():
            missing.append(context)
            continue
        wanted = dockerignore.recommended_for(dockerignore.kinds_of(project.root / context))
        entries = dockerignore.missing_recommended(dockerignore.read(project.root / context, path), wanted)
        if entries:
            lacking.append(f"{shown} ({' '.join(entries)})")
    syntax = [f"{join_path(t.context, t.dockerfile)} ({t.parsed.syntax})"
              for t in sorted(project.targets.values(), key=lambda t: t.name) if t.parsed and t.parsed.syntax]
    by_kind: dict[str, list[str]] = {}
    for kind, item in project.warnings:
        by_kind.setdefault(kind, []).append(item)
    warnings = [f"{kind}: {_listed(items)}" for kind, items in by_kind.items()]
    if missing:
        warnings.append(f"no .dockerignore for {_listed(sorted(set(missing)))}: every file there is sent to the build")
    if lacking:
        warnings.append(f"ignore files lacking entries for what their context builds: {_listed(lacking)}")
    if syntax:
        warnings.append(f"`# syntax=` pulls a frontend image at every build (a registry outage or an air-gapped "
                        f"runner fails it); drop it unless needed: {_listed(syntax)}")
    return warnings


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_IN_A_WARNING])
    more = len(items) - SHOWN_IN_A_WARNING
    return shown + (f" and {more} more" if more > 0 else "")
