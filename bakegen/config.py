"""Lay a checked `bakegen.toml` over what discovery found: the project bakegen plans from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bakegen import schema
from bakegen.discover import NO_DOCKERFILE, discover, kind_of
from bakegen.dockerfile import Unresolved, read_dockerfile, resolved_images
from bakegen.model import BakegenError, Compression, Project, Target
from bakegen.paths import Outside, context_folder, join_path, within
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
    if project.cache.compression == Compression.GZIP and (project.cache.compression_level or 0) > 9:
        raise BakegenError(f"{shown}: cache.compression_level: gzip levels go from 0 to 9")
    if project.cache.compression == Compression.UNCOMPRESSED and project.cache.compression_level is not None:
        raise BakegenError(f"{shown}: cache.compression_level: no level for uncompressed layers")
    if project.ci.smoke_target and project.ci.smoke_target not in project.targets:
        raise BakegenError(f"{shown}: ci.smoke_target: no target '{project.ci.smoke_target}'")
    for name, fields in config["targets"].items():
        _apply_target(project, name, fields, f"{shown}: targets.{name}")


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
        if not path.is_file():
            raise BakegenError(f"{where}: Dockerfile '{shown}' not found")
        target.parsed = read_dockerfile(path, shown)
        if "stage" not in fields:  # the last, as `docker build` builds
            target.stage = None
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
    if config_path is not None or path.exists():
        if not path.is_file():
            raise BakegenError(f"{shown}: {'not a regular file' if path.exists() else 'no such file'}")
        config = load_config(path, shown)
    project = discover(root, config["project"].get("exclude") if config else None,
                       config["names"] if config else None)
    if config is not None:
        apply_config(project, config, shown)
    if not project.targets:
        raise BakegenError(f"{root}: {NO_DOCKERFILE}")
    check_bases_resolve(project)
    return project


# A FROM whose value no build arg gives, or a placeholder (`ARG BASE_IMG=<base>`): that target left out.
FROM_WITHOUT_VALUE = "targets left out because a FROM they build on names no image"
# What an image reference may hold (a tag, a digest, a port): a placeholder such as `<base>` holds more.
_NOT_IN_A_REFERENCE = re.compile(r"[^A-Za-z0-9._:/@+-]")


def check_bases_resolve(project: Project) -> None:
    """Every FROM of a built stage names an image once its ARGs are expanded, as BuildKit will
    expand them; else the build fails later with `base name (${X}) should not be blank` and no
    word of why. A target whose FROM does not is left out with a warning naming the file, line,
    ARG and key, so one Dockerfile never stops the rest; when it is the only one, an error."""
    problems: dict[str, str] = {}
    for name, target in sorted(project.targets.items()):
        if target.parsed is None:
            continue
        shown = join_path(target.context, target.dockerfile)
        try:
            for stage, image in resolved_images(target.parsed, target.args, target.stage):
                if image is not None and _NOT_IN_A_REFERENCE.search(image):
                    problems[name] = (f"{shown}:{stage.line}: FROM {stage.raw[:80]}: {image[:80]!r} is no image "
                                      f"name (a placeholder?); set its ARG in {CONFIG_FILE} as "
                                      f'[targets.{name}.args] NAME = "..."')
                    break
        except Unresolved as e:
            line = e.stage.line if e.stage else 1
            raw = e.stage.raw if e.stage else ""
            said = f" ({e.message!r}, says the Dockerfile)" if e.message else ""
            problems[name] = (f"{shown}:{line}: FROM {raw[:80]}: ARG {e.name} has no value{said}; set it in "
                              f'{CONFIG_FILE} as [targets.{name}.args] {e.name} = "..."')
        except ExpansionError as e:
            raise BakegenError(f"{shown}: target {name}: {e}") from None
    if problems and len(problems) == len(project.targets):
        raise BakegenError(next(iter(problems.values())))
    for name, problem in problems.items():
        del project.targets[name]
        project.warnings.append((FROM_WITHOUT_VALUE, problem))
