"""Pure parts of the bench: budgets, the moves that change a file harmlessly, the report."""

import json

import pytest

from bakegen.bench.budgets import DEFAULT_BUDGETS, Budget, budget_from, check, from_config, merge, parse_option
from bakegen.bench.changes import base_step_added, harmless_line, manifest_file, source_file
from bakegen.bench.report import rows, to_json, to_markdown
from bakegen.bench.results import BenchRun, Measure, ScenarioResult, ServiceFigures
from bakegen.config import load_project
from bakegen.model import BakegenError

from .helpers import write_tree


@pytest.mark.parametrize(("name", "value", "budget"), [
    ("code-change", 30, Budget("code-change", seconds=30)),
    ("code-change", "30s", Budget("code-change", seconds=30)),
    ("fresh-runner", "15%", Budget("fresh-runner", percent_of_cold=15)),
    ("healthy", 60.5, Budget("healthy", seconds=60.5)),
])
def test_budgets_parse(name, value, budget):
    assert budget_from(name, value) == budget


@pytest.mark.parametrize(("text", "message"), [
    ("warm=3", "unknown budget 'warm'"), ("noop", "expected SCENARIO=SECONDS"), ("noop=-1", "is not a budget"),
    ("cold=5%", "a share of cold makes no sense for 'cold'"), ("healthy=5%", "makes no sense for 'healthy'"),
])
def test_bad_budgets_are_refused(text, message):
    with pytest.raises(BakegenError, match=message):
        parse_option(text)


def test_later_budgets_replace_the_same_kind_only():
    merged = merge(DEFAULT_BUDGETS, [Budget("code-change", seconds=10)], [Budget("noop", percent_of_cold=2)])
    assert Budget("code-change", seconds=10) in merged and Budget("code-change", percent_of_cold=5) in merged
    assert Budget("noop", seconds=60) in merged and Budget("noop", percent_of_cold=2) in merged
    assert Budget("code-change", seconds=30) not in merged


def test_check_names_breaches_and_what_was_not_measured():
    budgets = [Budget("code-change", seconds=30), Budget("code-change", percent_of_cold=5),
               Budget("fresh-runner", percent_of_cold=15), Budget("healthy", seconds=60)]
    verdicts = check(budgets, {"cold": 100.0, "code-change": 7.0}, {"pose": 75.0})
    found = {str(v.budget): (v.measured, v.breached, v.detail) for v in verdicts}
    assert found["code-change <= 30 s"] == ("7.00 s", False, "")
    assert found["code-change <= 5 % of cold"] == ("7.0 % of cold", True, "over by 2.0 points")
    assert found["fresh-runner <= 15 % of cold"] == ("not measured", False, "")
    assert found["healthy pose <= 60 s"] == ("75.00 s", True, "over by 15.00 s")


def test_config_budgets(tmp_path):
    write_tree(tmp_path, {"a/Dockerfile": "FROM scratch\n", "bakegen.toml":
                          '[bench.budgets]\ncode-change = [20, "3%"]\nhealthy = 45\n'})
    assert load_project(tmp_path).bench_budgets == [
        Budget("code-change", seconds=20), Budget("code-change", percent_of_cold=3), Budget("healthy", seconds=45)]
    for toml, said in [("warm = 3", "bench.budgets.warm: unknown budget 'warm'"),
                       ('cold = "5%"', "bench.budgets.cold: a share of cold makes no sense for 'cold'")]:
        (tmp_path / "bakegen.toml").write_text(f"[bench.budgets]\n{toml}\n")
        with pytest.raises(BakegenError, match=f"^bakegen.toml: {said}"):  # names: the bench's to check
            from_config(load_project(tmp_path))
    (tmp_path / "bakegen.toml").write_text('[bench.budgets]\nnoop = "fast"\n')
    with pytest.raises(BakegenError, match=r"^bakegen.toml: bench.budgets.noop: 'fast' is not a budget"):
        load_project(tmp_path)  # values: the schema's, checked on every load


TREE = {
    "svc/Dockerfile": "FROM base\nCOPY . /app\n",
    "svc/.dockerignore": "docs/\n",
    "svc/README.md": "hello\n",
    "svc/docs/a.py": "x = 1\n",
    "svc/package.json": '{"name": "svc"}\n',
    "svc/main.js": "console.log(1)\n",
    "svc/src/z.ts": "export {}\n",
    "base/Dockerfile": "FROM scratch AS first\nCOPY a /a\nFROM first AS runtime\nCOPY b /b\nFROM runtime AS test\n",
}


def test_the_source_file_changed_reaches_the_build_and_takes_a_comment(tmp_path):
    project = load_project(write_tree(tmp_path, TREE))
    assert source_file(project, project.targets["svc"]) == tmp_path / "svc/src/z.ts"  # src/ first; docs/ ignored
    assert manifest_file(project, project.targets["svc"]) == tmp_path / "svc/package.json"
    assert harmless_line(tmp_path / "svc/src/z.ts", "n1") == "\n// bakegen bench n1\n"
    assert harmless_line(tmp_path / "svc/package.json", "n1").strip() == ""  # JSON: whitespace only
    assert harmless_line(tmp_path / "x/requirements.txt", "n1") == "\n# bakegen bench n1\n"


def test_a_base_change_adds_a_step_to_the_stage_built_and_is_undone(tmp_path):
    project = load_project(write_tree(tmp_path, {**TREE, "bakegen.toml": '[targets.base]\nstage = "runtime"\n'}))
    path = tmp_path / "base/Dockerfile"
    before = path.read_bytes()
    with base_step_added(project, project.targets["base"], "n1"):
        lines = path.read_text().splitlines()
        assert lines[3:5] == ["COPY b /b", "RUN echo 'bakegen bench n1' > /.bakegen-bench"]  # end of runtime
        assert lines[5] == "FROM runtime AS test"
    assert path.read_bytes() == before


def run_with(*scenarios: ScenarioResult) -> BenchRun:
    return BenchRun(list(scenarios), {"pose": ServiceFigures("r/pose:b", 2_500_000, None, "no healthcheck")},
                    {"builder": "b", "driver": "remote", "buildkit": "v0.26.3"})


def test_report_shapes():
    cold = ScenarioResult("cold", [Measure(10.0, 20, 0, 20, 1000), Measure(12.0, 20, 0, 20, 1000)],
                          baseline_seconds=[30.0], cache_bytes=5_000_000)
    fresh = ScenarioResult("fresh-runner", skipped="no cache")
    run = run_with(cold, fresh)
    assert rows(run) == [
        ["cold", "11.00 s", "10.00-12.00 s", "20/0/20", "5.0 MB", "1.0 kB", "30.00 s", "2.7x", ""],
        ["fresh-runner", "skipped", "", "", "", "", "", "", "no cache"],
    ]
    data = to_json(run, [])
    assert json.loads(json.dumps(data))["scenarios"][0]["spread_s"] == [10.0, 12.0]
    assert data["scenarios"][1]["skipped"] == "no cache" and data["services"]["pose"]["size_bytes"] == 2_500_000
    assert "| cold | 11.00 s |" in to_markdown(run, [])
