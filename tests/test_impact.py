"""`bakegen impact`'s rules on small trees (the end-to-end proof against BuildKit is
tests/e2e/test_impact.py)."""

from __future__ import annotations

from click.testing import CliRunner

from bakegen.cli import main
from bakegen.generate import load
from bakegen.impact import impact_of

from .helpers import write_tree


def rerun(root, path, old: dict[str, str] | None = None) -> set[tuple[str, str, int]]:
    project = load(root)
    steps = impact_of(project, [path], lambda p: (old or {}).get(p))[path]
    return {(s.target, s.stage, s.line) for s in steps}


APP = (
    "FROM alpine AS build\n"          # 1
    "WORKDIR /app\n"                  # 2
    "COPY src/ src/\n"                # 3
    "COPY assets/ dist/\n"            # 4
    "FROM alpine AS runtime\n"        # 5
    "COPY --from=build /app/dist /srv\n"  # 6
    "RUN echo done\n"                 # 7
)


def test_a_copy_from_another_stage_runs_again_only_if_what_it_takes_may_have_changed(tmp_path):
    write_tree(tmp_path, {"app/Dockerfile": APP, "app/src/a.py": "", "app/assets/logo.svg": "",
                          "app/notes.md": "", "app/.dockerignore": "notes.md\n"})
    # src/ changed: the build stage copies it again, but nothing it wrote reaches /app/dist
    assert rerun(tmp_path, "app/src/a.py") == {("app", "build", 3), ("app", "build", 4)}
    # assets/ changed: dist/ is new, so the runtime's COPY --from and all after it run again
    assert rerun(tmp_path, "app/assets/logo.svg") == {("app", "build", 4), ("app", "runtime", 6),
                                                      ("app", "runtime", 7)}
    assert rerun(tmp_path, "app/notes.md") == set()  # left out by .dockerignore


def test_a_changed_arg_reruns_the_runs_after_it_and_nothing_before(tmp_path):
    new = "FROM alpine\nRUN echo one\nARG V=2\nCOPY a .\nRUN echo two\n"
    write_tree(tmp_path, {"svc/Dockerfile": new, "svc/a": ""})
    old = {"svc/Dockerfile": new.replace("ARG V=2", "ARG V=1")}
    assert rerun(tmp_path, "svc/Dockerfile", old) == {("svc", "0", 5)}  # the COPY does not see V


def test_an_env_change_reaches_the_stages_built_on_it(tmp_path):
    new = "FROM alpine AS tools\nENV X=2\nFROM tools AS use\nCOPY a .\nRUN echo use\n"
    write_tree(tmp_path, {"svc/Dockerfile": new, "svc/a": ""})
    old = {"svc/Dockerfile": new.replace("X=2", "X=1")}
    assert rerun(tmp_path, "svc/Dockerfile", old) == {("svc", "use", 5)}


def test_a_base_change_reaches_every_target_built_on_it(tmp_path):
    write_tree(tmp_path, {"docker/base/Dockerfile": "FROM alpine\nCOPY a /a\n", "docker/base/a": "",
                          "svc/Dockerfile": "FROM base\nCOPY b /b\nRUN echo svc\n", "svc/b": ""})
    assert rerun(tmp_path, "docker/base/a") == {("base", "0", 2), ("svc", "0", 2), ("svc", "0", 3)}
    assert rerun(tmp_path, "svc/b") == {("svc", "0", 2), ("svc", "0", 3)}


def test_the_command_names_its_errors(tmp_path):
    write_tree(tmp_path, {"svc/Dockerfile": "FROM alpine\n"})
    runner = CliRunner()
    none = runner.invoke(main, ["impact", "-C", str(tmp_path)])
    assert none.exit_code == 2 and none.stderr == "bakegen: error: name the changed files, or give --since GIT_REF\n"
    outside = runner.invoke(main, ["impact", "-C", str(tmp_path / "svc"), str(tmp_path / "elsewhere")])
    assert outside.exit_code == 2 and "not in the project" in outside.stderr
    json_out = runner.invoke(main, ["impact", "-C", str(tmp_path), "--format", "json", str(tmp_path / "svc/x")])
    assert json_out.exit_code == 0 and json_out.stdout.strip() == '{\n  "svc/x": []\n}'
