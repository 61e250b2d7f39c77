"""Commands that reach buildx and the engine: build, cache rotate, doctor, builder up/status/down.
The docker SDK is imported where a command needs it, so the others never load it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bakegen.app.common import Say, load_project, silent
from bakegen.model import BakegenError, CacheBackend, Project
from bakegen.names import HOST_PORT
from bakegen.options import (
    BuilderDownOptions,
    BuilderOptions,
    BuilderUpOptions,
    BuildOptions,
    DoctorOptions,
    RotateOptions,
)
from bakegen.plan import with_platform_caches
from bakegen.render import BAKE_FILE
from bakegen.run import builder as builders
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.cache import rotate_local_cache
from bakegen.run.progress import Step, Vertex, as_step
from bakegen.steps import instruction_index, owner

if TYPE_CHECKING:  # the docker SDK is loaded by the commands that reach the engine only
    from bakegen.run.engine import Check

# --- build ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BakeCall:
    """One `docker buildx bake` call and its steps, each counted for the target whose Dockerfile holds it."""

    targets: list[str]  # empty: the default group
    result: BakeResult
    per_target: dict[str, tuple[int, int]] = field(default_factory=dict)  # target: (executed, cached)


@dataclass(frozen=True)
class Rotation:
    folder: Path
    rotated: list[str]
    refused: list[str]  # folders that are no build cache, left as they are


@dataclass(frozen=True)
class BuildResult:
    calls: list[BakeCall]
    rotation: Rotation | None = None  # the local cache, after a build that succeeded

    @property
    def ok(self) -> bool:
        return all(call.result.ok for call in self.calls)


class BuildListener:
    """What a build tells while it runs (the CLI prints it); every method does nothing here."""

    def bake_started(self, targets: list[str]) -> None: ...

    def step(self, step: Step) -> None: ...  # a step BuildKit finished, given to its target

    def retry(self, why: str) -> None: ...  # the engine's known bug: the call runs once more

    def bake_finished(self, call: BakeCall) -> None: ...


def build(options: BuildOptions, listener: BuildListener | None = None,
          bake: Callable[..., BakeResult] = run_bake) -> BuildResult:
    """`docker buildx bake` on root/docker-bake.hcl (`bake` runs it: tests give their own), each
    step attributed to its target; a local cache is rotated after a build that succeeded. Stops
    after the first call that fails."""
    from bakegen.run.engine import connect

    listener = listener or BuildListener()
    root, targets, project = path_or_target(options)
    if not (root / BAKE_FILE).is_file():
        raise BakegenError(f"{root / BAKE_FILE}: missing; run `bakegen emit` first")
    project = project or load_project(replace(options, root=root))
    connect()
    index = instruction_index(project)

    alone = [""]  # the call's one target: bake building one names its steps by stage only (`[deps 1/2]`)

    def attributed(step: Step) -> Step:
        if step.target and step.target not in project.targets:  # that label is a stage's name
            step = replace(step, target="", stage=step.stage or step.target)
        return replace(step, target=owner(step.target or alone[0], step.instruction, index, project.graph))

    def on_vertex(vertex: Vertex) -> None:
        step = as_step(vertex)
        if step is not None:
            listener.step(attributed(step))

    named = with_platform_caches(project, list(targets)) if targets else []  # each platform's cache too
    env = ({"PUSH": "true"} if options.push else {}) | ({"LOAD": "true"} if options.load else {})
    calls: list[BakeCall] = []
    for call_targets in ([["bases"], named] if options.bases_first else [named]):
        listener.bake_started(call_targets)
        alone[0] = call_targets[0] if len(call_targets) == 1 and call_targets[0] in project.targets else ""
        overlay = {"extra_args": ("-f", str(options.overlay))} if options.overlay else {}
        result = bake(root, call_targets, builder=options.builder, env=env, on_vertex=on_vertex,
                      on_retry=listener.retry, **overlay)
        per_target: dict[str, tuple[int, int]] = {}
        for step in map(attributed, result.steps):
            ran, kept = per_target.get(step.target or "(one target)", (0, 0))
            per_target[step.target or "(one target)"] = (ran + 1, kept) if step.ran else (ran, kept + 1)
        calls.append(BakeCall(call_targets, result, per_target))
        listener.bake_finished(calls[-1])
        if not result.ok:
            return BuildResult(calls)
    rotation = _rotate(root, project) if project.cache.backend == CacheBackend.LOCAL else None
    return BuildResult(calls, rotation)


def path_or_target(options: BuildOptions) -> tuple[Path, tuple[str, ...], Project | None]:
    """PATH and TARGETS as meant: `bakegen build web` in a repository whose bake file names a
    target `web` builds that target (a folder `web/` is no project). The project is handed back
    when it had to be read to tell."""
    root, here = options.root, Path(".")
    if (root / BAKE_FILE).is_file() or root == here or not (here / BAKE_FILE).is_file():
        return root, options.targets, None
    project = load_project(replace(options, root=here))
    if str(root) in project.targets:
        return here, (str(root), *options.targets), project
    return root, options.targets, None


# --- cache rotate --------------------------------------------------------------------------------


def rotate_cache(options: RotateOptions) -> Rotation:
    """Each <target>.next folder of the local cache swapped in for <target>."""
    return _rotate(options.root, load_project(options))


def _rotate(root: Path, project: Project) -> Rotation:
    # Where the bake file's CACHE_DIR points: the environment wins, as in bake itself.
    folder = root / os.environ.get("CACHE_DIR", project.cache.directory)
    rotated, refused = rotate_local_cache(folder, project.targets)
    return Rotation(folder, rotated, refused)


# --- doctor --------------------------------------------------------------------------------------

OPTIONAL_CHECKS = {"GPU runtime", "gha cache"}  # and every registry: bake can build without them


@dataclass(frozen=True)
class DoctorResult:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """Everything bake needs is there."""
        return all(c.ok or not c.required or c.name in OPTIONAL_CHECKS or c.name.startswith("registry")
                   for c in self.checks)


def doctor(options: DoctorOptions) -> DoctorResult:
    """What this machine can build with, and how to fix what is missing."""
    from bakegen.run.engine import doctor as run_doctor

    if not HOST_PORT.match(options.registry):
        raise BakegenError(f"--registry {options.registry!r}: expected HOST[:PORT], e.g. ghcr.io or 127.0.0.1:5000")
    return DoctorResult(run_doctor(options.registry, options.builder))


# --- builder up / status / down ------------------------------------------------------------------

def builder_up(options: BuilderUpOptions, say: Say = silent) -> builders.BuilderInfo:
    """Make or reuse a BuildKit builder of bakegen's own."""
    return builders.up(options, say)


def builder_status(options: BuilderOptions) -> builders.Status:
    return builders.status(options.name, options.state_dir)


def builder_down(options: BuilderDownOptions, say: Say = silent) -> None:
    """Remove the builder and stop the buildkitd bakegen started for it; a builder bakegen did not
    make is left alone."""
    builders.down(options.name, options.state_dir, options.purge, say)
