"""Speed of the generator on generated monorepos of 10 to 5,000 services (pytest-benchmark), and
the whole emit process against buildx reading its output. Timings are reported, never asserted.

Also the CLI's start-up against a bare interpreter, and emit on a monorepo of real shapes.
Run the figures with: pytest tests/test_bench.py --benchmark-enable -s
"""

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakegen import generate
from bakegen.affected import affected_targets
from bakegen.generate import load
from bakegen.render import bounded_diff, render_graph

from .helpers import make_monorepo, need_buildx, print_bake

SIZES = [10, 100, 1000, 5000]
REAL = Path(__file__).parent / "fixtures" / "real"


@pytest.fixture(scope="module", params=SIZES)
def monorepo(request, tmp_path_factory):
    root = make_monorepo(tmp_path_factory.mktemp(f"repo{request.param}"), request.param)
    return request.param, root


def emit(root) -> str:
    return generate(root)


def test_emit_speed(benchmark, monorepo):
    services, root = monorepo
    text = benchmark(emit, root)
    assert text.count('\ntarget "') == services + 2 + 1  # services, bases, _common


def test_graph_speed(benchmark, monorepo):
    services, root = monorepo

    def graph() -> str:
        return render_graph(load(root), "text")

    text = benchmark(graph)
    assert len(text.splitlines()) == services + 2


def test_affected_speed(benchmark, monorepo):
    """A change to one base: every service on it is affected (the widest answer)."""
    services, root = monorepo

    def affected() -> list[str]:
        return affected_targets(load(root), ["docker/base-0/Dockerfile"], {})

    names = benchmark(affected)
    assert len(names) == 1 + (services + 1) // 2


def test_stale_check_speed(benchmark, monorepo):
    """`emit --check` after a one-line config change: emit, then a diff bounded by the change."""
    _, root = monorepo
    on_disk = emit(root).replace('default = "latest"', 'default = "old"')

    def check() -> str:
        return bounded_diff(on_disk, emit(root), "docker-bake.hcl")

    diff = benchmark(check)
    assert diff.count("\n@@ ") == 1 and '+  default = "latest"' in diff


def _best_of(command: list[str], cwd, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def test_emit_process_against_buildx_reading_its_output(tmp_path):
    """Figure (goal: at most 0.5x): `bakegen emit` on 1,000 services against `bake --print` of the
    result. A timing, so it is reported, never asserted: a busy machine must fail no test."""
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
    assert len(print_bake(tmp_path)["target"]) == 1000 + 2  # what was timed is what buildx reads


def _interleaved(commands: dict[str, list[str]], cwd, rounds: int) -> dict[str, list[float]]:
    """Each command run `rounds` times, in turn, so all see the same machine load."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(_best_of(command, cwd, 1))
    return times


def _report(title: str, times: dict[str, list[float]]) -> str:
    figures = ", ".join(f"{name} {min(t) * 1000:.0f} ms (median {statistics.median(t) * 1000:.0f})"
                        for name, t in times.items())
    report = f"{title}: {figures}"
    print(report)
    if os.environ.get("BAKEGEN_BENCH_REPORT"):
        with open(os.environ["BAKEGEN_BENCH_REPORT"], "a", encoding="utf-8") as f:
            f.write(report + "\n")
    return report


@pytest.mark.parametrize("args", [["--version"], ["emit", "--help"]], ids=["version", "emit-help"])
def test_startup_speed(benchmark, args):
    """The CLI's start-up (pytest-benchmark; compare with test_bare_interpreter_speed)."""
    done = benchmark(subprocess.run, [sys.executable, "-m", "bakegen", *args], check=True, capture_output=True)
    assert done.stdout.startswith(b"bakegen, version" if args == ["--version"] else b"Usage: bakegen emit")


def test_bare_interpreter_speed(benchmark):
    benchmark(subprocess.run, [sys.executable, "-c", "pass"], check=True)


def test_startup_against_a_bare_interpreter(tmp_path):
    """Figure (goal: --version at most 60 ms over a bare interpreter), side by side in one run."""
    python = sys.executable
    times = _interleaved({"python -c pass": [python, "-c", "pass"],
                          "bakegen --version": [python, "-m", "bakegen", "--version"],
                          "bakegen emit --help": [python, "-m", "bakegen", "emit", "--help"]}, tmp_path, 20)
    _report("start-up", times)
    # What --version loads: click and the CLI, nothing of the layers below it.
    loaded = subprocess.run([python, "-X", "importtime", "-m", "bakegen", "--version"], capture_output=True,
                            text=True, check=True).stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in loaded.splitlines()}
    assert {m for m in modules if m.startswith("bakegen")} == {
        "bakegen", "bakegen.app", "bakegen.cli", "bakegen.cli.main", "bakegen.cli.common"}
    assert not modules & {"yaml", "pathspec", "docker", "rich", "importlib.metadata", "tomllib"}


def real_monorepo(root):
    """The five first real skeletons in tests/fixtures/real side by side: 37 Dockerfiles, 10 compose
    files (the ones added for tests/test_unseen_repos.py are left out, so the figure stays comparable)."""
    for name in ("awesome-compose", "cookiecutter-django", "docker-stacks", "opentelemetry-demo",
                 "text-generation-inference"):
        shutil.copytree(REAL / name, root / name)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_emit_of_a_real_monorepo_speed(benchmark, tmp_path):
    root = real_monorepo(tmp_path)
    text = benchmark(emit, root)
    assert text.count('\ntarget "') == 36 + 1  # its targets and _common


def test_emit_process_on_a_real_monorepo_against_buildx_reading_its_output(tmp_path):
    """Figure (goal: no slower than bake --print): the whole `bakegen emit` process on a monorepo
    of real shapes against `docker buildx bake --print` of its output, interleaved: as it runs
    before every bake (nothing changed: answered from its stamp) and doing all its work (a check
    with no stamp: every file read, the file rendered and compared)."""
    need_buildx()
    root = real_monorepo(tmp_path / "repo")
    emit = [sys.executable, "-m", "bakegen", "emit", "-q", "."]
    subprocess.run(emit, cwd=root, check=True, capture_output=True)
    time.sleep(2.1)  # past the two seconds within which a file's stat data is not trusted
    subprocess.run(emit, cwd=root, check=True, capture_output=True)  # keeps its stamp now
    again = subprocess.run(emit, cwd=root, check=True, capture_output=True, text=True)
    assert "nothing it reads changed" in again.stderr  # what is timed below is the stamp's answer
    no_stamp = "/dev/null/no-stamp"  # a cache folder that cannot be made: no stamp read or kept
    times = _interleaved({"emit (nothing changed)": emit,
                          "emit --check (all the work)": ["env", f"XDG_CACHE_HOME={no_stamp}", *emit, "--check"],
                          "bake --print": ["docker", "buildx", "bake", "-f", "docker-bake.hcl", "--print"]}, root, 10)
    _report("emit-real", times)
    assert len(print_bake(root)["target"]) == 36  # what was timed is what buildx reads
