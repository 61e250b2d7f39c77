"""The baselines: what a team without bakegen would run, generated from the same model, so each
scenario can be measured the way they build too (pure: files and commands, no engine).

    compose  a compose file: each image with `cache_from`/`cache_to` at a registry ref of its
             own; the bases built and pushed first, by separate commands (compose knows no build
             order), the services pulling them by tag; run by bake reading the compose file
    tags     a hand-written bake file without links between targets: bases pushed, services pull
             them by tag, a registry cache per target, no fallback to another branch's cache
    none     the same file with no cache at all (every build a full build)

Each runs on the bench's own builder, as the bake file does; each exports its cache only when
bakegen's does (the cold build), so the difference measured is how the builds are wired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bakegen.graph import LoadedProject
from bakegen.model import BakegenError, Target
from bakegen.names import repository_name
from bakegen.paths import is_local_context
from bakegen.plan import replacement_contexts

BASELINES: tuple[str, ...] = ("compose", "tags", "none")
DESCRIPTIONS = {
    "compose": "compose file, cache_from/cache_to per image in a registry, bases first by separate commands",
    "tags": "hand-written bake file: bases pushed and pulled by tag, registry cache per target, no branch fallback",
    "none": "no cache: every build a full build (bases pushed and pulled by tag)",
}
BENCH_TAG = "bakegen-bench"


def parse_baselines(text: str) -> tuple[str, ...]:
    """`compose,tags,none` (any subset, in the order given; empty: none asked)."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise BakegenError(f"--baseline: unknown baseline '{unknown[0]}' (known: {', '.join(BASELINES)}; "
                           "give PATH before --baseline)")
    return names


@dataclass(frozen=True)
class Places:
    """Where one baseline's images and cache go: repositories of the bench's own."""

    images: str  # registry/namespace: the images, the bases pushed there for services to pull
    cache: str  # registry/namespace of its cache (a fresh one per cold build)

    def image(self, name: str) -> str:
        return f"{self.images}/{repository_name(name)}:{BENCH_TAG}".lower()


def commands(project: LoadedProject) -> list[tuple[list[str], bool]]:
    """The build commands a setup without links runs, in order, each (targets, whether they are
    pushed for the next to pull): the bases level by level (each after those it is built on),
    then everything nothing builds on, in one command."""
    graph = project.graph
    depth: dict[str, int] = {}
    for name in graph.order:  # bases first: each one's bases already have a depth
        depth[name] = 1 + max((depth[b] for b in graph.bases(name)), default=-1)
    used = {name for name in graph.order if graph.users.get(name)}
    levels = [sorted(n for n in used if depth[n] == d) for d in range(max((depth[n] for n in used), default=-1) + 1)]
    last = sorted(n for n in graph.order if n not in used)
    return [(level, True) for level in levels if level] + ([(last, False)] if last else [])


def _contexts(project: LoadedProject, target: Target, root: Path, places: Places) -> dict[str, str]:
    contexts = {key: str(root / value) if is_local_context(value) else value
                for key, value in sorted(target.contexts.items())}
    contexts.update(replacement_contexts(target, project))
    # What bakegen links (`target:base`) is, here, the base's pushed image, pulled by its tag.
    contexts.update({key: f"docker-image://{places.image(base)}"
                     for key, base in sorted(project.graph.links.get(target.name, {}).items())})
    return contexts


def _cache_ref(kind: str, places: Places, name: str) -> str:
    if kind == "compose":  # a registry ref per image, as compose's cache_from examples do
        return f"{places.cache}/{repository_name(name)}:cache".lower()
    return f"{places.cache}/build-cache:{repository_name(name)}".lower()  # one tag per target


def baseline_file(kind: str, project: LoadedProject, root: Path, places: Places, *,
                  write_cache: bool) -> tuple[str, str]:
    """(file name, text) of the baseline's build file for the repository at `root` (absolute
    paths: the bench writes it outside the repository)."""
    if kind == "compose":
        return "compose.yaml", yaml.safe_dump(_compose(project, root, places, write_cache), sort_keys=False)
    return "docker-bake.json", json.dumps(_bake(kind, project, root, places, write_cache), indent=2) + "\n"


def _what_builds(project: LoadedProject, name: str, root: Path, places: Places, contexts_key: str) -> dict[str, Any]:
    """A target's context, Dockerfile, stage, args and named contexts, as compose (`additional_contexts`)
    and bake (`contexts`) both take them."""
    target = project.targets[name]
    build: dict[str, Any] = {"context": str(root / target.context), "dockerfile": target.dockerfile}
    if target.stage:
        build["target"] = target.stage
    if target.args:
        build["args"] = dict(sorted(target.args.items()))
    if contexts := _contexts(project, target, root, places):
        build[contexts_key] = contexts
    return build


def _compose(project: LoadedProject, root: Path, places: Places, write_cache: bool) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name in project.graph.order:
        build = _what_builds(project, name, root, places, "additional_contexts")
        ref = _cache_ref("compose", places, name)
        build["cache_from"] = [f"type=registry,ref={ref}"]
        if write_cache:
            build["cache_to"] = [f"type=registry,ref={ref},mode=max,ignore-error=true"]
        services[name] = {"image": places.image(name), "build": build}
    return {"services": services}


def _bake(kind: str, project: LoadedProject, root: Path, places: Places, write_cache: bool) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for name in project.graph.order:
        attrs = _what_builds(project, name, root, places, "contexts")
        attrs["tags"] = [places.image(name)]
        if kind == "none":
            attrs["no-cache"] = True
        else:
            ref = _cache_ref(kind, places, name)
            attrs["cache-from"] = [f"type=registry,ref={ref}"]
            if write_cache:
                attrs["cache-to"] = [f"type=registry,ref={ref},mode=max,ignore-error=true"]
        targets[name] = attrs
    return {"target": targets}
