"""`bakegen bench` on the fixture monorepo, on the session's own BuildKit builder: real figures in
the JSON, the tree as it was afterwards, budgets, an interrupted run, bad input.

Asserts what is deterministic (which scenario ran how many steps, what was changed and put
back, what is left behind), never how long anything took.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakegen.model import CacheBackend
from bakegen.run import registry

from .conftest import PREFIX, REGISTRY, Monorepo

pytestmark = pytest.mark.engine
LOOSE = ["--budget", "code-change=100000%", "--budget", "fresh-runner=100000%", "--budget", "code-change=36000",
         "--budget", "noop=36000", "--budget", "noop-fresh-clone=36000"]


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def commit_all(root: Path) -> None:
    """The fixture as a repository of its own, everything committed (noop-fresh-clone clones it)."""
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fixture"]):
        subprocess.run(["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                        *args], check=True, capture_output=True)


@pytest.fixture
def repo(engine, buildkit_builder, tmp_path):
    monorepo = Monorepo(tmp_path / "repo", CacheBackend.REGISTRY, heavy_seconds=1, heavy_mb=5, env=buildkit_builder)
    yield monorepo
    monorepo.clean_up(engine)


def bench(repo: Monorepo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bakegen", "bench", str(repo.root), "--builder", repo.env.builder,
                           *args], capture_output=True, text=True, timeout=900)


def test_bench_measures_every_scenario_and_leaves_nothing_behind(engine, repo, tmp_path):
    commit_all(repo.root)
    before = tree_digest(repo.root)
    out = tmp_path / "out"
    out.mkdir()
    done = bench(repo, "--baseline", "--json", str(out / "b.json"), "--markdown", str(out / "b.md"),
                 "--chart", str(out / "b.svg"), *LOOSE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert tree_digest(repo.root) == before  # every change put back, byte for byte
    report = json.loads((out / "b.json").read_text())
    s = {x["name"]: x for x in report["scenarios"]}
    assert list(s) == ["cold", "noop", "noop-fresh-clone", "code-change", "deps-change", "base-change", "fresh-runner",
                       "fresh-runner-push"]
    assert all(x["skipped"] is None and x["wall_s"] > 0 for x in s.values())
    for name, x in s.items():  # every scenario measured against each baseline, in the same run
        assert list(x["baselines"]) == ["compose", "tags", "none"], name
        assert all(b["skipped"] is None and b["wall_s"] > 0 and b["speedup"] > 0 for b in x["baselines"].values())
        assert x["baselines"]["none"]["steps_ran"] == x["baselines"]["none"]["steps_total"]  # no cache: all of it
        assert all(b["changed"] == x["changed"] for b in x["baselines"].values())  # the same change
    # Each baseline's cache is read: a change reruns no more than bakegen's (BuildKit sometimes reruns the
    # steps of a service on a base pulled by tag again, so "as many" would be flaky).
    cold = s["cold"]["baselines"]
    assert all(b["steps_ran"] == b["steps_total"] == s["cold"]["steps_total"] for b in cold.values())
    assert s["code-change"]["baselines"]["compose"]["steps_ran"] < s["cold"]["steps_total"]
    assert s["cold"]["baselines"]["compose"]["cache_bytes"] > 0
    assert s["fresh-runner-push"]["bytes_pushed"] > 0 and s["fresh-runner"]["bytes_pushed"] is None
    assert all(b["bytes_pushed"] > 0 for b in s["fresh-runner-push"]["baselines"].values())
    assert s["cold"]["steps_ran"] == s["cold"]["steps_total"] > 0 and s["cold"]["cache_bytes"] > 0
    assert s["noop"]["steps_ran"] == 0 and s["noop"]["steps_cached"] == s["noop"]["steps_total"]
    clone = s["noop-fresh-clone"]  # a clean clone of HEAD hits the same cache
    assert clone["changed"] == [] and clone["steps_ran"] == 0 and clone["steps_cached"] == s["noop"]["steps_cached"]
    assert s["code-change"]["changed"] == ["api/src/app.py", "pose/src/app.py", "web/src/index.html"]
    assert 0 < s["code-change"]["steps_ran"] < s["cold"]["steps_ran"]
    assert s["deps-change"]["changed"] == ["api/requirements.txt"] and s["deps-change"]["steps_ran"] > 0
    assert s["base-change"]["changed"] == ["docker/base-heavy/Dockerfile"]
    assert s["base-change"]["steps_ran"] > s["code-change"]["steps_ran"]  # everything on the base reran
    assert s["fresh-runner"]["steps_ran"] == 0 and s["fresh-runner"]["steps_cached"] > 0  # all from the registry
    assert report["machine"]["driver"] == "remote" and report["machine"]["buildkit"] == "v0.26.3"
    images = report["services"]
    assert set(images) == {"api", "base-app", "base-heavy", "pose", "web"}
    assert all(x["size_bytes"] > 0 for x in images.values())
    assert all(images[n]["note"] == "no healthcheck" and images[n]["healthy_s"] is None for n in images if n != "web")
    assert images["web"]["healthy_s"] > 0 and images["web"]["note"] == ""  # its HEALTHCHECK, timed
    assert "| code-change |" in (out / "b.md").read_text()
    assert (out / "b.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert not [t for image in engine.images.list() for t in image.tags if t.endswith(":bakegen-bench")]
    assert not [r for r in registry.repositories(REGISTRY, PREFIX) if "bakegen-bench-" in r
                and registry.tags(REGISTRY, r)]  # caches, baselines' images, pushed images: all deleted


def test_a_text_only_monorepo_is_measured_in_every_scenario(engine, buildkit_builder, tmp_path):
    """A monorepo the bench has never seen: no known language, sources and dependency lists are .txt."""
    root = tmp_path / "texts"
    files = {
        "docker/base/Dockerfile": "FROM busybox:stable\nRUN echo base > /base.txt\n",
        "notes/Dockerfile": ("FROM base AS deps\nCOPY wanted.txt /w.txt\nRUN sort /w.txt > /sorted.txt\n"
                             "FROM deps AS runtime\nCOPY chapters/ /chapters/\n"
                             "HEALTHCHECK --interval=1s CMD test -d /chapters\nCMD [\"sleep\", \"3600\"]\n"),
        "notes/wanted.txt": "b\na\n", "notes/chapters/one.txt": "once upon a time\n",
        "bakegen.toml": (f'[project]\nregistry = "{REGISTRY}/{PREFIX}/texts"\n'
                         f'[images]\n"busybox:stable" = "{buildkit_builder.busybox}"\n'),
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    subprocess.run([sys.executable, "-m", "bakegen", "emit", str(root)], check=True, capture_output=True)
    before = tree_digest(root)
    out = tmp_path / "t.json"
    done = subprocess.run([sys.executable, "-m", "bakegen", "bench", str(root), "--builder", buildkit_builder.builder,
                           "--scenarios", "cold,code-change,deps-change,fresh-runner", "--baseline", "none",
                           "--strict-budgets", "--json", str(out), *LOOSE], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "REGISTRY": f"{REGISTRY}/{PREFIX}/texts"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert tree_digest(root) == before
    report = json.loads(out.read_text())
    s = {x["name"]: x for x in report["scenarios"]}
    assert s["code-change"]["changed"] == ["notes/chapters/one.txt"] and s["code-change"]["steps_ran"] == 1
    assert s["deps-change"]["changed"] == ["notes/wanted.txt"] and s["deps-change"]["steps_ran"] >= 2
    assert all(x["skipped"] is None and x["baselines"]["none"]["wall_s"] > 0 for x in s.values())
    assert report["budgets"] and all(v["measured_at_all"] for v in report["budgets"].values())  # --strict-budgets


def test_a_breached_budget_exits_1_naming_it(repo):
    done = bench(repo, "--scenarios", "cold", "--budget", "cold=0")
    assert done.returncode == 1, done.stderr[-2000:]
    assert "bakegen: budget breached: cold <= 0 s:" in done.stderr and "over by" in done.stderr


def test_an_interrupted_bench_puts_the_tree_back(repo):
    before = tree_digest(repo.root)
    watched = repo.root / "api/src/app.py"
    process = subprocess.Popen([sys.executable, "-m", "bakegen", "bench", str(repo.root), "--builder",
                                repo.env.builder, "--scenarios", "code-change"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while hashlib.sha256(watched.read_bytes()).hexdigest() == before["api/src/app.py"]:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the bench never changed the file"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)  # mid-scenario: the file is changed, the build runs
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert tree_digest(repo.root) == before


@pytest.mark.parametrize(("args", "message"), [
    (["--scenarios", "cold,warm"], "unknown scenario warm (known: cold, noop"),
    (["--budget", "warm=3"], "--budget warm=3: unknown budget 'warm'"),
    (["--budget", "noop=fast"], "--budget noop=fast: 'fast' is not a budget"),
    (["--targets", "nope"], "--targets: no target nope"),
])
def test_bad_input_is_one_line_exit_2(engine, tmp_path, args, message, docker_builder):
    repo = Monorepo(tmp_path / "repo", CacheBackend.REGISTRY, heavy_seconds=0, env=docker_builder)
    done = subprocess.run([sys.executable, "-m", "bakegen", "bench", str(repo.root), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip().splitlines()[-1]]
    assert message in done.stderr


def test_the_engines_own_buildkit_is_never_benched(engine, tmp_path, docker_builder):
    repo = Monorepo(tmp_path / "repo", CacheBackend.REGISTRY, heavy_seconds=0, env=docker_builder)
    done = subprocess.run([sys.executable, "-m", "bakegen", "bench", str(repo.root), "--builder",
                           docker_builder.builder], capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 2
    assert "the engine's own BuildKit is shared with everything you build" in done.stderr
