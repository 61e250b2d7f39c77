"""Commands that read the monorepo and answer or write files, without a Docker engine: emit,
graph, affected, impact, init."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bakegen.advice import project_warnings
from bakegen.app.common import (
    FileResult,
    Outcome,
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
from bakegen.options import AffectedOptions, EmitOptions, GraphOptions, ImpactOptions, InitOptions
from bakegen.plan import make_overlay_plan, make_plan
from bakegen.reads import emit_key, probe, recording, replay, save
from bakegen.render import BAKE_MARK, render_bake, render_graph
from bakegen.schema import parse_config
from bakegen.writer import Owned, check_destination, write_file

if TYPE_CHECKING:
    from bakegen.impact import StepImpact

BAKE_OWNED = Owned(BAKE_MARK, "write elsewhere with `-o another.hcl`, or replace it with `--force`")


def emit(options: EmitOptions, say: Say = silent) -> FileResult:
    """The bake file of options.root written (atomically), checked, or handed back."""
    root, path = options.root, options.destination
    given = options.output is not None and not options.stdout
    if options.stdout and options.check:
        raise BakegenError("--check compares with a file; it cannot be used with -o -")
    if not options.stdout:
        refuse_early(root, path, check=options.check, owned=BAKE_OWNED, force=options.force, given=given)
        targets = replay(options, say)
        if targets is not None:  # nothing it reads has changed: the file is what would be written
            return FileResult(path, "", Outcome.CURRENT, targets=targets)
    warnings: list[str] = []
    with recording(root) as read:
        if options.config is not None:
            probe(options.config)  # it may lie outside the repository, where nothing else is recorded
        project = load_project(options, None if options.quiet else lambda m: (warnings.append(m), say(m)),
                               cache=options.cache, registry=options.registry, tag=options.tag)
        if options.strict and (found := project_warnings(project)):
            raise BakegenError(f"--strict: {len(found)} warning{'s' if len(found) > 1 else ''} about the inputs "
                               "(run without --quiet to see them); nothing written")
        plan = make_overlay_plan(project) if options.overlay else make_plan(project)
        text = render_bake(plan, in_root(root, path) or str(path.absolute()), overlay=options.overlay)
    if options.stdout:
        return FileResult(None, text, Outcome.PRINTED, targets=len(project.targets))
    result = write_or_check(root, path, text, check=options.check, owned=BAKE_OWNED, force=options.force,
                            given=given, targets=len(project.targets))
    if result.outcome in (Outcome.WRITTEN, Outcome.CURRENT):
        save(emit_key(options), root, read, path, {"targets": result.targets, "warnings": warnings})
    return result


@dataclass(frozen=True)
class GraphResult:
    text: str


def graph(options: GraphOptions) -> GraphResult:
    """Which target is built on which, bases above what builds on them."""
    project = load_project(options)
    return GraphResult(render_graph(project, options.format))


@dataclass(frozen=True)
class AffectedResult:
    targets: list[str]  # to rebuild, each platform's cache target too


def affected(options: AffectedOptions) -> AffectedResult:
    """The targets to rebuild after the changes in the work tree since options.since."""
    from bakegen.affected import affected_since  # here, as each command's own: emit never loads them

    return AffectedResult(affected_since(load_project(options), options.since))


@dataclass(frozen=True)
class ImpactResult:
    steps: dict[str, list[StepImpact]]  # each changed path (relative to the root): the steps it runs again


def impact(options: ImpactOptions) -> ImpactResult:
    """Which steps of which targets each changed file runs again, read as BuildKit keys its cache;
    a changed Dockerfile or bakegen.toml is compared with its version at options.since (or HEAD)."""
    from bakegen.git import changed_paths, file_at
    from bakegen.impact import impact_of

    root = options.project
    project = load_project(replace(options, root=root))
    changed = [in_project(root, p) for p in options.files]
    changed += changed_paths(root, options.since) if options.since else []
    if not changed:
        raise BakegenError("name the changed files, or give --since GIT_REF")
    revision = options.since or "HEAD"
    return ImpactResult(impact_of(project, list(dict.fromkeys(changed)),
                                  lambda path: file_at(root, revision, path)))


@dataclass(frozen=True)
class InitResult:
    path: Path
    targets: int
    missing_args: dict[str, list[str]] = field(default_factory=dict)  # per target: args a FROM needs
    notes: list[str] = field(default_factory=list)  # --from: what could not be carried, one line each


def init(options: InitOptions, say: Say = silent) -> InitResult:
    """A starter bakegen.toml stating what discovery found, or (from_files) reproducing the
    targets of hand-written bake files as bake reads them."""
    root = options.root
    path = root / CONFIG_FILE
    check_destination(root, path)  # before any work: a link out is refused, --force or not
    if options.from_files:
        return _init_from(options, path)
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


def _init_from(options: InitOptions, path: Path) -> InitResult:
    from bakegen.adopt import adopt
    from bakegen.paths import inside
    from bakegen.run.definition import read_definition

    root = options.root
    if path.exists() and not options.force:
        raise BakegenError(f"{path}: exists; use --force to replace it")
    files = [in_project(root, f) for f in options.from_files]
    adopted = adopt(read_definition(root, files), lambda p: inside(root, p) and (root / p).is_file(), files)
    if not adopted.targets:
        raise BakegenError(f"{', '.join(files)}: no target bakegen can build ({'; '.join(adopted.notes)[:300]})")
    parse_config(adopted.text, CONFIG_FILE)  # what is written is a config bakegen reads
    write_file(root, path, adopted.text)
    return InitResult(path, len(adopted.targets), notes=adopted.notes)
