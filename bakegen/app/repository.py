"""Commands that read the monorepo and answer or write files, without a Docker engine: emit,
graph, affected, impact, init."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bakegen.advice import project_warnings
from bakegen.app.common import (
    FileResult,
    Outcome,
    ProjectOptions,
    Say,
    in_project,
    in_root,
    load_project,
    refuse_early,
    silent,
    write_or_check,
)
from bakegen.config import CONFIG_FILE, load_config
from bakegen.generate import starter_config
from bakegen.model import BakegenError
from bakegen.plan import make_plan
from bakegen.render import BAKE_FILE, BAKE_MARK, render_bake, render_graph
from bakegen.writer import Owned, check_destination, write_file

if TYPE_CHECKING:
    from bakegen.impact import StepImpact

BAKE_OWNED = Owned(BAKE_MARK, "write elsewhere with `-o another.hcl`, or replace it with `--force`")


@dataclass(frozen=True, kw_only=True)
class EmitOptions(ProjectOptions):
    output: Path | None = None  # default root/docker-bake.hcl
    stdout: bool = False  # hand the text back instead of writing it
    cache: str | None = None  # overrides of the config
    registry: str | None = None
    tag: str | None = None
    check: bool = False  # write nothing: compare with the file
    force: bool = False  # replace a file bakegen did not write
    quiet: bool = False  # no warnings about the inputs
    strict: bool = False  # a warning about the inputs fails the run (exit 2), nothing written


def emit(options: EmitOptions, say: Say = silent) -> FileResult:
    """The bake file of options.root written (atomically), checked, or handed back."""
    root = options.root
    path = options.output or root / BAKE_FILE
    given = options.output is not None
    if not options.stdout:
        refuse_early(root, path, check=options.check, owned=BAKE_OWNED, force=options.force, given=given)
    project = load_project(options, None if options.quiet else say,
                           cache=options.cache, registry=options.registry, tag=options.tag)
    if options.strict and (warnings := project_warnings(project)):
        raise BakegenError(f"--strict: {len(warnings)} warning{'s' if len(warnings) > 1 else ''} about the inputs "
                           "(run without --quiet to see them); nothing written")
    text = render_bake(make_plan(project), in_root(root, path) or str(path.absolute()))
    if options.stdout:
        if options.check:
            raise BakegenError("--check compares with a file; it cannot be used with -o -")
        return FileResult(None, text, Outcome.PRINTED, targets=len(project.targets))
    return write_or_check(root, path, text, check=options.check, owned=BAKE_OWNED, force=options.force,
                          given=given, targets=len(project.targets))


@dataclass(frozen=True, kw_only=True)
class GraphOptions(ProjectOptions):
    format: str = "text"  # text, mermaid or dot (render.GRAPH_FORMATS)


@dataclass(frozen=True)
class GraphResult:
    text: str


def graph(options: GraphOptions) -> GraphResult:
    """Which target is built on which, bases above what builds on them."""
    project = load_project(options)
    return GraphResult(render_graph(project, options.format))


@dataclass(frozen=True, kw_only=True)
class AffectedOptions(ProjectOptions):
    since: str  # a git revision


@dataclass(frozen=True)
class AffectedResult:
    targets: list[str]  # to rebuild, each platform's cache target too


def affected(options: AffectedOptions) -> AffectedResult:
    """The targets to rebuild after the changes in the work tree since options.since."""
    from bakegen.affected import affected_since  # here, as each command's own: emit never loads them

    return AffectedResult(affected_since(load_project(options), options.since))


@dataclass(frozen=True, kw_only=True)
class ImpactOptions(ProjectOptions):
    paths: tuple[Path, ...] = ()  # changed files, relative to here
    since: str | None = None  # also every file changed since this revision


@dataclass(frozen=True)
class ImpactResult:
    steps: dict[str, list[StepImpact]]  # each changed path (relative to the root): the steps it runs again


def impact(options: ImpactOptions) -> ImpactResult:
    """Which steps of which targets each changed file runs again, read as BuildKit keys its cache;
    a changed Dockerfile or bakegen.toml is compared with its version at options.since (or HEAD)."""
    from bakegen.git import changed_paths, file_at
    from bakegen.impact import impact_of

    root = options.root
    project = load_project(options)
    changed = [in_project(root, p) for p in options.paths]
    changed += changed_paths(root, options.since) if options.since else []
    if not changed:
        raise BakegenError("name the changed files, or give --since GIT_REF")
    revision = options.since or "HEAD"
    return ImpactResult(impact_of(project, list(dict.fromkeys(changed)),
                                  lambda path: file_at(root, revision, path)))


@dataclass(frozen=True, kw_only=True)
class InitOptions:
    root: Path = Path(".")
    force: bool = False  # replace an existing bakegen.toml, keeping its exclude and [names]


@dataclass(frozen=True)
class InitResult:
    path: Path
    targets: int
    missing_args: dict[str, list[str]] = field(default_factory=dict)  # per target: args a FROM needs


def init(options: InitOptions, say: Say = silent) -> InitResult:
    """A starter bakegen.toml stating what discovery found."""
    root = options.root
    path = root / CONFIG_FILE
    check_destination(root, path)  # before any work: a link out is refused, --force or not
    exclude: list[str] = []
    names: dict[str, str] = {}
    if path.exists():
        if not options.force:
            raise BakegenError(f"{path}: exists; use --force to replace it")
        try:
            existing = load_config(path, CONFIG_FILE)
            exclude, names = existing["project"].get("exclude", []), existing["names"]
        except BakegenError as e:
            say(f"warning: {e}; its exclude and names are not kept")
    text, count, missing = starter_config(root, exclude, names)
    write_file(root, path, text)
    return InitResult(path, count, {name: args for name, args in missing.items() if args})
