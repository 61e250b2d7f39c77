"""The bench's scenarios on a stand-in runner (no engine): which files each changes while it
builds, that each is put back, what is skipped and why, the order and the budgets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bakegen.bench.budgets import BUDGET_NAMES, DEFAULT_BUDGETS, HEALTHY, check, merge
from bakegen.bench.results import Measure, ScenarioResult
from bakegen.bench.scenarios import NAMES, SCENARIOS, CacheState, chosen
from bakegen.generate import load
from bakegen.model import BakegenError, Budget, Project
from bakegen.render import BAKE_FILE

from .helpers import write_tree

TREE = {
    "docker/base/Dockerfile": "FROM python:3.12-slim\nRUN pip install numpy\n",
    "api/Dockerfile": "FROM base\nCOPY . /app\n",
    "api/requirements.txt": "flask\n",
    "api/src/app.py": "print('api')\n",
    "web/Dockerfile": "FROM nginx:1.27\nCOPY . /usr/share/nginx/html\n",
    "web/src/index.html": "<p>hi</p>\n",
}


class StandIn:
    """A scenarios.Runner that builds nothing: it records each bake with the files that differed
    from the tree as it was (so a test sees what a scenario changed while it built)."""

    def __init__(self, project: Project, targets: tuple[str, ...] = (), cache: CacheState | None = None):
        self.project = project
        self.targets = targets
        self.cache = cache or CacheState()
        self.push_unavailable = ""
        self.calls: list[tuple] = []
        self.before = _tree(project.root)

    def nonce(self, attempt: int) -> str:
        return f"test-{attempt}"

    def bake(self, label: str, *, write_cache: bool = False, root: Path | None = None,
             push: bool = False) -> Measure:
        changed = sorted(p for p, digest in _tree(self.project.root).items() if self.before.get(p) != digest)
        self.calls.append(("bake", label, write_cache, root, changed, *(("push",) if push else ())))
        if write_cache:
            self.cache.written = True
            self.cache.bytes = 1234
        return Measure(1.0, 3, 3, 0, 0)

    def empty_builder(self) -> None:
        self.calls.append(("empty",))

    def fresh_cache(self, attempt: int) -> None:
        self.calls.append(("fresh-cache", attempt))


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def run(name: str, runner: StandIn, attempt: int = 0) -> ScenarioResult:
    result = ScenarioResult(name)
    chosen((name,))[0].run(runner, result, attempt)
    return result


@pytest.fixture
def project(tmp_path) -> Project:
    return load(write_tree(tmp_path, TREE))


def test_the_registry_is_the_order_and_the_budget_names():
    assert NAMES == ("cold", "noop", "noop-fresh-clone", "code-change", "deps-change", "base-change", "fresh-runner",
                     "fresh-runner-push")
    assert (*NAMES, HEALTHY) == BUDGET_NAMES
    assert [s.name for s in chosen(("fresh-runner", "cold"))] == ["fresh-runner", "cold"]  # as given
    assert all(s.changes for s in SCENARIOS)


def test_the_readme_has_a_row_for_each_scenario_in_order():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip().strip("`") for line in readme.splitlines()
            if line.startswith("| `") and line.split("|")[1].strip().strip("`") in NAMES]
    assert tuple(rows) == NAMES


def test_an_unknown_scenario_is_bad_input_naming_the_known_ones():
    with pytest.raises(BakegenError, match=r"unknown scenario warm \(known: cold, noop, noop-fresh-clone, "):
        chosen(("cold", "warm"))


def test_default_budgets_come_from_the_scenarios():
    assert set(DEFAULT_BUDGETS) == {
        Budget("noop", seconds=60), Budget("noop-fresh-clone", seconds=60), Budget("code-change", seconds=30),
        Budget("code-change", percent_of_cold=5), Budget("fresh-runner", percent_of_cold=15),
        Budget(HEALTHY, seconds=60)}


def test_cold_empties_the_builder_then_writes_a_fresh_cache(project):
    runner = StandIn(project)
    result = run("cold", runner, attempt=1)
    assert runner.calls == [("empty",), ("fresh-cache", 1), ("bake", "cold", True, None, [])]
    assert result.cache_bytes == 1234 and len(result.measures) == 1


def test_code_change_changes_one_source_file_per_service_while_it_builds(project):
    runner = StandIn(project)
    result = run("code-change", runner)
    assert result.changed == ["api/src/app.py", "web/src/index.html"]
    assert runner.calls == [("bake", "code-change", False, None, ["api/src/app.py", "web/src/index.html"])]
    assert _tree(project.root) == runner.before  # put back


def test_code_change_of_chosen_targets_only(project):
    runner = StandIn(project, targets=("web",))
    assert run("code-change", runner).changed == ["web/src/index.html"]


def test_deps_change_and_base_change_change_one_file_each(project):
    runner = StandIn(project)
    assert run("deps-change", runner).changed == ["api/requirements.txt"]
    assert run("base-change", runner).changed == ["docker/base/Dockerfile"]
    assert [c[4] for c in runner.calls] == [["api/requirements.txt"], ["docker/base/Dockerfile"]]
    assert _tree(project.root) == runner.before


def test_what_cannot_run_is_skipped_with_the_reason_and_builds_nothing(tmp_path):
    project = load(write_tree(tmp_path, {"web/Dockerfile": "FROM nginx:1.27\n"}))
    runner = StandIn(project)
    assert run("code-change", runner).skipped.startswith("no service's Dockerfile copies a file from its context")
    assert run("deps-change", runner).skipped.startswith("no Dockerfile copies a file that a RUN step then uses")
    assert run("base-change", runner).skipped == "no target is built on another"
    assert run("fresh-runner", runner).skipped.startswith("needs the cold scenario first")
    assert run("fresh-runner-push", runner).skipped.startswith("needs the cold scenario first")
    assert run("noop-fresh-clone", runner).skipped == "not a git repository: nothing to clone"
    assert runner.calls == []


@pytest.mark.parametrize(("cache", "why"), [
    (CacheState(unreadable="gha cache is GitHub's"), "gha cache is GitHub's"),
    (CacheState(written=True, where="r/c-0", bytes=0), "no cache landed in r/c-0"),
    (CacheState(written=True, bytes=10, export_problems=["exporting cache: 500"]),
     "the cold build could not write the cache: exporting cache: 500"),
])
def test_fresh_runner_says_why_no_cache_is_there_to_read(project, cache, why):
    assert why in run("fresh-runner", StandIn(project, cache=cache)).skipped


def test_fresh_runner_after_a_cold_build_empties_the_builder_and_reads_the_cache(project):
    runner = StandIn(project)
    run("cold", runner)
    runner.calls.clear()
    result = run("fresh-runner", runner)
    assert not result.skipped and runner.calls == [("empty",), ("bake", "fresh-runner", False, None, [])]


def test_fresh_runner_push_empties_the_builder_and_pushes_what_it_builds(project):
    runner = StandIn(project)
    run("cold", runner)
    runner.calls.clear()
    result = run("fresh-runner-push", runner)
    assert not result.skipped and runner.calls == [("empty",), ("bake", "fresh-runner-push", False, None, [], "push")]


def test_fresh_runner_push_says_why_it_cannot_push_and_builds_nothing(project):
    runner = StandIn(project)
    run("cold", runner)
    runner.calls.clear()
    runner.push_unavailable = "pushes only to a registry on this machine"
    assert run("fresh-runner-push", runner).skipped == "pushes only to a registry on this machine"
    assert runner.calls == []


def test_a_text_only_monorepo_has_its_code_and_install_files_changed(tmp_path):
    project = load(write_tree(tmp_path, {
        "svc/Dockerfile": "FROM alpine:3.20\nCOPY deps.txt /d.txt\nRUN cat /d.txt\nCOPY notes/ /notes/\n",
        "svc/deps.txt": "one\n", "svc/notes/a.txt": "a\n"}))
    runner = StandIn(project)
    assert run("code-change", runner).changed == ["svc/notes/a.txt"]
    assert run("deps-change", runner).changed == ["svc/deps.txt"]
    assert [c[4] for c in runner.calls] == [["svc/notes/a.txt"], ["svc/deps.txt"]]
    assert _tree(project.root) == runner.before


def test_each_baseline_runs_the_scenarios_bakegen_ran_into_its_own_results(project):
    from bakegen.bench.runner import run_scenarios

    scenarios = chosen(("cold", "noop-fresh-clone", "code-change"))
    results = [ScenarioResult(s.name) for s in scenarios]
    said: list[str] = []
    bakegen, compose = StandIn(project), StandIn(project)
    run_scenarios(bakegen, scenarios, results, 2, said.append)
    run_scenarios(compose, scenarios, results, 2, said.append, baseline="compose")
    assert results[1].skipped.startswith("not a git repository") and "compose" not in results[1].baselines
    assert [len(r.measures) for r in results] == [2, 0, 2]
    assert [len(r.baselines["compose"].measures) for r in (results[0], results[2])] == [2, 2]
    assert results[2].baselines["compose"].changed == results[2].changed == ["api/src/app.py", "web/src/index.html"]
    assert [c[1] for c in compose.calls if c[0] == "bake"] == ["cold", "cold", "code-change", "code-change"]
    assert "scenario code-change (baseline compose)" in said


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


def test_noop_fresh_clone_builds_a_clean_clone_of_head_and_leaves_the_repository_alone(tmp_path):
    root = write_tree(tmp_path / "repo", {**TREE, BAKE_FILE: "# the bake file\n"})
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    (root / "api/src/app.py").write_text("print('not committed')\n")  # the clone has HEAD's
    (root / "untracked.txt").write_text("x\n")
    runner = StandIn(load(root))
    result = run("noop-fresh-clone", runner)
    assert not result.skipped and result.changed == [] and len(result.measures) == 1
    (_, label, write_cache, clone, changed), = runner.calls
    assert (label, write_cache, changed) == ("noop-fresh-clone", False, [])
    assert clone != root and not clone.exists()  # a temporary clone, removed afterwards
    assert _tree(root) == runner.before


def test_noop_fresh_clone_of_a_project_in_a_subfolder_bakes_that_subfolder(tmp_path):
    root = write_tree(tmp_path / "repo" / "product", {**TREE, BAKE_FILE: "# the bake file\n"})
    git(tmp_path / "repo", "init", "-q")
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-qm", "one")
    seen = []

    class Looking(StandIn):
        def bake(self, label, *, write_cache=False, root=None):
            seen.append(sorted(p.name for p in root.iterdir()))
            return super().bake(label, write_cache=write_cache, root=root)

    assert not run("noop-fresh-clone", Looking(load(root))).skipped
    assert seen == [sorted([BAKE_FILE, "api", "docker", "web"])]


@pytest.mark.parametrize(("committed", "why"), [
    (None, f"{BAKE_FILE} is not committed"),
    ("# older\n", f"the committed {BAKE_FILE} differs from the work tree's"),
])
def test_noop_fresh_clone_needs_the_bake_file_committed_as_it_is(tmp_path, committed, why):
    root = write_tree(tmp_path / "repo", TREE)
    git(root, "init", "-q")
    if committed is not None:
        (root / BAKE_FILE).write_text(committed)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    (root / BAKE_FILE).write_text("# the bake file\n")
    runner = StandIn(load(root))
    assert why in run("noop-fresh-clone", runner).skipped and runner.calls == []


def test_a_skipped_scenarios_budgets_stay_not_measured():
    budgets = merge(DEFAULT_BUDGETS, [Budget("noop-fresh-clone", seconds=1)])
    verdicts = {str(v.budget): v for v in check(budgets, {"cold": 100.0, "noop": 2.0}, {})}
    assert verdicts["noop-fresh-clone <= 1 s"].measured == "not measured"
    assert not verdicts["noop-fresh-clone <= 1 s"].breached
    assert verdicts["code-change <= 5 % of cold"].measured == "not measured"
    assert verdicts["noop <= 60 s"].measured == "2.00 s"


def test_budgets_without_a_cold_build_cannot_be_shares_of_it():
    verdicts = check([Budget("fresh-runner", percent_of_cold=15)], {"fresh-runner": 5.0}, {})
    assert verdicts[0].measured == "not measured (no cold build)" and not verdicts[0].breached

