"""Bench results as people and machines read them: rows for a table, JSON, Markdown, a chart.

The chart needs matplotlib (`pip install 'bakegen[chart]'`), imported only when one is asked for.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakegen.bench.baseline import BASELINES
from bakegen.bench.budgets import Verdict
from bakegen.bench.results import BenchRun, ScenarioResult
from bakegen.model import BakegenError
from bakegen.sinks import visible

if TYPE_CHECKING:
    from bakegen.options import BenchRequest

COLUMNS = ("scenario", "wall (median)", "spread", "steps run/cached/all", "cache written", "pulled", "pushed")
SERVICE_COLUMNS = ("target", "image size", "start to healthy", "note")
VERDICT_COLUMNS = ("budget", "measured", "verdict")


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def baselines(run: BenchRun) -> list[str]:
    """The baselines measured in this run, in their canonical order."""
    found = {name for s in run.scenarios for name in s.baselines}
    return [name for name in BASELINES if name in found]


def columns(run: BenchRun) -> tuple[str, ...]:
    return (*COLUMNS, *(f"{name} (bakegen's speed-up)" for name in baselines(run)), "changed")


def _baseline_cell(s: ScenarioResult, name: str) -> str:
    other = s.baselines.get(name)
    if other is None:
        return ""
    if other.skipped or other.wall_s is None:
        return f"skipped: {other.skipped}" if other.skipped else "not run"
    speedup = s.speedup(name)
    return f"{other.wall_s:.2f} s" + (f" ({speedup:.1f}x)" if speedup is not None else "")


def rows(run: BenchRun) -> list[list[str]]:
    names = baselines(run)
    table = []
    for s in run.scenarios:
        if s.skipped:
            table.append([s.name, "skipped", *[""] * (len(COLUMNS) - 2 + len(names)), s.skipped])
            continue
        last = s.last()
        assert last is not None and s.spread_s is not None
        low, high = s.spread_s
        table.append([
            s.name, f"{s.wall_s:.2f} s", f"{low:.2f}-{high:.2f} s" if len(s.measures) > 1 else "",
            f"{last.steps_ran}/{last.steps_cached}/{last.steps_total}", size(s.cache_bytes) if s.name == "cold" else "",
            size(last.bytes_pulled), size(last.bytes_pushed) if last.bytes_pushed is not None else "",
            *(_baseline_cell(s, name) for name in names), ", ".join(s.changed),
        ])
    return table


def baseline_rows(run: BenchRun) -> list[list[str]]:
    """Each baseline's own figures, scenario by scenario (steps, bytes), for a reader checking it."""
    table = []
    for name in baselines(run):
        for s in run.scenarios:
            other = s.baselines.get(name)
            if other is None:
                continue
            last = other.last()
            if other.skipped or last is None:
                table.append([name, s.name, "skipped", "", "", "", "", other.skipped])
                continue
            table.append([name, s.name, f"{other.wall_s:.2f} s",
                          f"{last.steps_ran}/{last.steps_cached}/{last.steps_total}",
                          size(other.cache_bytes) if s.name == "cold" else "", size(last.bytes_pulled),
                          size(last.bytes_pushed) if last.bytes_pushed is not None else "", ""])
    return table


BASELINE_COLUMNS = ("baseline", "scenario", "wall (median)", "steps run/cached/all", "cache written", "pulled",
                    "pushed", "note")


def service_rows(run: BenchRun) -> list[list[str]]:
    return [[name, size(f.size_bytes), f"{f.healthy_s:.2f} s" if f.healthy_s is not None else "-", f.note]
            for name, f in sorted(run.services.items())]


def verdict_rows(verdicts: list[Verdict]) -> list[list[str]]:
    return [[str(v.budget), v.measured, v.status] for v in verdicts]


def tables(run: BenchRun, verdicts: list[Verdict]) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
    """(title, header, rows) of each table for the terminal, the empty ones left out."""
    found = [("bakegen bench", columns(run), rows(run)), ("baselines", BASELINE_COLUMNS, baseline_rows(run)),
             ("images", SERVICE_COLUMNS, service_rows(run)), ("budgets", VERDICT_COLUMNS, verdict_rows(verdicts))]
    return [(title, header, body) for title, header, body in found if body]


def to_json(run: BenchRun, verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        "scenarios": [_scenario_json(s) for s in run.scenarios],
        "services": {name: {"image": f.image, "size_bytes": f.size_bytes, "healthy_s": f.healthy_s,
                            "note": f.note} for name, f in sorted(run.services.items())},
        "machine": run.machine,
        "budgets": {str(v.budget): _verdict_json(v) for v in verdicts},
    }


def _scenario_json(s: ScenarioResult) -> dict[str, Any]:
    figures = _figures_json(s)
    if s.baselines:
        figures["baselines"] = {name: {**_figures_json(other), "speedup": s.speedup(name)}
                                for name, other in s.baselines.items()}
    return figures


def _figures_json(s: ScenarioResult) -> dict[str, Any]:
    last = s.last()
    return {
        "name": s.name, "skipped": s.skipped or None, "wall_s": s.wall_s,
        "spread_s": list(s.spread_s) if s.spread_s else None, "runs_s": [m.seconds for m in s.measures],
        "steps_total": last.steps_total if last else None, "steps_cached": last.steps_cached if last else None,
        "steps_ran": last.steps_ran if last else None,
        "cache_bytes": s.cache_bytes, "bytes_pulled": last.bytes_pulled if last else None,
        "bytes_pushed": last.bytes_pushed if last else None, "changed": s.changed,
    }


def _verdict_json(v: Verdict) -> dict[str, Any]:
    return {"measured": v.measured, "breached": v.breached, "detail": v.detail, "status": v.status,
            "measured_at_all": not v.missing}


def to_markdown(run: BenchRun, verdicts: list[Verdict]) -> str:
    def table(header: tuple[str, ...] | list[str], body: list[list[str]]) -> list[str]:
        cells = [[visible(c).replace("|", "\\|") for c in row] for row in body]  # one line each
        return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] + [
            "| " + " | ".join(row) + " |" for row in cells]

    m = run.machine
    lines = ["## bakegen bench", "",
             visible(f"Builder `{m.get('builder')}` ({m.get('driver')} driver, BuildKit {m.get('buildkit')}), "
                     f"engine {m.get('engine')}, buildx {m.get('buildx')}, {m.get('cpus')} CPUs, "
                     f"cache: {m.get('cache')}."), ""]
    lines += [*table(columns(run), rows(run)), ""]
    if baseline_rows(run):
        lines += [visible("Baselines: " + run.machine.get("baselines", "")) if run.machine.get("baselines") else "",
                  "", *table(BASELINE_COLUMNS, baseline_rows(run)), ""]
    if run.services:
        lines += [*table(SERVICE_COLUMNS, service_rows(run)), ""]
    if verdicts:
        lines += [*table(VERDICT_COLUMNS, verdict_rows(verdicts)), ""]
    return "\n".join(lines)


def chart(run: BenchRun, fmt: str) -> bytes:
    """A bar chart of the scenarios' median times (and the baseline's, when measured), as a
    file of format `fmt` (svg, png, pdf): the caller writes it (writer.write_file)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BakegenError("--chart needs matplotlib: pip install 'bakegen[chart]'") from None
    measured = [s for s in run.scenarios if s.wall_s is not None]
    if not measured:
        raise BakegenError("--chart: no scenario was measured")
    names = [s.name for s in measured]
    series = [("bakegen", [s.wall_s or 0 for s in measured], "#2b7bb9")]
    colours = {"compose": "#e08a3c", "tags": "#8c8c8c", "none": "#cccccc"}
    series += [(f"{name} (without bakegen)", [(s.baselines[name].wall_s or 0) if name in s.baselines else 0
                                               for s in measured], colours[name]) for name in baselines(run)]
    figure, axes = plt.subplots(figsize=(8, (0.3 + 0.25 * len(series)) * len(names) + 1.6))
    positions = range(len(names))
    height = 0.8 / len(series)
    for n, (label, values, color) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * height
        bars = axes.barh([p + offset for p in positions], values, height=height, color=color, label=label)
        axes.bar_label(bars, labels=[f"{v:.1f} s" if v else "" for v in values], padding=3, fontsize=7)
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlabel("seconds (median)")
    axes.set_title(f"bakegen bench: {run.machine.get('builder')} ({run.machine.get('driver')}, "
                   f"BuildKit {run.machine.get('buildkit')})", fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(len(series), 4), fontsize=8,
                frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    try:
        figure.savefig(out, format=fmt)
    except ValueError as e:
        raise BakegenError(f"--chart: cannot draw a .{fmt} file ({e})") from None
    finally:
        plt.close(figure)
    return out.getvalue()


def show(run: BenchRun, verdicts: list[Verdict]) -> None:
    """The tables on the terminal (rich), every cell as text, never as rich markup."""
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = Console(width=max(shutil.get_terminal_size((160, 24)).columns, 120))
    for title, header, body in tables(run, verdicts):
        table = Table(*header, title=title)
        for row in body:
            table.add_row(*(Text(visible(cell)) for cell in row))
        out.print(table)


def write_files(root: Path, request: BenchRequest, run: BenchRun, verdicts: list[Verdict]) -> None:
    """The report files the request names, each through the one write rule (bakegen/writer.py)."""
    import json

    from bakegen.writer import write_file

    if request.json_file:
        write_file(root, request.json_file, json.dumps(to_json(run, verdicts), indent=2) + "\n", given=True)
    if request.markdown_file:
        write_file(root, request.markdown_file, to_markdown(run, verdicts), given=True)
    if request.chart_file:
        fmt = request.chart_file.suffix.lstrip(".") or "svg"
        write_file(root, request.chart_file, chart(run, fmt), given=True)
