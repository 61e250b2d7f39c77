"""The library's front door: load a repository (discovery, bakegen.toml, overrides) and write
its bake file. The CLI and the tests go through here rather than repeating the steps."""

from __future__ import annotations

import copy
from pathlib import Path

from bakegen.config import check_bases_resolve, load_project
from bakegen.discover import NO_DOCKERFILE, discover
from bakegen.dockerfile import missing_build_args
from bakegen.graph import LoadedProject, TargetGraph, loaded, mark_bases
from bakegen.lock import read_lock
from bakegen.model import BakegenError, Project
from bakegen.plan import check_names, make_plan
from bakegen.render import render_bake, render_init_toml
from bakegen.schema import check_override


def load(root: Path | str, config: Path | str | None = None, *, cache: str | None = None,
         registry: str | None = None, tag: str | None = None) -> LoadedProject:
    """The project at `root`, with `config` (default: root/bakegen.toml) and the overrides laid
    over it (every override checked as the config's own values are), and its target graph,
    computed once after the last change."""
    # The registry before FROM values are settled: a guessed `${IMAGE_REPO}` takes it.
    registry = check_override("project.registry", registry, "registry") if registry is not None else None
    project = load_project(Path(root), Path(config) if config is not None else None, registry=registry)
    if cache is not None:
        project.cache.backend = check_override("cache.backend", cache, "cache")
    if tag is not None:
        project.tag = check_override("project.tag", tag, "tag")
    check_names(project)
    project.locked = read_lock(Path(root))
    return loaded(project)


def generate(root: Path | str, config: Path | str | None = None, **overrides: str | None) -> str:
    """The text of `root`'s docker-bake.hcl (see `load` for the overrides: cache, registry, tag)."""
    return render_bake(make_plan(load(root, config, **overrides)))


def _note_base_guesses(project: Project) -> None:
    """What `emit` would guess for FROM lines without a value (`check_bases_resolve`), noted on the
    targets so `init` states each as a TODO; the project itself keeps every target and arg."""
    trial = copy.deepcopy(project)
    try:
        check_bases_resolve(trial)
    except BakegenError:
        return
    for name, target in trial.targets.items():
        project.targets[name].decided = target.decided


def starter_config(root: Path | str, exclude: list[str],
                   names: dict[str, str]) -> tuple[str, int, dict[str, list[str]]]:
    """`bakegen init`'s file for `root`: its text, how many targets it states, and for each target
    the build args a FROM needs that nothing gives (the file marks them TODO)."""
    project = discover(Path(root), exclude, names)
    if not project.targets:
        raise BakegenError(f"{root}: {NO_DOCKERFILE}")
    _note_base_guesses(project)
    missing = {name: missing_build_args(t.parsed, t.args, t.stage) for name, t in project.targets.items() if t.parsed}
    if not any(missing.values()):  # links need every FROM resolved
        mark_bases(project, TargetGraph.of(project))
    return render_init_toml(project, missing), len(project.targets), missing
