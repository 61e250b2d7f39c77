"""Pure parts of the bench: budgets, the moves that change a file harmlessly, the report."""

import json

import pytest

from bakegen import command
from bakegen.bench.baseline import BASELINES, Places, baseline_file, commands, parse_baselines
from bakegen.bench.budgets import DEFAULT_BUDGETS, Budget, budget_from, check, from_config, merge, parse_option
from bakegen.bench.changes import appended, base_step_added, harmless_line, manifest_file, source_file
from bakegen.bench.report import columns, rows, to_json, to_markdown, verdict_rows
from bakegen.bench.results import BenchRun, Measure, ScenarioResult, ServiceFigures
from bakegen.bench.runner import added, why_not_pushed
from bakegen.config import load_project
from bakegen.generate import load
from bakegen.model import BakegenError

from .helpers import need_buildx, write_tree


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


def test_a_budget_not_measured_never_reads_ok_and_fails_when_strict():
    budgets = [Budget("code-change", percent_of_cold=5), Budget("fresh-runner", percent_of_cold=15),
               Budget("noop", seconds=60), Budget("healthy", seconds=60)]
    wall = {"cold": 100.0, "fresh-runner": 3.0}
    skipped = {"code-change": "no service's Dockerfile copies a file from its context"}
    asked = ("cold", "code-change", "fresh-runner")  # noop not asked for: its budget left out
    lenient = {str(v.budget): v for v in check(budgets, wall, {}, asked=asked, skipped=skipped)}
    assert set(lenient) == {"code-change <= 5 % of cold", "fresh-runner <= 15 % of cold", "healthy <= 60 s"}
    code = lenient["code-change <= 5 % of cold"]
    assert code.measured == "not measured (no service's Dockerfile copies a file from its context)"
    assert (code.status, code.breached) == ("not measured", False)
    assert lenient["healthy <= 60 s"].status == "not measured"
    assert lenient["fresh-runner <= 15 % of cold"].status == "ok"
    assert "ok" not in [row[2] for row in verdict_rows([code, lenient["healthy <= 60 s"]])]
    strict = {str(v.budget): v for v in check(budgets, wall, {}, asked=asked, skipped=skipped, strict=True)}
    assert strict["code-change <= 5 % of cold"].breached and strict["healthy <= 60 s"].breached
    assert strict["code-change <= 5 % of cold"].status.startswith("NOT MEASURED")
    assert not strict["fresh-runner <= 15 % of cold"].breached


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


# A monorepo of no known language: sources are .txt files, the install step copies deps.txt.
TEXT_TREE = {
    "svc/Dockerfile": ("FROM alpine:3.20 AS deps\nCOPY deps.txt /deps.txt\nRUN cat /deps.txt\n"
                       "FROM deps AS build\nCOPY notes/ /notes/\nRUN cat /notes/*\n"
                       "FROM alpine:3.20 AS runtime\nCOPY --from=build /notes /notes\nCOPY story/ /story/\n"
                       "FROM runtime AS test\nCOPY tests/ /tests/\n"),
    "svc/deps.txt": "one\n",
    "svc/notes/a.txt": "a\n",
    "svc/story/chapter.txt": "once\n",
    "svc/story/.hidden": "x\n",
    "svc/tests/t.txt": "t\n",
    "svc/unused.txt": "never copied\n",
    "bakegen.toml": '[targets.svc]\nstage = "runtime"\n',
}


def test_the_code_change_is_a_file_the_latest_copy_of_the_built_stages_takes_whatever_its_extension(tmp_path):
    project = load_project(write_tree(tmp_path, TEXT_TREE))
    # runtime's own COPY story/ is the latest of the stages built; tests/ belongs to a stage not built.
    assert source_file(project, project.targets["svc"]) == tmp_path / "svc/story/chapter.txt"
    assert manifest_file(project, project.targets["svc"]) == tmp_path / "svc/deps.txt"  # what the RUN installs


def test_a_dockerfile_copying_nothing_from_its_context_has_no_file_to_change(tmp_path):
    project = load_project(write_tree(tmp_path, {"svc/Dockerfile": "FROM alpine:3.20\nRUN echo hi\n",
                                                 "svc/a.txt": "a\n"}))
    assert source_file(project, project.targets["svc"]) is None
    assert manifest_file(project, project.targets["svc"]) is None


def test_a_file_without_a_comment_syntax_takes_blanks_that_differ_per_nonce(tmp_path):
    path = tmp_path / "chapter.txt"
    path.write_text("once\n")
    first, second = harmless_line(path, "run-0"), harmless_line(path, "run-1")
    assert first.strip(" \t\n") == "" and second.strip(" \t\n") == "" and first != second
    assert harmless_line(tmp_path / "data.json", "run-0").strip() == ""
    with appended(path, first, root=tmp_path):
        assert path.read_text() == "once\n" + first
    assert path.read_text() == "once\n"


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
                          cache_bytes=5_000_000, baselines={
                              "none": ScenarioResult("cold", [Measure(30.0, 20, 0, 20, 0)]),
                              "compose": ScenarioResult("cold", [Measure(22.0, 20, 0, 20, 0)])})
    push = ScenarioResult("fresh-runner-push", [Measure(4.0, 20, 18, 2, 2000, bytes_pushed=3_000_000)], baselines={
        "compose": ScenarioResult("fresh-runner-push", skipped="no cache landed")})
    fresh = ScenarioResult("fresh-runner", skipped="no cache")
    run = run_with(cold, push, fresh)
    assert columns(run)[-3:] == ("compose (bakegen's speed-up)", "none (bakegen's speed-up)", "changed")
    assert rows(run) == [
        ["cold", "11.00 s", "10.00-12.00 s", "20/0/20", "5.0 MB", "1.0 kB", "", "22.00 s (2.0x)", "30.00 s (2.7x)",
         ""],
        ["fresh-runner-push", "4.00 s", "", "2/18/20", "", "2.0 kB", "3.0 MB", "skipped: no cache landed", "", ""],
        ["fresh-runner", "skipped", "", "", "", "", "", "", "", "no cache"],
    ]
    data = json.loads(json.dumps(to_json(run, [])))
    assert data["scenarios"][0]["spread_s"] == [10.0, 12.0]
    assert data["scenarios"][0]["baselines"]["none"]["wall_s"] == 30.0
    assert data["scenarios"][0]["baselines"]["none"]["speedup"] == 2.73
    assert data["scenarios"][1]["bytes_pushed"] == 3_000_000
    assert data["scenarios"][1]["baselines"]["compose"]["skipped"] == "no cache landed"
    assert data["scenarios"][2]["skipped"] == "no cache" and data["services"]["pose"]["size_bytes"] == 2_500_000
    assert "| cold | 11.00 s |" in to_markdown(run, [])


def test_bakes_one_after_the_other_add_up():
    total = added([Measure(1.0, 3, 1, 2, 10), Measure(2.5, 4, 4, 0, 5, bytes_pushed=7)])
    assert total == Measure(3.5, 7, 5, 2, 15, bytes_pushed=7)
    assert added([Measure(1.0, 1, 1, 0, 0)]).bytes_pushed is None  # nothing pushed: not zero


def test_images_are_pushed_to_a_registry_on_this_machine_only():
    assert why_not_pushed("127.0.0.1:5000/ns/bakegen-bench-1") == ""
    assert why_not_pushed("localhost:5000/bakegen-bench-1") == ""
    assert why_not_pushed("ghcr.io/acme/bakegen-bench-1").startswith("pushes only to a registry on this machine, "
                                                                     "and ghcr.io is not one")


def test_baselines_parse_any_subset_in_order():
    assert parse_baselines("compose,tags,none") == BASELINES
    assert parse_baselines("none, compose") == ("none", "compose")
    assert parse_baselines("") == ()
    with pytest.raises(BakegenError, match=r"--baseline: unknown baseline '/tmp/repo' \(known: compose, tags"):
        parse_baselines("/tmp/repo")


BASES_TREE = {
    "docker/base/Dockerfile": "FROM alpine:3.20\nRUN echo base\n",
    "docker/base-app/Dockerfile": "FROM base\nRUN echo app\n",
    "api/Dockerfile": "FROM base-app AS runtime\nCOPY app.txt /app.txt\n",
    "api/app.txt": "api\n",
    "web/Dockerfile": "FROM base\nCOPY index.txt /index.txt\n",
    "web/index.txt": "web\n",
    "solo/Dockerfile": "FROM alpine:3.20\nCOPY s.txt /s.txt\n",
    "solo/s.txt": "s\n",
    "bakegen.toml": '[images]\n"alpine:3.20" = "docker-image://127.0.0.1:5000/mirror/alpine:3.20"\n',
}


def test_the_baselines_build_the_bases_first_level_by_level_then_the_rest_in_one_command(tmp_path):
    project = load(write_tree(tmp_path, BASES_TREE))
    assert commands(project) == [(["base"], True), (["base-app"], True), (["api", "solo", "web"], False)]


@pytest.mark.parametrize("kind", BASELINES)
def test_each_baseline_file_is_what_buildx_reads_bases_pulled_by_tag_with_no_links(tmp_path, kind):
    need_buildx()
    root = write_tree(tmp_path / "repo", BASES_TREE)
    project = load(root)
    places = Places(images="127.0.0.1:5000/ns/bench-compose", cache="127.0.0.1:5000/ns/bench-compose-cache-0")
    name, text = baseline_file(kind, project, root, places, write_cache=True)
    (tmp_path / name).write_text(text)
    every = ["api", "base", "base-app", "solo", "web"]
    printed = json.loads(command.run(["docker", "buildx", "bake", "-f", name, "--print", *every],
                                     cwd=tmp_path).stdout)
    targets = printed["target"]
    assert sorted(targets) == every
    api = targets["api"]
    assert api["context"] == str(root / "api") and "target" not in api  # its last stage, as docker build builds
    assert api["contexts"] == {"base-app": "docker-image://127.0.0.1:5000/ns/bench-compose/base-app:bakegen-bench"}
    assert targets["base"]["contexts"] == {"alpine:3.20": "docker-image://127.0.0.1:5000/mirror/alpine:3.20"}
    assert not any(str(v).startswith("target:") for t in targets.values() for v in (t.get("contexts") or {}).values())
    if kind == "none":
        assert all(t.get("no-cache") and "cache-from" not in t for t in targets.values())
        return
    ref = ("127.0.0.1:5000/ns/bench-compose-cache-0/api:cache" if kind == "compose"
           else "127.0.0.1:5000/ns/bench-compose-cache-0/build-cache:api")
    assert api["cache-from"] == [f"type=registry,ref={ref}"]  # one ref: no other branch's to fall back on
    assert api["cache-to"] == [f"type=registry,ref={ref},mode=max,ignore-error=true"]
    _, without_export = baseline_file(kind, project, root, places, write_cache=False)
    assert "cache_to" not in without_export and "cache-to" not in without_export
