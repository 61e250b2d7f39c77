"""Speed of emit on generated monorepos (pytest-benchmark), and the whole process against buildx.

Run the figures with: pytest tests/test_bench.py --benchmark-enable
"""

import os
import subprocess
import sys
import time

import pytest

from bakegen.config import load_project
from bakegen.plan import make_plan
from bakegen.render import render_bake

from .helpers import make_monorepo, need_buildx


@pytest.mark.parametrize("services", [10, 100, 1000])
def test_emit_speed(benchmark, tmp_path, services):
    make_monorepo(tmp_path, services)

    def emit() -> str:
        return render_bake(make_plan(load_project(tmp_path)))

    text = benchmark(emit)
    assert text.count('\ntarget "') == services + 2 + 1  # services, bases, _common


def _best_of(command: list[str], cwd, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def test_emit_process_is_faster_than_buildx_reading_its_output(tmp_path):
    """Goal: `bakegen emit` on 1,000 services takes no longer than `bake --print` of the result."""
    need_buildx()
    make_monorepo(tmp_path, 1000)
    emit = [sys.executable, "-m", "bakegen", "emit", "."]
    bake_print = ["docker", "buildx", "bake", "-f", "docker-bake.hcl", "--print"]
    subprocess.run(emit, cwd=tmp_path, check=True, capture_output=True)
    emit_s, print_s = [], []
    for _ in range(3):  # interleaved, so both see the same machine load
        emit_s.append(_best_of(emit, tmp_path, 1))
        print_s.append(_best_of(bake_print, tmp_path, 1))
    ratio = min(emit_s) / min(print_s)
    report = f"emit {min(emit_s):.3f}s, bake --print {min(print_s):.3f}s, ratio {ratio:.2f}"
    print(report)
    if os.environ.get("BAKEGEN_BENCH_REPORT"):
        with open(os.environ["BAKEGEN_BENCH_REPORT"], "a", encoding="utf-8") as f:
            f.write(f"emit-1000: {report}\n")
    assert ratio <= 1.0, report
