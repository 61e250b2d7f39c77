"""The workflow `bakegen ci` writes, played here end to end (GitHub cannot be reached): its
`run:` steps in order with the environment GitHub gives, each `uses:` step replaced by the
command it stands for (tests/e2e/workflow_player.py), against the loopback registry and a
BuildKit builder made by the workflow's own `bakegen builder up`.

A push to the default branch writes images and cache, tags each image with the commit by its
digest and reports the digests, and the scan job runs once per pushed image (trivy where it is
installed, else the player's stand-in, which says it scanned nothing; the SARIF upload checked);
a pull request afterwards reads that cache, rebuilds only the affected targets, writes nothing and
scans nothing; a fork's pull request reaches no self-hosted job. The check job (bake file and workflow current, the linters) is played for the
push; it does the same for every event.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from bakegen.generate import load
from bakegen.run import registry

from .conftest import FIXTURE, PREFIX, REGISTRY, bakegen, buildkitd_binary
from .workflow_player import STAND_IN, Player

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
OWNER = "acme"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repo(engine, buildkit_builder, tmp_path_factory):
    """The fixture monorepo as a git repository with its generated bake file and workflow."""
    buildkitd_binary()  # the played workflow's `bakegen builder up` starts a buildkitd of its own
    root = tmp_path_factory.mktemp("play") / "app"
    shutil.copytree(FIXTURE, root)
    namespace = f"{PREFIX}/play"
    builder = f"{PREFIX}-ci"
    (root / "bakegen.toml").write_text(f"""
[project]
source = "{PREFIX}"

[images]
"busybox:stable" = "{buildkit_builder.busybox}"

[targets.base-heavy]
args = {{ HEAVY_SECONDS = "1", HEAVY_MB = "5" }}

[ci]
registry = "localhost:5000/{namespace}/{{owner}}"
builder = "{builder}"
max_storage = "5GB"
install = "{ROOT}"
bench_args = "--builder {builder} --scenarios noop,code-change"
scan = true
""")
    for command in (["emit", str(root)], ["ci", str(root)]):
        done = bakegen(*command)
        assert done.returncode == 0, done.stderr
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "app")
    yield root, namespace, builder
    subprocess.run([sys.executable, "-m", "bakegen", "builder", "down", "--name", builder, "--purge"],
                   capture_output=True)
    registry.delete_repositories(REGISTRY, namespace)


def play(root: Path, home: Path, event: str, ref: str, checkout: str, head_repo: str = f"{OWNER}/app",
         assume: tuple[str, ...] = (), **extra: str) -> dict:
    workflow = yaml.safe_load((root / ".github/workflows/bakegen.yml").read_text())
    sha = git(root, "rev-parse", checkout)
    github = {"event_name": event, "ref": ref, "sha": sha, "repository": f"{OWNER}/app", "actor": "someone",
              "repository_owner": OWNER,
              "event": {"pull_request": {"head": {"repo": {"full_name": head_repo}}}} if event == "pull_request" else {}}
    env = {**os.environ, "GITHUB_EVENT_NAME": event, "GITHUB_REF": ref, "GITHUB_SHA": sha,
           "GITHUB_REPOSITORY": f"{OWNER}/app", "GITHUB_REPOSITORY_OWNER": OWNER, "GITHUB_ACTOR": "someone",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_ACTIONS": "true", **extra}
    return Player(workflow, root, checkout, github, env, home, assume).play()


def registry_digest(repository: str, tag: str) -> str:
    """The digest the registry serves for a tag (its Docker-Content-Digest header)."""
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{repository}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.list.v2+json, "
                  "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Docker-Content-Digest"]


def images_and_caches(namespace: str) -> dict[str, list[str]]:
    return {repo: registry.tags(REGISTRY, repo) for repo in registry.repositories(REGISTRY, namespace)}


@pytest.fixture(scope="module")
def pushed(repo, tmp_path_factory):
    root, namespace, _ = repo
    home = tmp_path_factory.mktemp("push")
    runs = play(root, home, "push", "refs/heads/main", "main")
    return runs, images_and_caches(namespace), home


def test_a_push_to_the_default_branch_writes_images_and_cache(pushed, repo):
    runs, stored, home = pushed
    _, namespace, _ = repo
    assert not runs["gpu"].ran  # no smoke target in this fixture, and the bench never runs on a push
    for name in ("check", "build"):
        job = runs[name]
        failed = [(s.name, s.output[-2000:]) for s in job.steps if s.ran and s.returncode]
        assert job.ran and job.ok, failed
    check = runs["check"]
    assert "actionlint: clean" in check.step("Lint the workflows").output
    build = runs["build"]
    assert build.outputs["build"] == "true"
    bases, services = build.step("Bake the bases").bake, build.step("Bake the services").bake
    # BuildKit names a step shared through a linked base after whichever target asked first.
    assert bases.ok and {s.target for s in bases.steps} <= {"base-heavy", "base-app"} and bases.steps
    assert {"api", "pose", "web"} <= {s.target for s in services.steps}
    owner = f"{namespace}/{OWNER}"
    assert stored[f"{owner}/build-cache"] == ["api-main", "base-app-main", "base-heavy-main", "pose-main", "web-main"]
    sha = git(repo[0], "rev-parse", "main")
    images = {entry["target"]: entry["ref"] for entry in json.loads(build.outputs["images"])}
    assert sorted(images) == ["api", "base-app", "base-heavy", "pose", "web"]
    for target in ("api", "pose", "web", "base-app", "base-heavy"):
        # pushed with the default branch's tag, its input tag (build --reuse), and the commit's tag on the same manifest
        by_inputs = [t for t in stored[f"{owner}/{target}"] if t.startswith("in-")]
        assert sorted(set(stored[f"{owner}/{target}"]) - set(by_inputs)) == sorted(["latest", f"sha-{sha[:12]}"])
        latest = registry_digest(f"{owner}/{target}", "latest")
        assert len(by_inputs) == 1 and registry_digest(f"{owner}/{target}", by_inputs[0]) == latest
        assert images[target] == f"localhost:5000/{owner}/{target}@{latest}"  # the [ci] registry
        assert registry_digest(f"{owner}/{target}", f"sha-{sha[:12]}") == latest
    env_file = (home / "artifacts/images/images.env").read_text()  # `docker compose --env-file` runs these
    assert f"BASE_HEAVY_IMAGE={images['base-heavy']}\n" in env_file and f"API_IMAGE={images['api']}\n" in env_file
    assert "| api |" in (home / "runner-build/summary.md").read_text()
    scan = runs["scan"]  # once per pushed image, as the matrix says
    assert scan.ran and scan.ok and sorted(m.name for m in scan.matrix) == [f"scan-{i}" for i in range(5)]
    for run in scan.matrix:
        assert run.step("Upload to code scanning").ran and run.step("Upload to code scanning").returncode == 0
    scanned = sorted(p.stem for p in (home / "artifacts/code-scanning").glob("*.sarif"))
    assert scanned == sorted(images)  # one SARIF per image, its target the category
    if not shutil.which("trivy"):  # the stand-in says so, in the log and the job summary
        assert STAND_IN in scan.matrix[0].step("Scan").output
        assert STAND_IN in (home / "runner-scan-0/summary.md").read_text()


def test_a_manual_run_after_that_push_builds_nothing_and_benches(pushed, repo, tmp_path):
    """workflow_dispatch on the default branch, nothing changed since the push: every image is
    reused (no bake step runs, each re-tagged by digest), and the GPU job runs the bench."""
    root = repo[0]
    runs = play(root, tmp_path, "workflow_dispatch", "refs/heads/main", "main", assume=("check",))
    build = runs["build"]
    assert build.ran and build.ok, [(s.name, s.output[-2000:]) for s in build.steps if s.returncode]
    assert build.outputs["build"] == "false"
    plan = build.step("Decide what to build").output
    reused = next(line.split("=", 1)[1] for line in plan.splitlines() if line.strip().startswith("reused="))
    assert sorted(reused.split(",")) == ["api", "base-app", "base-heavy", "pose", "web"], plan
    assert not build.step("Bake the bases").ran and not build.step("Bake the services").ran
    assert build.step("Tag the pushed images").ran  # the reused images: this run's tag and the commit's
    assert "| web | reused |" in (tmp_path / "runner-build/summary.md").read_text()
    assert runs["gpu"].ran and runs["gpu"].ok and runs["gpu"].step("Bench").ran
    assert (tmp_path / "artifacts/bench/bench.json").is_file() and (tmp_path / "artifacts/bench/bench.md").is_file()
    assert "| code-change |" in (tmp_path / "runner-gpu/summary.md").read_text()  # the job summary


def test_a_pull_request_reads_that_cache_rebuilds_what_it_affects_and_writes_nothing(pushed, repo, tmp_path):
    root, namespace, _ = repo
    _, before, _ = pushed
    git(root, "checkout", "-q", "-b", "feature/api-change")
    (root / "api/src/app.py").write_text((root / "api/src/app.py").read_text() + "# a change in a pull request\n")
    git(root, "commit", "-qam", "change api")
    git(root, "checkout", "-q", "main")
    runs = play(root, tmp_path, "pull_request", "refs/pull/1/merge", "feature/api-change", assume=("check",),
                GITHUB_HEAD_REF="feature/api-change", GITHUB_BASE_REF="main")
    build = runs["build"]
    assert build.ran and build.ok, [(s.name, s.output[-2000:]) for s in build.steps if s.returncode]
    plan = build.step("Decide what to build").output
    assert "services=api" in plan and "bases=\n" in plan + "\n" and "PUSH=false" in plan and "CACHE_EXPORT=false" in plan
    assert not build.step("Bake the bases").ran
    services = build.step("Bake the services").bake
    ran = services.executed()
    # Only api is baked, its bases reused from main by digest (bake then labels steps by stage). Its
    # deps stage runs too: main's cache of it was written on top of the base built in the same bake
    # (`target:`), whose cache keys an image by digest does not share (once, after a base is rebuilt).
    api = {" ".join(i.shown().split()) for i in load(root).targets["api"].parsed.instructions}
    assert ran and all(" ".join(s.instruction.split()) in api for s in ran), ran
    assert {s.target for s in ran} <= {"deps", "build", "runtime"}
    assert not [s for s in services.steps if s.target.startswith("base") and s.ran]
    assert images_and_caches(namespace) == before  # nothing pushed, no cache written
    assert not runs["gpu"].ran  # no smoke target changed, and no bench for pull requests
    assert not build.step("Tag the pushed images").ran and not runs["scan"].ran  # nothing pushed, nothing scanned


def test_a_fork_pull_request_reaches_no_self_hosted_job(repo, tmp_path):
    root, _, _ = repo
    runs = play(root, tmp_path, "pull_request", "refs/pull/2/merge", "main", head_repo="evil/app", assume=("check",),
                GITHUB_HEAD_REF="x", GITHUB_BASE_REF="main")
    assert not runs["build"].ran and not runs["gpu"].ran
