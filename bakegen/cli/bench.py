"""`bakegen bench` (its body is D's: bakegen/bench/ makes it one call)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bakegen.cli.common import EXIT_CHECK_FAILED, config_option, echo, project_root


def _scenarios():
    from bakegen.bench.scenarios import SCENARIOS

    return SCENARIOS


@click.command()
@project_root
@config_option
@click.option("--builder", metavar="NAME",
              help="Builder to bench on; it is emptied for cold and fresh-runner (default: bakegen's own "
                   "`bakegen-bench`, made with `bakegen builder up`; never the engine's own BuildKit).")
@click.option("--scenarios", default=lambda: ",".join(s.name for s in _scenarios()),
              show_default="every scenario, in the order below", metavar="LIST",
              help="Comma-separated scenarios to run, in this order: cold, noop, noop-fresh-clone, code-change, "
                   "deps-change, base-change, fresh-runner, fresh-runner-push (each described in the README's Bench "
                   "section).")
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
@click.option("--baseline", "baseline_text", is_flag=False, flag_value="compose,tags,none", default="",
              metavar="[compose,tags,none]",
              help="Also build each scenario as a team without bakegen would, in the same run with the same repeats: "
                   "compose (a compose file, registry cache per image, bases first by separate commands), tags "
                   "(a bake file without links: bases pushed and pulled by tag, registry cache per target), none (no "
                   "cache). Any subset; alone: all three. Give PATH before it.")
@click.option("--strict-budgets", is_flag=True, help="A budget that could not be measured is a failure (exit 1).")
@click.option("--verbose", is_flag=True, help="Show each baseline's generated file and the commands it runs.")
@click.option("--load/--no-load", default=False, show_default=True,
              help="Load each build's images into the engine, timed (as a developer who runs them), or leave "
                   "them in the builder (as CI, which pushes them); either way they are loaded once, untimed, "
                   "for their sizes and healthchecks.")
@click.option("--cache-registry", metavar="REGISTRY",
              help="registry/namespace for the bench's own repositories: its cache (registry backend), the "
                   "baselines' images and caches, the pushed images (default: REGISTRY; each run's are deleted "
                   "afterwards where the registry allows).")
def bench(root: Path, config: Path | None, builder: str | None, scenarios: str, targets: tuple[str, ...],
          repeat: int, json_file: Path | None, markdown_file: Path | None, chart_file: Path | None,
          budget_texts: tuple[str, ...], baseline_text: str, strict_budgets: bool, verbose: bool, load: bool,
          cache_registry: str | None) -> None:
    """Build PATH's bake file for real, scenario by scenario, and measure it.

    Scenarios: see --scenarios. Every file changed is restored byte for byte, also on failure,
    Ctrl-C or SIGTERM.

    For each: wall seconds, BuildKit steps cached of total (from BuildKit's progress), bytes
    pushed and pulled; then image sizes and, for images with a HEALTHCHECK, seconds from start
    to healthy (GPU images only where a GPU exists: otherwise said, never faked). Exit 1 when a
    budget is breached (defaults: code-change 30 s and 5 % of cold, noop and noop-fresh-clone
    60 s, fresh-runner 15 % of cold, healthy 60 s), or with --strict-budgets not measured.
    With --baseline, each scenario is also built as compose, a bake file without links, and
    without cache would build it, and the speed-up over each is shown.
    """
    import json
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from bakegen.bench import BenchRequest, report, run_bench
    from bakegen.bench.baseline import parse_baselines
    from bakegen.sinks import visible
    from bakegen.writer import write_file

    outputs = tuple(f for f in (json_file, markdown_file, chart_file) if f is not None)
    request = BenchRequest(root=root, config=config, builder=builder,
                           scenarios=tuple(s.strip() for s in scenarios.split(",") if s.strip()), targets=targets,
                           repeat=repeat, budgets=budget_texts, baselines=parse_baselines(baseline_text),
                           load=load, cache_registry=cache_registry, outputs=outputs, strict_budgets=strict_budgets,
                           verbose=verbose)
    console = Console(stderr=True)
    with console.status("starting") as status:
        outcome = run_bench(request, lambda m: console.print(Text(visible(f"bakegen: {m}"))),
                            on_step=lambda m: status.update(Text(visible(m))))
    out = Console(width=max(shutil.get_terminal_size((160, 24)).columns, 120))
    for title, header, body in report.tables(outcome.run, outcome.verdicts):
        table = Table(*header, title=title)
        for row in body:
            table.add_row(*(Text(visible(cell)) for cell in row))  # text, never rich markup
        out.print(table)
    if json_file:
        write_file(root, json_file, json.dumps(report.to_json(outcome.run, outcome.verdicts), indent=2) + "\n",
                   given=True)
    if markdown_file:
        write_file(root, markdown_file, report.to_markdown(outcome.run, outcome.verdicts), given=True)
    if chart_file:
        write_file(root, chart_file, report.chart(outcome.run, chart_file.suffix.lstrip(".") or "svg"), given=True)
    for verdict in outcome.breached:
        what = "budget not measured (--strict-budgets)" if verdict.missing else "budget breached"
        detail = "" if verdict.missing else f", {verdict.detail}"
        echo(f"bakegen: {what}: {verdict.budget}: {verdict.measured}{detail}", err=True)
    if outcome.breached:
        sys.exit(EXIT_CHECK_FAILED)
