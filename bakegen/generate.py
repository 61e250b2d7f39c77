"""The library's front door: load a repository (discovery, bakegen.toml, overrides) and write
its bake file. The CLI and the tests go through here rather than repeating the steps."""

from __future__ import annotations

from pathlib import Path

from bakegen.config import load_project
from bakegen.model import BakegenError, CacheBackend, Kind, Project
from bakegen.names import REGISTRY, REGISTRY_RULE, TAG, TAG_RULE
from bakegen.plan import check_names, make_plan, target_links
from bakegen.render import render_bake


def load(root: Path | str, config: Path | str | None = None, *, cache: str | None = None,
         registry: str | None = None, tag: str | None = None) -> Project:
    """The project at `root`, with `config` (default: root/bakegen.toml) and the overrides laid
    over it; every override is checked as the config's own values are."""
    project = load_project(Path(root), Path(config) if config is not None else None)
    if cache is not None:
        if cache not in {b.value for b in CacheBackend}:
            raise BakegenError(f"cache {cache!r}: unknown backend (known: {', '.join(b.value for b in CacheBackend)})")
        project.cache.backend = CacheBackend(cache)
    if registry is not None:
        if not REGISTRY.match(registry):
            raise BakegenError(f"registry {registry!r}: not a registry ({REGISTRY_RULE})")
        project.registry = registry
    if tag is not None:
        if not TAG.match(tag):
            raise BakegenError(f"tag {tag!r}: not a valid image tag ({TAG_RULE})")
        project.tag = tag
    check_names(project)
    # A target others build on is a base wherever it lives (built first, `bases` group).
    for base in {b for found in target_links(project).values() for b in found.values()}:
        if not project.targets[base].kind_given:
            project.targets[base].kind = Kind.BASE
    return project


def generate(root: Path | str, config: Path | str | None = None, **overrides: str | None) -> str:
    """The text of `root`'s docker-bake.hcl (see `load` for the overrides: cache, registry, tag)."""
    return render_bake(make_plan(load(root, config, **overrides)))
