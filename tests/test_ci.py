"""CI decisions per GitHub event (pure), and the workflow `bakegen ci` writes, read as YAML."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bakegen.ci import CiEvent, plan_ci, split_by_kind
from bakegen.config import load_project
from bakegen.model import BakegenError
from bakegen.workflow import ACTIONS, render_workflow

from .helpers import write_tree

ROOT = Path(__file__).resolve().parents[1]
TREE = {"docker/base/Dockerfile": "FROM scratch\n", "api/Dockerfile": "FROM base\n", "web/Dockerfile": "FROM base\n"}


def event(name="push", ref="refs/heads/main", **kw) -> CiEvent:
    return CiEvent(event_name=name, ref=ref, sha="0123456789abcdef0123", repository="Acme/App",
                   repository_owner="Acme", **kw)


@pytest.fixture
def project(tmp_path):
    return load_project(write_tree(tmp_path, TREE))


def test_a_push_to_the_default_branch_pushes_and_writes_the_cache(project):
    plan = plan_ci(project, event(), None)
    assert (plan.build, plan.targets, plan.push, plan.cache_export) == (True, [], True, True)
    assert plan.variables == {"REGISTRY": "ghcr.io/acme", "TAG": "latest", "SOURCE": "https://github.com/Acme/App",
                              "REVISION": "0123456789abcdef0123", "BRANCH": "main", "CACHE_EXPORT": "true",
                              "PUSH": "true"}
    assert split_by_kind(project, plan) == ("bases", "services")


def test_a_tag_pushes_but_never_writes_the_cache(project):
    plan = plan_ci(project, event(ref="refs/tags/v1.2.0"), None)
    assert (plan.push, plan.cache_export, plan.variables["TAG"]) == (True, False, "v1.2.0")


def test_a_pull_request_builds_what_it_affects_and_writes_nothing(project):
    pr = event("pull_request", "refs/pull/7/merge", head_ref="feature/x", base_ref="main")
    plan = plan_ci(project, pr, ["web"])
    assert (plan.build, plan.targets, plan.push, plan.cache_export) == (True, ["web"], False, False)
    assert plan.variables["BRANCH"] == "feature/x" and plan.variables["TAG"] == "sha-0123456789ab"
    assert split_by_kind(project, plan) == ("", "web")
    assert split_by_kind(project, plan_ci(project, pr, ["base", "api", "web"])) == ("base", "api,web")
    nothing = plan_ci(project, pr, [])
    assert not nothing.build and split_by_kind(project, nothing) == ("", "")


def test_the_event_comes_from_githubs_environment():
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/1/merge", "GITHUB_SHA": "abc",
           "GITHUB_REPOSITORY": "o/r", "GITHUB_HEAD_REF": "h", "GITHUB_BASE_REF": "main"}
    found = CiEvent.from_environment(env)
    assert (found.repository_owner, found.branch, found.base_ref, found.is_pull_request) == ("o", "h", "main", True)
    with pytest.raises(BakegenError, match="not in a GitHub Actions job: GITHUB_SHA not set"):
        CiEvent.from_environment({k: v for k, v in env.items() if k != "GITHUB_SHA"})


# --- the workflow of this repository ---------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    text = render_workflow(load_project(ROOT))
    assert (ROOT / ".github/workflows/bakegen.yml").read_text() == text  # committed and current
    return yaml.safe_load(text)


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_name, step


def test_events_permissions_concurrency_and_timeouts(workflow):
    on = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(on) == {"pull_request", "push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    for name, job in workflow["jobs"].items():
        assert job["timeout-minutes"] > 0, name
        assert job["permissions"]["contents"] == "read", name
    writers = [name for name, job in workflow["jobs"].items() if job["permissions"].get("packages") == "write"]
    assert writers == ["build"]  # packages: write only where images are pushed


def test_self_hosted_jobs_never_run_for_a_fork(workflow):
    guard = "github.event.pull_request.head.repo.full_name == github.repository"
    for name, job in workflow["jobs"].items():
        if "self-hosted" in job["runs-on"]:
            assert job["runs-on"] == ["self-hosted", "linux", "x64", "gpu"]
            assert guard in job["if"], name


def test_actions_are_pinned_and_checkouts_keep_no_credentials(workflow):
    text = (ROOT / ".github/workflows/bakegen.yml").read_text()
    pinned = {f"{name}@{sha} # {version}" for name, sha, version in ACTIONS.values()}
    for line in text.splitlines():
        if "uses:" in line:
            assert line.split("uses:", 1)[1].strip() in pinned, line
    for _, step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_no_expression_is_expanded_inside_run(workflow):
    for job, step in steps(workflow):
        assert "${{" not in step.get("run", ""), (job, step.get("name"))


def test_every_bakegen_command_and_option_a_step_calls_exists(workflow):
    calls = [["bakegen", *shlex.split(found)] for _, step in steps(workflow)
             for found in re.findall(r"(?:^|\$\()\s*bakegen ([^)\n]+)", step.get("run", ""), re.M)]
    assert {c[1] for c in calls} >= {"emit", "ci", "ci-plan", "ci-lint", "ci-tags", "builder", "build", "bench"}
    for call in calls:
        words = call[1:3] if call[1] == "builder" else call[1:2]
        done = subprocess.run([sys.executable, "-m", "bakegen", *words, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, call
        for option in (w for w in call if w.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}\b", done.stdout), (call, option)


def test_every_bake_group_a_step_names_is_in_the_bake_file(workflow):
    bake = (ROOT / "docker-bake.hcl").read_text()
    for group in ("bases", "services"):  # what `ci-plan` hands the bake steps on pushes
        assert f'group "{group}"' in bake
    bake_steps = [s for _, s in steps(workflow) if s.get("uses", "").startswith("docker/bake-action@")]
    assert [s["with"]["targets"] for s in bake_steps] == ["${{ steps.plan.outputs.bases }}",
                                                         "${{ steps.plan.outputs.services }}"]
    assert all(s["with"]["files"] == "docker-bake.hcl" and s["with"]["source"] == "." for s in bake_steps)


def bakegen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bakegen", *args], capture_output=True, text=True, timeout=900)


def test_the_workflow_passes_zizmor_githubs_schema_and_actionlint():
    done = bakegen("ci-lint", str(ROOT))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "zizmor: clean" in done.stderr and "actionlint: clean" in done.stderr


def test_ci_lint_finds_an_injection_and_ci_check_a_stale_workflow(tmp_path):
    write_tree(tmp_path, {**TREE, ".github/workflows/bad.yml": (
        "name: bad\non: issues\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo \"${{ github.event.issue.title }}\"\n")})
    done = bakegen("ci-lint", str(tmp_path))
    assert done.returncode == 1 and "zizmor:" in done.stdout and "template-injection" in done.stdout
    assert bakegen("ci", str(tmp_path)).returncode == 0
    assert bakegen("ci", str(tmp_path), "--check").returncode == 0
    (tmp_path / "bakegen.toml").write_text('[ci]\nrunner_labels = ["self-hosted", "linux", "x64", "a100"]\n')
    stale = bakegen("ci", str(tmp_path), "--check")
    assert stale.returncode == 1 and "a100" in stale.stdout and "run `bakegen ci`" in stale.stderr
