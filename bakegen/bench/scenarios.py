"""The bench's scenarios as objects, registered in one list: each has a name, what it changes, its
default budgets and how it runs. Adding a scenario is one function and one entry in SCENARIOS;
its name, order, `--scenarios` help and budget name all come from here.

A scenario does its work through a `Runner` (the bench's runner gives the real one: builds on a
builder it may empty; tests give a stand-in), so which files it changes, what it skips and in
which order it builds are unit-tested without an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bakegen.bench.changes import appended, base_step_added, cloned_at_head, harmless_line, manifest_file, source_file
from bakegen.git import GitUnavailable, is_repository
from bakegen.graph import LoadedProject
from bakegen.model import BakegenError, Budget, Kind, Project
from bakegen.render import BAKE_FILE

if TYPE_CHECKING:  # results are made when a bench runs: not loaded for `--help` or config checks
    from bakegen.bench.results import Measure, ScenarioResult


@dataclass
class CacheState:
    """What the cold build left for fresh-runner to read (kept by the runner)."""

    unreadable: str = ""  # why this backend keeps no cache a fresh runner can read ("": it does)
    where: str = ""  # where the last cold build wrote it
    written: bool = False  # a cold build has run
    export_problems: list[str] = field(default_factory=list)  # exports that failed without failing the build
    bytes: int | None = None  # what the last cold build wrote, counted where it landed (None: cannot see)

    def why_not_readable(self) -> str:
        """Why a fresh runner would find no cache here ("" when it would)."""
        if self.unreadable:
            return self.unreadable
        if not self.written:
            return "needs the cold scenario first (it writes the cache this one reads)"
        if self.bytes == 0:
            return f"no cache landed in {self.where} (a registry that refused the export?)"
        if self.export_problems:
            return f"the cold build could not write the cache: {self.export_problems[0]}"
        return ""


class Runner(Protocol):
    """What a scenario may do beyond changing files of the repository."""

    project: LoadedProject  # its graph read by base-change
    targets: tuple[str, ...]  # services whose code changes (--targets; empty: every service)
    cache: CacheState
    push_unavailable: str  # why images are not pushed here ("": they may be)

    def nonce(self, attempt: int) -> str:
        """Different per run and attempt: every change is new to BuildKit."""
        ...

    def bake(self, label: str, *, write_cache: bool = False, root: Path | None = None,
             push: bool = False) -> Measure:
        """The bake file built from `root` (default: the project's); with `write_cache` the
        cache is exported where `fresh_cache` pointed it, and what landed is kept in `cache`;
        with `push` every image is pushed (to a registry repository of the bench's own), and
        the bytes that landed there are measured."""
        ...

    def empty_builder(self) -> None:
        """What a fresh CI runner has: no build cache, none of the bench's images."""
        ...

    def fresh_cache(self, attempt: int) -> None:
        """Point the cache export at a place nobody wrote (a cold build must find no cache)."""
        ...


Run = Callable[["Runner", "ScenarioResult", int], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    changes: str  # what it changes, as `--help` and the README say it
    run: Run  # appends a Measure to the result, or sets its `skipped`
    budget_seconds: float | None = None  # default budgets: at most this long ...
    budget_percent_of_cold: float | None = None  # ... and at most this share of the cold build

    @property
    def default_budgets(self) -> tuple[Budget, ...]:
        budgets = []
        if self.budget_seconds is not None:
            budgets.append(Budget(self.name, seconds=self.budget_seconds))
        if self.budget_percent_of_cold is not None:
            budgets.append(Budget(self.name, percent_of_cold=self.budget_percent_of_cold))
        return tuple(budgets)


def _shown(project: Project, path: Path) -> str:
    return path.relative_to(project.root).as_posix()


def cold(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    runner.empty_builder()
    runner.fresh_cache(attempt)
    result.measures.append(runner.bake("cold", write_cache=True))
    result.cache_bytes = runner.cache.bytes


def noop(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    result.measures.append(runner.bake("noop"))


def noop_fresh_clone(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    """Proves the committed bake file depends on tracked files only: a clean clone of HEAD,
    built on the warm builder, finds every step in the same cache."""
    root = runner.project.root
    if not is_repository(root):
        result.skipped = "not a git repository: nothing to clone"
        return
    try:
        with cloned_at_head(root) as clone:
            committed = clone / BAKE_FILE
            if not committed.is_file():
                result.skipped = f"{BAKE_FILE} is not committed: a fresh clone has none to build"
                return
            if committed.read_bytes() != (root / BAKE_FILE).read_bytes():
                result.skipped = f"the committed {BAKE_FILE} differs from the work tree's: commit it first"
                return
            result.measures.append(runner.bake("noop-fresh-clone", root=clone))
    except GitUnavailable as e:
        result.skipped = f"cannot clone: {e}"


def code_change(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    project = runner.project
    names = runner.targets or tuple(n for n, t in sorted(project.targets.items()) if t.kind == Kind.SERVICE)
    files = [f for n in names if (f := source_file(project, project.targets[n])) is not None]
    if not files:
        result.skipped = "no service's Dockerfile copies a file from its context (nothing a code change reaches)"
        return
    with ExitStack() as changes:
        for path in files:
            changes.enter_context(appended(path, harmless_line(path, runner.nonce(attempt)), root=project.root))
        result.changed = [_shown(project, p) for p in files]
        result.measures.append(runner.bake("code-change"))


def deps_change(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    project = runner.project
    names = runner.targets or tuple(sorted(project.targets))
    found = next((f for n in names if (f := manifest_file(project, project.targets[n]))), None)
    if found is None:
        result.skipped = ("no Dockerfile copies a file that a RUN step then uses, nor a dependency manifest "
                          "(requirements.txt, package.json, ...)")
        return
    with appended(found, harmless_line(found, runner.nonce(attempt)), root=project.root):
        result.changed = [_shown(project, found)]
        result.measures.append(runner.bake("deps-change"))


def base_change(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    project = runner.project
    links = project.graph.links
    used = {base for bases in links.values() for base in bases.values()}
    if not used:
        result.skipped = "no target is built on another"
        return
    base = min((project.targets[n] for n in sorted(used)), key=lambda t: len(links[t.name]))  # the root-most
    with base_step_added(project, base, runner.nonce(attempt)) as path:
        result.changed = [_shown(project, path)]
        result.measures.append(runner.bake("base-change"))


def fresh_runner(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    why = runner.cache.why_not_readable()
    if why:
        result.skipped = why
        return
    runner.empty_builder()
    result.measures.append(runner.bake("fresh-runner"))


def fresh_runner_push(runner: Runner, result: ScenarioResult, attempt: int) -> None:
    """The fresh runner as the workflow runs it: the images pushed (PUSH=true) as they are built."""
    why = runner.push_unavailable or runner.cache.why_not_readable()
    if why:
        result.skipped = why
        return
    runner.empty_builder()
    result.measures.append(runner.bake("fresh-runner-push", push=True))


# The registry, in the order they run. The default budgets are the original design's promises: a
# code change under 30 s and at most 5 % of a cold build, everything cached under 60 s, a fresh
# runner at most 15 % of cold.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("cold", "the builder's cache emptied, the cache written to refs of the bench's own, never your "
             "branch's", cold),
    Scenario("noop", "nothing changed, everything cached", noop, budget_seconds=60),
    Scenario("noop-fresh-clone", "nothing changed, but baked from a fresh clone of HEAD on the warm "
             "builder, which hits the same cache", noop_fresh_clone, budget_seconds=60),
    Scenario("code-change", "a comment appended to one source file of each service", code_change,
             budget_seconds=30, budget_percent_of_cold=5),
    Scenario("deps-change", "a harmless line appended to one dependency manifest", deps_change),
    Scenario("base-change", "a step added to the root-most base's Dockerfile", base_change),
    Scenario("fresh-runner", "builder emptied and images removed, everything read back from the cache",
             fresh_runner, budget_percent_of_cold=15),
    Scenario("fresh-runner-push", "as fresh-runner, with every image pushed to a registry repository of the "
             "bench's own (PUSH=true), as the workflow does; bytes pushed and pulled", fresh_runner_push),
)
NAMES: tuple[str, ...] = tuple(s.name for s in SCENARIOS)


def chosen(names: tuple[str, ...]) -> tuple[Scenario, ...]:
    """The scenarios named, in the order given; an unknown name is bad input."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise BakegenError(f"unknown scenario {', '.join(unknown)} (known: {', '.join(NAMES)})")
    return tuple(SCENARIOS[NAMES.index(n)] for n in names)
