"""The bench as one call: typed options in, the run and its budget verdicts out. The CLI and the
library call this; they print and write what it returns. Everything that can be refused (names,
budgets, targets, report destinations, a stale bake file, the engine's own builder) is refused
before the first build."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bakegen.bench.scenarios import NAMES
from bakegen.options import BenchRequest
from bakegen.sinks import visible

if TYPE_CHECKING:
    from bakegen.bench.budgets import Verdict
    from bakegen.bench.results import BenchRun

Say = Callable[[str], None]


@dataclass(frozen=True)
class BenchOutcome:
    run: BenchRun
    verdicts: list[Verdict]

    @property
    def breached(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.breached]


def run_bench(request: BenchRequest, say: Say, on_step: Callable[[str], None] | None = None) -> BenchOutcome:
    """Build the project's bake file for real, scenario by scenario, and check the budgets.
    `say` gets a line per event worth telling; `on_step` the build step running now."""
    # Heavy imports here: the docker SDK and the engine's modules only when a bench runs.
    from bakegen.bench.baseline import BASELINES
    from bakegen.bench.budgets import DEFAULT_BUDGETS, check, from_config, merge, parse_option
    from bakegen.bench.report import write_files
    from bakegen.bench.runner import Bench, BenchOptions, resolve_builder
    from bakegen.bench.scenarios import chosen
    from bakegen.generate import load
    from bakegen.model import BakegenError
    from bakegen.plan import make_plan
    from bakegen.render import BAKE_FILE, render_bake
    from bakegen.run.engine import connect
    from bakegen.writer import check_destination

    root = request.root
    scenarios = request.scenarios or NAMES  # none named: every one
    chosen(scenarios)
    unknown_baselines = [b for b in request.baselines if b not in BASELINES]
    if unknown_baselines:
        raise BakegenError(f"unknown baseline {unknown_baselines[0]} (known: {', '.join(BASELINES)})")
    given = [parse_option(b) for b in request.budgets]
    project = load(root, request.config)
    budgets = merge(DEFAULT_BUDGETS, from_config(project), given)
    unknown = [t for t in request.targets if t not in project.targets]
    if unknown:
        raise BakegenError(f"--targets: no target {unknown[0]} (targets: {', '.join(sorted(project.targets))})")
    for output in request.outputs:  # refused now, not after an hour of building
        check_destination(root, output, given=True)
    bake_file = root / BAKE_FILE
    if not bake_file.is_file():
        raise BakegenError(f"{bake_file}: missing; run `bakegen emit` first")
    if bake_file.read_text(encoding="utf-8") != render_bake(make_plan(project)):
        raise BakegenError(f"{bake_file}: out of date (the bench measures what would be built); run `bakegen emit`")
    connect()
    builder = resolve_builder(request.builder, say)
    options = BenchOptions(root=root, scenarios=scenarios, targets=request.targets, repeat=request.repeat,
                           baselines=request.baselines, cache_registry=request.cache_registry, load=request.load,
                           verbose=request.verbose)
    run = Bench(project, options, builder, say, on_step=on_step).run()
    verdicts = check(budgets, {s.name: s.wall_s for s in run.scenarios if s.wall_s is not None},
                     {n: f.healthy_s for n, f in run.services.items() if f.healthy_s is not None},
                     asked=scenarios, skipped={s.name: s.skipped for s in run.scenarios if s.skipped},
                     strict=request.strict_budgets)
    write_files(root, request, run, verdicts)  # the report files asked for, before a breach is told
    return BenchOutcome(run, verdicts)


def run_on_terminal(request: BenchRequest) -> BenchOutcome:
    """A bench run shown as it goes (each event a line on stderr, the step running now in a
    status line), then its tables."""
    from rich.console import Console
    from rich.text import Text

    from bakegen.bench.report import show

    console = Console(stderr=True)
    with console.status("starting") as status:
        outcome = run_bench(request, lambda m: console.print(Text(visible(f"bakegen: {m}"))),
                            on_step=lambda m: status.update(Text(visible(m))))
    show(outcome.run, outcome.verdicts)
    return outcome
