"""The baseline: what each scenario costs a repository without bakegen on a CI runner. With no
cache to import every build is a full build, whatever changed: plain `docker build` of every
Dockerfile on the engine's own BuildKit, bases first and tagged by the names their FROM lines
use, measured beside each scenario so both see the same machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from bakegen.graph import LoadedProject
from bakegen.model import BakegenError, Project, Target
from bakegen.names import repository_name
from bakegen.paths import join_path
from bakegen.plan import replacement_contexts
from bakegen.run.bake import run_build
from bakegen.run.scenario import remove_images


def normalized_from_name(name: str) -> str:
    return f"{repository_name(name)}:latest"


def baseline_command(project: Project, target: Target, tag: str, builder: str) -> list[str]:
    """`docker build` of one target as a plain script would run it, on the engine's own BuildKit
    (`builder`, docker driver): no cache, no cache import. Upstream-image replacements, config
    args and contexts still apply (they are inputs, not caching)."""
    args = ["docker", "buildx", "build", "--builder", builder, "--load", "--no-cache", "--progress=quiet",
            "-t", tag, "-f", join_path(target.context, target.dockerfile)]
    if target.stage:
        args += ["--target", target.stage]
    for key, value in sorted(target.args.items()):
        args += ["--build-arg", f"{key}={value}"]
    contexts = {**replacement_contexts(target, project), **target.contexts}
    for key, value in sorted(contexts.items()):
        args += ["--build-context", f"{key}={value}"]
    return [*args, target.context]


def baseline_build(project: LoadedProject, root: Path, client: docker.DockerClient, builder: str,
                   retrying: Callable[[str], Callable[[str], None]]) -> float:
    """Each Dockerfile with plain `docker build` on the engine (bases first, by tag), without
    any cache to import, as a fresh CI runner without bakegen does. Returns the seconds."""
    order = project.graph.order
    tags = {name: normalized_from_name(name) for name in order}
    taken = [t for t in tags.values() if _image_exists(client, t)]
    if taken:
        raise BakegenError(f"--baseline tags the bases by their FROM names, and {taken[0]} already exists "
                           "in the engine; remove it or run without --baseline")
    start = time.perf_counter()
    try:
        for name in order:
            run_build(baseline_command(project, project.targets[name], tags[name], builder),
                      cwd=root, timeout=7200, on_retry=retrying(f"baseline {name}"))
        return round(time.perf_counter() - start, 3)
    finally:
        remove_images(client, tags.values())


def _image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False
