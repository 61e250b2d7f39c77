"""Bench results as people and machines read them: rows for a table, JSON, Markdown, a chart.

The chart needs matplotlib (`pip install 'bakegen[chart]'`), imported only when one is asked for.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakegen.bench.budgets import Verdict
from bakegen.bench.results import BenchRun, ScenarioResult
from bakegen.model import BakegenError
from bakegen.sinks import visible

if TYPE_CHECKING:
    from bakegen.options import BenchRequest

COLUMNS = ("scenario", "wall (median)", "spread", "steps run/cached/all", "cache written", "pulled", "baseline",
           "speed-up", "changed")
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


def rows(run: BenchRun) -> list[list[str]]:
    table = []
    for s in run.scenarios:
        if s.skipped:
            table.append([s.name, "skipped", "", "", "", "", "", "", s.skipped])
            continue
        last = s.last()
        assert last is not None and s.spread_s is not None
        low, high = s.spread_s
        table.append([
            s.name, f"{s.wall_s:.2f} s", f"{low:.2f}-{high:.2f} s" if len(s.measures) > 1 else "",
            f"{last.steps_ran}/{last.steps_cached}/{last.steps_total}", size(s.cache_bytes) if s.name == "cold" else "",
            size(last.bytes_pulled),
            f"{s.baseline_s:.2f} s" if s.baseline_s is not None else "",
            f"{s.speedup:.1f}x" if s.speedup is not None else "", ", ".join(s.changed),
        ])
    return table


def service_rows(run: BenchRun) -> list[list[str]]:
    return [[name, size(f.size_bytes), f"{f.healthy_s:.2f} s" if f.healthy_s is not None else "-", f.note]
            for name, f in sorted(run.services.items())]


def verdict_rows(verdicts: list[Verdict]) -> list[list[str]]:
    return [[str(v.budget), v.measured, "BREACHED " + v.detail if v.breached else "ok"] for v in verdicts]


def tables(run: BenchRun, verdicts: list[Verdict]) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
    """(title, header, rows) of each table for the terminal, the empty ones left out."""
    found = [("bakegen bench", COLUMNS, rows(run)), ("images", SERVICE_COLUMNS, service_rows(run)),
             ("budgets", VERDICT_COLUMNS, verdict_rows(verdicts))]
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
    last = s.last()
    return {
        "name": s.name, "skipped": s.skipped or None, "wall_s": s.wall_s,
        "spread_s": list(s.spread_s) if s.spread_s else None, "runs_s": [m.seconds for m in s.measures],
        "steps_total": last.steps_total if last else None, "steps_cached": last.steps_cached if last else None,
        "steps_ran": last.steps_ran if last else None,
        "cache_bytes": s.cache_bytes, "bytes_pulled": last.bytes_pulled if last else None,
        "changed": s.changed, "baseline_s": s.baseline_s, "baseline_runs_s": s.baseline_seconds,
        "speedup": s.speedup,
    }


def _verdict_json(v: Verdict) -> dict[str, Any]:
    return {"measured": v.measured, "breached": v.breached, "detail": v.detail}


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
    lines += [*table(COLUMNS, rows(run)), ""]
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
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(names) + 1.6))
    positions = range(len(names))
    with_baseline = any(s.baseline_s is not None for s in measured)
    height = 0.38 if with_baseline else 0.6
    bars = axes.barh([p + (height / 2 if with_baseline else 0) for p in positions],
                     [s.wall_s or 0 for s in measured], height=height, color="#2b7bb9", label="bakegen")
    axes.bar_label(bars, labels=[f"{s.wall_s:.1f} s" for s in measured], padding=3, fontsize=8)
    if with_baseline:
        base = axes.barh([p - height / 2 for p in positions], [s.baseline_s or 0 for s in measured],
                         height=height, color="#bbbbbb", label="without bakegen (no cache import)")
        axes.bar_label(base, labels=[f"{s.baseline_s:.1f} s" if s.baseline_s else "" for s in measured],
                       padding=3, fontsize=8)
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlabel("seconds (median)")
    axes.set_title(f"bakegen bench: {run.machine.get('builder')} ({run.machine.get('driver')}, "
                   f"BuildKit {run.machine.get('buildkit')})", fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
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
