"""Lay a checked `bakegen.toml` over what discovery found: the project bakegen plans from."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path
from typing import Any

from bakegen import schema
from bakegen.discover import default_stage, discover, kind_of
from bakegen.dockerfile import Unresolved, read_dockerfile, resolved_images
from bakegen.model import BakegenError, Compression, Project, Target
from bakegen.names import repository_name
from bakegen.paths import Outside, context_folder, exists, is_file, join_path, within
from bakegen.schema import CONFIG_FILE, load_config
from bakegen.variables import ExpansionError

__all__ = ["CONFIG_FILE", "apply_config", "check_bases_resolve", "load_config", "load_project"]


def apply_config(project: Project, config: dict[str, Any], shown: str) -> None:
    """Lay the validated config over the discovered project (in place); then the checks that
    take more than one key or the project itself."""
    project.config_file = shown
    schema.apply(project, config)
    schema.apply(project.cache, config)
    schema.apply(project.ci, config)
    schema.apply(project.defaults, config)
    if project.cache.compression == Compression.GZIP and (project.cache.compression_level or 0) > 9:
        raise BakegenError(f"{shown}: cache.compression_level: gzip levels go from 0 to 9")
    if project.cache.compression == Compression.UNCOMPRESSED and project.cache.compression_level is not None:
        raise BakegenError(f"{shown}: cache.compression_level: no level for uncompressed layers")
    if project.ci.smoke_target and project.ci.smoke_target not in project.targets:
        raise BakegenError(f"{shown}: ci.smoke_target: no target '{project.ci.smoke_target}'")
    for name, fields in config["targets"].items():
        _apply_target(project, name, fields, f"{shown}: targets.{name}")
    for name in [n for n, t in project.targets.items() if t.matrix]:
        expand_matrix(project, name, f"{shown}: targets.{name}.matrix")
    apply_defaults(project)


def expand_matrix(project: Project, name: str, where: str) -> None:
    """A target with a matrix becomes one target per variant (`base-cuda12-4`) and a group of its
    name. Expanded here, once: every later step (links, caches, graph, affected, impact, CI) sees
    variants as the targets they are, and bake's --print of them is what a `matrix` block gives."""
    target = project.targets.pop(name)
    keys = list(target.matrix)
    variants: list[str] = []
    for values in itertools.product(*(target.matrix[k] for k in keys)):
        chosen = dict(zip(keys, values, strict=True))
        variant = "-".join([name, *(f"{k}{re.sub(r'[^A-Za-z0-9_-]', '-', v)}" for k, v in chosen.items())])
        if variant in project.targets or variant in project.groups:
            raise BakegenError(f"{where}: variant '{variant}' names another target or group")

        def put(text: str, chosen: dict[str, str] = chosen) -> str:  # `${cuda}` is this variant's value
            return re.sub(r"\$\{(" + "|".join(map(re.escape, keys)) + r")\}", lambda m: chosen[m.group(1)], text)

        suffix = "-".join(f"{k}{v}" for k, v in chosen.items())
        copy = dataclasses.replace(
            target, name=variant, matrix={}, origin=f"{target.origin or CONFIG_FILE}, variant {suffix} of {name}",
            args={k: put(v) for k, v in target.args.items()},
            contexts={k: put(v) for k, v in target.contexts.items()},
            image=put(target.image) if target.image else "${lower(REGISTRY)}/" + repository_name(name),
            tags=[put(t) for t in target.tags] if target.tags is not None else [f"${{TAG}}-{suffix}"],
            groups=list(target.groups))
        project.targets[variant] = copy
        variants.append(variant)
    if name in project.groups:
        raise BakegenError(f"{where}: '{name}' would name the group of its variants; a group has that name")
    project.groups[name] = variants


def apply_defaults(project: Project) -> None:
    """[defaults] laid under every target: its own args win, its own platforms replace them. Done
    here, once, so FROM lines resolve, links and caches are planned with the args bake will pass."""
    for target in project.targets.values():
        target.args = {**project.defaults.args, **target.args}
        if not target.platforms and project.defaults.platforms:
            target.platforms = list(project.defaults.platforms)
            target.platforms_from_defaults = True


def _apply_target(project: Project, name: str, fields: dict[str, Any], where: str) -> None:
    context = fields.get("context", project.targets[name].context if name in project.targets else ".")
    if "context" in fields:
        _inside(project.root, fields["context"], ".", f"{where}.context")
    if "dockerfile" in fields:
        _inside(project.root, fields["dockerfile"], context, f"{where}.dockerfile")
    for key, value in fields.get("contexts", {}).items():
        if (folder := context_folder(value)) is not None:
            _inside(project.root, folder, ".", f"{where}.contexts.{key}")
    target = project.targets.get(name)
    if target is None:
        if "context" not in fields:
            raise BakegenError(f"{where}: no folder makes this target; set 'context' to add one")
        context = fields["context"]
        target = project.targets[name] = Target(name=name, kind=kind_of(context), context=context)
    schema.apply(target, fields, prefix="targets.<name>.")
    target.kind_given = target.kind_given or "kind" in fields
    if target.parsed is None or "context" in fields or "dockerfile" in fields:
        shown = join_path(target.context, target.dockerfile)
        path = project.root / shown
        if not is_file(path):
            raise BakegenError(f"{where}: Dockerfile '{shown}' not found")
        target.parsed = read_dockerfile(path, shown)
        if "stage" not in fields:
            target.stage = default_stage(target.parsed)
    if target.stage and target.stage not in target.parsed.stage_names():
        stages = ", ".join(sorted(target.parsed.stage_names())) or "none"
        raise BakegenError(f"{where}.stage: no stage '{target.stage}' in the Dockerfile (stages: {stages})")


def _inside(root: Path, path: str, folder: str, key: str) -> None:
    """The path rule (`paths.within`) for a path of the config: an error naming the key."""
    try:
        within(root, path, folder)
    except Outside as e:
        raise BakegenError(f"{key}: {e}; bake would send files from elsewhere, which a clone of the "
                           "repository does not have") from None


def load_project(root: Path, config_path: Path | None = None) -> Project:
    """Discovery, then `bakegen.toml` (the given one, or the one at the root if present)."""
    if not root.is_dir():
        raise BakegenError(f"{root}: not a folder")
    path = config_path if config_path is not None else root / CONFIG_FILE
    shown = str(config_path) if config_path is not None else CONFIG_FILE
    config = None
    if config_path is None and path.is_symlink():
        _inside(root, CONFIG_FILE, ".", CONFIG_FILE)
    if config_path is not None or exists(path):
        if not path.is_file():
            raise BakegenError(f"{shown}: {'not a regular file' if path.exists() else 'no such file'}")
        config = load_config(path, shown)
    project = discover(root, config["project"].get("exclude") if config else None,
                       config["names"] if config else None,
                       find=config["project"].get("discover", True) if config else True)
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
        shown = join_path(target.context, target.dockerfile)
        try:
            resolved_images(target.parsed, target.args)
        except Unresolved as e:
            line = e.stage.line if e.stage else 1
            raw = e.stage.raw if e.stage else ""
            said = f" ({e.message!r}, says the Dockerfile)" if e.message else ""
            raise BakegenError(
                f"{shown}:{line}: FROM {raw[:80]}: ARG {e.name} has no value{said}; set it in {CONFIG_FILE} as "
                f'[targets.{name}.args] {e.name} = "..."'
            ) from None
        except ExpansionError as e:
            raise BakegenError(f"{shown}: target {name}: {e}") from None
