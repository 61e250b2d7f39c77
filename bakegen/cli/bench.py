"""`bakegen bench` (its body is D's: bakegen/bench/ makes it one call)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bakegen.cli.common import EXIT_CHECK_FAILED, config_option, echo, project_root, say

# --- bench (its body is D's: bakegen/bench/ makes it one call; until then it stays as it was) ---


def _scenarios() -> tuple[str, ...]:
    from bakegen.budgets import SCENARIOS

    return SCENARIOS


def _load(root: Path, config: Path | None):
    from bakegen.generate import load

    return load(root, config)


@click.command()
@project_root
@config_option
@click.option("--builder", metavar="NAME",
              help="Builder to bench on; it is emptied for cold and fresh-runner (default: bakegen's own "
                   "`bakegen-bench`, made with `bakegen builder up`; never the engine's own BuildKit).")
@click.option("--scenarios", default=lambda: ",".join(_scenarios()), show_default="every scenario, in the order below",
              metavar="LIST",
              help="Comma-separated scenarios to run, in this order.")
@click.option("--targets", "targets", multiple=True, metavar="TARGET",
              help="Services whose source changes in code-change and deps-change (repeatable; default all).")
@click.option("--repeat", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Runs of each scenario: the table shows the median and the spread.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the figures as JSON.")
@click.option("--markdown", "markdown_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the tables as Markdown (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--chart", "chart_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.svg",
              help="Draw the scenario times (and the baseline's) as a chart (needs bakegen[chart]).")
@click.option("--budget", "budget_texts", multiple=True, metavar="SCENARIO=SECONDS|PERCENT%",
              help="A budget, e.g. code-change=30 or fresh-runner=15% (of cold); repeatable, over the config's.")
@click.option("--baseline", is_flag=True,
              help="Also build each scenario as a repository without bakegen does on a CI runner: plain "
                   "`docker build` of every Dockerfile, bases first by tag, no cache import; report the speed-up.")
@click.option("--load/--no-load", default=False, show_default=True,
              help="Load each build's images into the engine, timed (as a developer who runs them), or leave "
                   "them in the builder (as CI, which pushes them); either way they are loaded once, untimed, "
                   "for their sizes and healthchecks.")
@click.option("--cache-registry", metavar="REGISTRY",
              help="Registry cache backend: registry/namespace for the bench's own cache repositories "
                   "(default: REGISTRY; each run's are deleted afterwards where the registry allows).")
def bench(root: Path, config: Path | None, builder: str | None, scenarios: str, targets: tuple[str, ...],
          repeat: int, json_file: Path | None, markdown_file: Path | None, chart_file: Path | None,
          budget_texts: tuple[str, ...], baseline: bool, load: bool, cache_registry: str | None) -> None:
    """Build PATH's bake file for real, scenario by scenario, and measure it.

    Scenarios: cold (builder emptied; the cache is written to the bench's own refs), noop,
    code-change (a comment appended to one source file of each service), deps-change (a
    dependency manifest), base-change (a step added to a base's Dockerfile), fresh-runner
    (builder emptied and images removed; everything read back from the cache in one call).
    Every file changed is restored byte for byte, also on failure, Ctrl-C or SIGTERM.

    For each: wall seconds, BuildKit steps cached of total (from BuildKit's progress), bytes
    pushed and pulled; then image sizes and, for images with a HEALTHCHECK, seconds from start
    to healthy (GPU images only where a GPU exists: otherwise said, never faked). Exit 1 when a
    budget is breached (defaults: code-change 30 s and 5 % of cold, noop 60 s, fresh-runner 15 %
    of cold, healthy 60 s).
    """
    import json
    import shutil

    from bakegen import report
    from bakegen.budgets import DEFAULT_BUDGETS, check, merge, parse_option
    from bakegen.model import BakegenError
    from bakegen.plan import make_plan
    from bakegen.render import BAKE_FILE, render_bake
    from bakegen.run.bench import Bench, BenchOptions, check_scenarios, resolve_builder
    from bakegen.run.engine import connect
    from bakegen.sinks import visible
    from bakegen.writer import check_destination, write_file

    chosen = tuple(s.strip() for s in scenarios.split(",") if s.strip())
    check_scenarios(chosen)
    given = [parse_option(b) for b in budget_texts]  # bad input is refused before anything runs
    project = _load(root, config)
    budgets = merge(DEFAULT_BUDGETS, project.bench_budgets, given)
    unknown = [t for t in targets if t not in project.targets]
    if unknown:
        raise BakegenError(f"--targets: no target {unknown[0]} (targets: {', '.join(sorted(project.targets))})")
    for report_file in (json_file, markdown_file, chart_file):
        if report_file is not None:  # refused now, not after an hour of building
            check_destination(root, report_file, given=True)
    bake_file = root / BAKE_FILE
    if not bake_file.is_file():
        raise BakegenError(f"{bake_file}: missing; run `bakegen emit` first")
    if bake_file.read_text(encoding="utf-8") != render_bake(make_plan(project)):
        raise BakegenError(f"{bake_file}: out of date (the bench measures what would be built); run `bakegen emit`")
    connect()
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(stderr=True)
    name = resolve_builder(builder, say)
    options = BenchOptions(root=root, scenarios=chosen, targets=targets, repeat=repeat,
                           baseline=baseline, cache_registry=cache_registry, load=load)
    with console.status("starting") as status:
        run = Bench(project, options, name, lambda m: console.print(Text(visible(f"bakegen: {m}"))),
                    on_step=lambda m: status.update(Text(visible(m)))).run()
    verdicts = check(budgets, {s.name: s.wall_s for s in run.scenarios if s.wall_s is not None},
                     {n: f.healthy_s for n, f in run.services.items() if f.healthy_s is not None})
    out = Console(width=max(shutil.get_terminal_size((160, 24)).columns, 120))
    for title, header, body in (("bakegen bench", report.COLUMNS, report.rows(run)),
                                ("images", ("target", "image size", "start to healthy", "note"),
                                 report.service_rows(run)),
                                ("budgets", ("budget", "measured", "verdict"), report.verdict_rows(verdicts))):
        if body:
            table = Table(*header, title=title)
            for row in body:
                table.add_row(*(Text(visible(cell)) for cell in row))  # text, never rich markup
            out.print(table)
    if json_file:
        write_file(root, json_file, json.dumps(report.to_json(run, verdicts), indent=2) + "\n", given=True)
    if markdown_file:
        write_file(root, markdown_file, report.to_markdown(run, verdicts), given=True)
    if chart_file:
        write_file(root, chart_file, report.chart(run, chart_file.suffix.lstrip(".") or "svg"), given=True)
    breached = [v for v in verdicts if v.breached]
    for verdict in breached:
        echo(f"bakegen: budget breached: {verdict.budget}: {verdict.measured}, {verdict.detail}", err=True)
    if breached:
        sys.exit(EXIT_CHECK_FAILED)


