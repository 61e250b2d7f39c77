"""A hand-written bake file as a `bakegen.toml`: what `bakegen init --from` writes. Pure: the
file comes in as bake's own reading of it (`docker buildx bake --print` JSON, functions,
`inherits` and `matrix` already evaluated by bake), the TOML and what could not be carried out.

Each target keeps its name, image tags, args, labels, platforms, stage, context, Dockerfile,
named contexts, secrets and groups; bakegen's cache and output replace theirs, and every other
attribute is named in a note, one line each. A target bakegen cannot build (a remote context,
`dockerfile-inline`) is kept by name in `project.overlay_only`: the overlay still gives it a cache.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bakegen import keys
from bakegen.model import OWN_LABELS
from bakegen.names import REGISTRY, RESERVED_NAMES, TARGET_NAME
from bakegen.paths import bake_reads_as_remote, join_path
from bakegen.sinks import toml_array, toml_key, toml_string, visible

# What bakegen carries, by bake attribute; the rest of a target's attributes become notes.
CARRIED = {"context", "dockerfile", "target", "args", "labels", "tags", "platforms", "contexts", "secret"}
REPLACED = {"cache-from": "bakegen's cache (per branch) replaces it", "cache-to": "bakegen's cache replaces it",
            "output": "bakegen's PUSH/LOAD variables replace it"}
_BLOCK = re.compile(r'^\s*(target|group)\s+"?([A-Za-z0-9_-]+)"?\s*\{', re.MULTILINE)
_INHERITS = re.compile(r"\binherits\s*=\s*\[([^\]]*)\]")
_QUOTED = re.compile(r'"([A-Za-z0-9_-]+)"')


@dataclass(frozen=True)
class Blocks:
    """The names a bake file's text declares: what to ask `--print` for, and which targets are
    only templates (named in an `inherits`, in no group)."""

    targets: tuple[str, ...]
    groups: tuple[str, ...]
    inherited: frozenset[str]


def declared_blocks(texts: Iterable[str]) -> Blocks:
    """Target and group names written as blocks in HCL (matrix targets by their block's name) or
    JSON bake files; compose files declare none here (bake's default group holds every service)."""
    targets: list[str] = []
    groups: list[str] = []
    inherited: set[str] = set()
    for text in texts:
        if isinstance(parsed := _json_object(text), dict):  # a bake file in JSON
            targets += [n for n in parsed.get("target") or {} if isinstance(n, str)]
            groups += [n for n in parsed.get("group") or {} if isinstance(n, str)]
            inherited.update(n for t in (parsed.get("target") or {}).values() if isinstance(t, dict)
                             for n in t.get("inherits") or [] if isinstance(n, str))
            continue
        for kind, name in _BLOCK.findall(text):
            (targets if kind == "target" else groups).append(name)
        for inside in _INHERITS.findall(text):
            inherited.update(_QUOTED.findall(inside))
    return Blocks(tuple(dict.fromkeys(targets)), tuple(dict.fromkeys(groups)), frozenset(inherited))


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # HCL or compose YAML
        return None


@dataclass
class Definition:
    """Bake's reading of the files: targets as `--print` shows them, each group's members (as
    asked one by one: a group bake cannot resolve is in `broken` with bake's reason)."""

    targets: dict[str, dict[str, Any]]
    default: list[str]  # bake's default group, as the files define it
    groups: dict[str, list[str]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    blocks: Blocks = field(default_factory=lambda: Blocks((), (), frozenset()))


@dataclass
class Adopted:
    text: str  # the bakegen.toml
    targets: list[str]  # carried
    notes: list[str]  # what could not be carried, one line each


def adopt(definition: Definition, exists: Callable[[str], bool], sources: list[str]) -> Adopted:
    """The bakegen.toml reproducing `definition`'s targets (`exists` says whether a path of the
    repository is a file: a target whose Dockerfile is not there is no target of this tree)."""
    notes: list[str] = []
    carried: dict[str, list[str]] = {}
    overlay_only: list[str] = []  # theirs, built by their file only
    skipped = templates(definition)
    for name, attrs in definition.targets.items():
        if name in skipped:
            notes.append(f"target {name}: only inherited by others (a template), not a target of its own")
            continue
        lines = _target(name, attrs, exists, notes)
        if lines is not None:
            carried[name] = lines
        # its cache needs no more than its name (unless a group of theirs has it: bake builds that)
        elif name not in RESERVED_NAMES and TARGET_NAME.match(name) and name not in definition.groups:
            overlay_only.append(name)
            notes.append(f"target {name}: kept in project.overlay_only: the overlay gives each its cache")
    all_tags = [t for attrs in definition.targets.values() for t in attrs.get("tags") or []]
    lines = ["# bakegen configuration made by `bakegen init --from " + visible(" --from ".join(sources)) + "`:",
             "# each target of that file, as `docker buildx bake --print` reads it; bakegen adds its cache and links.",
             "", "[project]", "discover = false  # the targets are exactly theirs"]
    if overlay_only:
        lines.append(f"overlay_only = {toml_array(overlay_only)}  # not built by bakegen; the overlay caches them")
    if (registry := _registry_of(all_tags)) is not None:
        lines.append(f"registry = {toml_string(registry)}  # REGISTRY: where bakegen's build cache goes")
    if any("attest" in attrs for attrs in definition.targets.values()):
        lines.append("attestations = true  # theirs attached attestations; bakegen does on pushed images")
    groups = _groups(definition, set(carried), notes)
    if groups:
        lines += ["", "[groups]"] + [f"{toml_key(g)} = {toml_array(m)}" for g, m in groups.items()]
    for name, target_lines in carried.items():
        lines += ["", f"[targets.{toml_key(name)}]", *target_lines]
    return Adopted("\n".join(lines) + "\n", list(carried), _collapsed(notes))


def _collapsed(notes: list[str]) -> list[str]:
    """`target a: X` and `target b: X` said once: `targets a, b: X`."""
    by_reason: dict[str, list[str]] = {}
    for note in notes:
        if note.startswith("target ") and ": " in note:
            name, reason = note.removeprefix("target ").split(": ", 1)
            by_reason.setdefault(reason, []).append(name)
        else:
            by_reason.setdefault(note, [])
    return [f"target{'s' if len(names) > 1 else ''} {', '.join(names)}: {reason}" if names else reason
            for reason, names in by_reason.items()]


def templates(definition: Definition) -> set[str]:
    """Targets that only lend attributes: a block named in an `inherits` and in no group (a
    matrix variant named in an `inherits` is built too, and stays)."""
    in_groups = {m for members in [definition.default, *definition.groups.values()] for m in members}
    blocks = definition.blocks
    return {n for n in definition.targets if n in blocks.inherited and n in blocks.targets and n not in in_groups}


def _target(name: str, attrs: dict[str, Any], exists: Callable[[str], bool], notes: list[str]) -> list[str] | None:
    """The TOML lines of one target, or None (and a note) when bakegen cannot build it."""
    if name in RESERVED_NAMES or not TARGET_NAME.match(name):
        notes.append(f"target {name}: the name is bakegen's own or not one it accepts; not carried")
        return None
    if "dockerfile-inline" in attrs:
        notes.append(f"target {name}: dockerfile-inline; bakegen builds Dockerfiles of the tree; not carried")
        return None
    context = str(attrs.get("context", ".")).removeprefix("cwd://")
    if bake_reads_as_remote(context) or "://" in context or posixpath.isabs(context):
        notes.append(f"target {name}: context {visible(context)} is not a folder of the repository; not carried")
        return None
    context = posixpath.normpath(context)
    if context == ".." or context.startswith("../"):
        notes.append(f"target {name}: context {visible(context)} is outside the repository; not carried")
        return None
    dockerfile = str(attrs.get("dockerfile", "Dockerfile"))
    if not exists(join_path(context, dockerfile)):
        notes.append(f"target {name}: {visible(join_path(context, dockerfile))} not found; not carried")
        return None
    lines = [f"context = {toml_string(context)}"]
    if dockerfile != "Dockerfile":
        lines.append(f"dockerfile = {toml_string(dockerfile)}")
    if attrs.get("target"):
        lines.append(f"stage = {toml_string(str(attrs['target']))}")
    tags = [str(t) for t in attrs.get("tags") or []]
    kept_tags = [t for t in tags if _passes(keys.image_tags, [t])]
    notes += [f"target {name}: tag {visible(t)} is no image reference bakegen accepts; not carried"
              for t in tags if t not in kept_tags]
    lines.append(f"tags = {toml_array(kept_tags)}" + ("" if kept_tags else "  # none: theirs has none"))
    platforms = [str(p) for p in attrs.get("platforms") or []]
    if platforms and _passes(keys.platforms, platforms):
        lines.append(f"platforms = {toml_array(platforms)}")
    elif platforms:
        notes.append(f"target {name}: platforms {visible(', '.join(platforms))} not carried (os/arch[/variant] only)")
    secrets = [str(s) for s in attrs.get("secret") or []]
    if secrets and _passes(keys.secrets, secrets):
        lines.append(f"secrets = {toml_array(secrets)}")
    elif secrets:
        notes.append(f"target {name}: secret entries not carried (bakegen takes id=NAME,env=VAR or id=NAME,src=PATH)")
    for attr, table in (("args", "args"), ("labels", "labels"), ("contexts", "contexts")):
        values = {k: v for k, v in (attrs.get(attr) or {}).items() if v is not None}
        if attr == "labels":
            for own in sorted(set(values) & set(OWN_LABELS)):
                notes.append(f"target {name}: label {own} is set by bakegen (project.source, REVISION); theirs dropped")
                del values[own]
        if values:
            lines += [f"[targets.{toml_key(name)}.{table}]",
                      *(f"{toml_key(k)} = {toml_string(str(v))}" for k, v in sorted(values.items()))]
    for attr in sorted(set(attrs) - CARRIED - {"dockerfile-inline"}):
        why = REPLACED.get(attr, "bakegen has no key for it")
        notes.append(f"target {name}: {attr} not carried ({why})")
    return lines


def _passes(check: keys.Check, value: Any) -> bool:
    try:
        check(value)
    except keys.Invalid:
        return False
    return True


def _groups(definition: Definition, carried: set[str], notes: list[str]) -> dict[str, list[str]]:
    """Their groups among the carried targets; their default group said in a note when it is
    not bakegen's (every target)."""
    groups: dict[str, list[str]] = {}
    for group, reason in sorted(definition.broken.items()):
        notes.append(f"group {group}: bake cannot read it ({visible(reason)}); not carried")
    for group, members in definition.groups.items():
        if group in ("default", "bases", "services") or group in carried:
            notes.append(f"group {group}: the name is bakegen's or a target's; not carried")
            continue
        kept = [m for m in members if m in carried]
        if kept:
            groups[group] = kept
    names = set(groups)
    for group, members in groups.items():  # a member that is a group of theirs stays one
        groups[group] = [m for m in members if m in carried or m in names]
    default = [m for m in definition.default if m in carried or m in groups]
    if set(default) != carried and definition.default:
        notes.append(f"group default: theirs builds {visible(', '.join(definition.default))}; bakegen's default "
                     f"builds every target (name them: `docker buildx bake {' '.join(definition.default)}`)")
    return groups


def _registry_of(tags: list[str]) -> str | None:
    """The registry and namespace most of their images share: where bakegen puts its cache."""
    found = Counter(tag.rsplit(":", 1)[0].rsplit("/", 1)[0] for tag in tags if "/" in tag.rsplit(":", 1)[0])
    for registry, _ in found.most_common():
        if REGISTRY.match(registry) and "." in registry.split("/")[0]:
            return registry
    return None
