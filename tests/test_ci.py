"""CI decisions per GitHub event (pure), and the workflow `bakegen ci` writes, read as YAML."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bakegen.ci import (
    CiEvent,
    commit_tag,
    compose_env,
    digests_summary,
    plan_ci,
    pushed_images,
    scan_matrix,
    split_by_kind,
)
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
    assert set(on) == {"pull_request", "push", "workflow_dispatch", "schedule"}  # schedule: the bench
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
    # the bake file, then ci-plan's overlay (input tags, reused images by digest)
    assert all(s["with"]["files"].splitlines() == ["docker-bake.hcl", "${{ steps.plan.outputs.overlay }}"]
               and s["with"]["source"] == "." for s in bake_steps)


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


# --- after the push: immutable tags, digests; the scan job ----------------------------------------

API = "sha256:" + "a" * 64
BASE = "sha256:" + "b" * 64
# The shape `docker buildx bake --metadata-file` writes (and docker/bake-action gives as its
# `metadata` output): per target its tags (comma-separated) and the pushed manifest's digest;
# a cache-only target has no image; warnings under their own key.
METADATA = json.dumps({
    "buildx.build.warnings": [],
    "api": {"buildx.build.ref": "b/b0/x", "containerimage.config.digest": "sha256:" + "c" * 64,
            "containerimage.descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": API},
            "containerimage.digest": API, "image.name": "ghcr.io/acme/api:latest,ghcr.io/acme/api:v1.2"},
    "api-cache-linux-arm64": {"buildx.build.ref": "b/b0/y"},
})


def test_pushed_images_come_from_bakes_metadata_by_digest():
    bases = json.dumps({"base-python-pose": {"containerimage.digest": BASE,
                                             "image.name": "localhost:5000/o/base-python-pose:latest"}})
    images = pushed_images([bases, METADATA, ""])  # "": a bake step that did not run
    assert [(i.target, i.ref, i.variable) for i in images] == [
        ("api", f"ghcr.io/acme/api@{API}", "API_IMAGE"),
        ("base-python-pose", f"localhost:5000/o/base-python-pose@{BASE}", "BASE_PYTHON_POSE_IMAGE")]
    assert commit_tag("0123456789abcdef0123456789abcdef01234567") == "sha-0123456789ab"
    assert compose_env(images) == f"API_IMAGE=ghcr.io/acme/api@{API}\nBASE_PYTHON_POSE_IMAGE=localhost:5000/o/" \
                                  f"base-python-pose@{BASE}\n"
    assert json.loads(scan_matrix(images)) == [{"target": "api", "ref": f"ghcr.io/acme/api@{API}"},
                                               {"target": "base-python-pose", "ref": images[1].ref}]
    assert "| api | `ghcr.io/acme/api` |" in digests_summary(images, "sha-0123456789ab")


@pytest.mark.parametrize(("name", "digest", "error"), [
    ("ghcr.io/acme/api:latest\nLD_PRELOAD=x", API, "not an image name: 'ghcr.io/acme/api:latest\\x0aLD_PRELOAD"),
    ("ghcr.io/acme/api:latest", "sha256:${{ secrets.X }}", "not a digest"),
    ("ghcr.io/acme/API:latest", API, "not an image name"),
])
def test_metadata_that_is_not_an_image_or_a_digest_is_refused(name, digest, error):
    """These values reach $GITHUB_OUTPUT and the scan job's matrix."""
    with pytest.raises(BakegenError, match=re.escape(error)):
        pushed_images([json.dumps({"api": {"containerimage.digest": digest, "image.name": name}})])
    with pytest.raises(BakegenError, match="not JSON"):
        pushed_images(["{"])


def test_the_scan_job_is_the_only_one_that_writes_security_events(workflow):
    scan = workflow["jobs"]["scan"]
    writers = [n for n, job in workflow["jobs"].items() if job["permissions"].get("security-events") == "write"]
    assert writers == ["scan"] and scan["permissions"]["packages"] == "read"
    assert scan["needs"] == "build" and scan["runs-on"] == "ubuntu-latest"  # never the self-hosted runner
    assert scan["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.build.outputs.images) }}"
    gate = next(s for s in scan["steps"] if s.get("id") == "scan")
    assert gate["with"]["severity"] == "CRITICAL,HIGH" and gate["with"]["exit-code"] == "1"
    assert gate["with"]["image-ref"] == "${{ matrix.image.ref }}"  # by digest: what was pushed, not `latest`
    upload = scan["steps"][-1]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@") and upload["if"].startswith("always()")
    build = workflow["jobs"]["build"]
    assert build["outputs"]["images"] == "${{ steps.tags.outputs.images }}"
    tags = next(s for s in build["steps"] if s.get("id") == "tags")
    assert tags["if"] == "steps.plan.outputs.push == 'true'"  # pull requests push and tag nothing


def test_scan_is_off_unless_configured_and_its_severity_is_checked(tmp_path):
    write_tree(tmp_path, TREE)
    assert "scan" not in yaml.safe_load(render_workflow(load_project(tmp_path)))["jobs"]
    (tmp_path / "bakegen.toml").write_text('[ci]\nscan = true\nscan_severity = "CRITICAL"\n')
    job = yaml.safe_load(render_workflow(load_project(tmp_path)))["jobs"]["scan"]
    assert next(s for s in job["steps"] if s.get("id") == "scan")["with"]["severity"] == "CRITICAL"
    assert any(s.get("uses", "").startswith("docker/login-action") for s in job["steps"])  # GHCR: log in to pull
    (tmp_path / "bakegen.toml").write_text('[ci]\nscan = true\nscan_severity = "CRITICAL, high"\n')
    with pytest.raises(BakegenError, match="ci.scan_severity: expected a comma-separated list of UNKNOWN"):
        load_project(tmp_path)


def play_scan(tmp_path: Path, trivy: str | None) -> tuple[dict, Path]:
    """The generated scan job played (tests/e2e/workflow_player.py) after a stand-in build job that
    only sets its `images` output as `bakegen ci-tags` would; nothing pulled or built."""
    from tests.e2e.workflow_player import Player

    write_tree(tmp_path / "repo", {**TREE, "bakegen.toml": '[ci]\nscan = true\nregistry = "localhost:5000/o"\n'})
    workflow = yaml.safe_load(render_workflow(load_project(tmp_path / "repo")))
    images = scan_matrix(pushed_images([METADATA]) + pushed_images([json.dumps(
        {"web": {"containerimage.digest": BASE, "image.name": "ghcr.io/acme/web:latest"}})]))
    workflow["jobs"] = {"build": {"outputs": {"images": "${{ steps.tags.outputs.images }}"}, "steps": [
        {"id": "tags", "run": f"echo 'images={images}' >> \"$GITHUB_OUTPUT\""}]}, "scan": workflow["jobs"]["scan"]}
    path = os.environ["PATH"]
    if trivy is not None:
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin/trivy").write_text(trivy)
        (tmp_path / "bin/trivy").chmod(0o755)
        path = f"{tmp_path / 'bin'}:{path}"
    player = Player(workflow, tmp_path / "repo", "main", {"event_name": "push"}, {"PATH": path}, tmp_path / "home")
    return player.play(), tmp_path / "home"


def test_the_scan_job_played_with_the_stand_in_scanner_says_it_scanned_nothing(tmp_path):
    from tests.e2e.workflow_player import STAND_IN

    runs, home = play_scan(tmp_path, trivy=None)
    scan = runs["scan"]
    assert scan.ok and len(scan.matrix) == 2  # one run per pushed image
    assert STAND_IN in scan.matrix[0].step("Scan").output
    summary = (home / "runner-scan-0/summary.md").read_text()
    assert summary.startswith("### api\n```\n") and STAND_IN in summary
    assert sorted(p.name for p in (home / "artifacts/code-scanning").iterdir()) == ["api.sarif", "web.sarif"]


# A trivy that finds one CRITICAL: exit 1 where asked (the gate), the report and SARIF written.
FAKE_TRIVY = """#!/bin/sh
out=""; code=0; format=table
while [ $# -gt 1 ]; do
  case $1 in --output) out=$2; shift ;; --exit-code) code=$2; shift ;; --format) format=$2; shift ;; esac
  shift
done
if [ "$format" = sarif ]; then
  echo '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy"}}, "results": [{"ruleId": "CVE-1"}]}]}' > "$out"
else
  echo "CVE-1 CRITICAL openssl fixed in 3.0.9" > "$out"
fi
exit "$code"
"""


def test_a_finding_fails_the_scan_but_still_reaches_the_summary_and_code_scanning(tmp_path):
    runs, home = play_scan(tmp_path, trivy=FAKE_TRIVY)
    scan = runs["scan"]
    assert not scan.ok and all(not run.ok for run in scan.matrix)
    run = scan.matrix[0]
    assert run.step("Scan").returncode == 1
    assert "CVE-1 CRITICAL" in (home / "runner-scan-0/summary.md").read_text()
    assert run.step("Upload to code scanning").returncode == 0 and "1 result(s)" in run.step("Upload to").output
    assert json.loads((home / "artifacts/code-scanning/api.sarif").read_text())["runs"][0]["results"]


def test_compose_runs_the_pushed_images_by_digest_from_the_env_file(tmp_path):
    """What `bakegen ci-tags --env-file` writes, read by the real `docker compose config`: each
    service's image is the digest CI pushed; without the file, the bake tags as before."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed")
    digests = {"pose-service": API, "backend": BASE, "web": "sha256:" + "d" * 64}
    images = pushed_images([json.dumps({t: {"containerimage.digest": d, "image.name": f"ghcr.io/acme/app/{t}:latest"}
                                        for t, d in digests.items()})])
    (tmp_path / "images.env").write_text(compose_env(images))

    def config(*extra: str) -> dict:
        done = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), *extra, "config",
                               "--format", "json"], capture_output=True, text=True, cwd=tmp_path,
                              env={k: v for k, v in os.environ.items()  # none of the file's variables
                                   if k not in ("REGISTRY", "TAG") and not k.endswith("_IMAGE")})
        assert done.returncode == 0, done.stderr
        return {name: s["image"] for name, s in json.loads(done.stdout)["services"].items()}

    assert config("--env-file", str(tmp_path / "images.env")) == {t: f"ghcr.io/acme/app/{t}@{d}"
                                                                  for t, d in digests.items()}
    assert config() == {t: f"ghcr.io/bakegen/pose-app/{t}:latest" for t in digests}


def test_the_gpu_job_smokes_a_changed_image_and_benches_on_schedule_or_by_hand(workflow):
    gpu = workflow["jobs"]["gpu"]
    assert workflow[True]["schedule"] == [{"cron": "17 3 * * 1"}]
    assert gpu["if"].startswith("(needs.build.outputs.smoke == 'true' || github.event_name == 'schedule' || "
                                "github.event_name == 'workflow_dispatch') && (")
    by_name = {step.get("name", ""): step for step in gpu["steps"]}
    smoke = next(s for n, s in by_name.items() if n.startswith("GPU smoke test"))
    assert smoke["if"] == "needs.build.outputs.smoke == 'true' || github.event_name == 'workflow_dispatch'"
    bench = by_name["Bench (figures in the job summary and an artifact)"]
    assert bench["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"  # never a push
    assert workflow["jobs"]["build"]["outputs"]["smoke"] == "${{ steps.plan.outputs.smoke }}"
