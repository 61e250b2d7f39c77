"""`bakegen build --reuse`: against a registry process of the test's own, with bake replaced by a
stand-in that "pushes" what it was asked to build (no engine here; the lead proves it on the real
one): nothing changed builds nothing and re-tags by manifest copy; a change in one service builds
that service only, on the reused base by digest; a base change builds the base and all on it. The
overlay bake file is read by the real `docker buildx bake --print`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import bakegen
from bakegen.cli.main import main
from bakegen.digest import digests
from bakegen.generate import load
from bakegen.reuse import decide, input_tag, overlay
from bakegen.run.bake import BakeResult
from bakegen.run.registry import Registry
from tests.helpers import need_buildx, write_tree
from tests.local_registry import local_registry, push_image  # noqa: F401 (a fixture)


def _repo(root: Path, registry: str) -> Path:
    write_tree(root, {
        "bakegen.toml": f'[project]\nregistry = "{registry}/acme"\n',
        "docker/base/Dockerfile": "FROM python:3.10-slim\nRUN echo base\n",
        "svc/Dockerfile": "FROM base\nCOPY . /app\n",
        "svc/app.py": "1\n",
        "web/Dockerfile": "FROM base\nCOPY . /web\n",
        "web/index.js": "1\n",
    })
    assert CliRunner().invoke(main, ["emit", str(root)]).exit_code == 0
    return root


class StandInBake:
    """Records each bake call and pushes an image under every tag the overlay gives a target (as
    a real bake --push would), so the next run finds them."""

    def __init__(self, registry: str):
        self.registry = registry
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, root, targets, *, extra_args=(), **_):
        laid = json.loads(Path(extra_args[1]).read_text()) if extra_args else {}
        self.calls.append((list(targets), laid))
        for name in targets:
            for ref in laid["target"][name]["tags"]:
                repository, tag = ref.removeprefix(self.registry + "/").rsplit(":", 1)
                push_image(self.registry, repository, tag, f"{name} {laid['target'][name]['tags'][-1]}",
                           laid["target"][name]["labels"])
        return BakeResult(0, 0.1, [])


@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setattr("bakegen.run.engine.connect", lambda: None)
    for name in ("REGISTRY", "TAG"):
        monkeypatch.delenv(name, raising=False)


def _build(root: Path, bake: StandInBake, **options):
    return bakegen.build_reused(bakegen.BuildOptions(root=root, push=True, **options), bake=bake)


def _outcome(result) -> dict[str, bool]:
    return {d.target: bool(d.reused) for d in result.decisions}


def test_reuse_builds_only_what_changed_and_retags_the_rest(tmp_path, local_registry, no_engine):  # noqa: F811
    root = _repo(tmp_path, local_registry)
    bake = StandInBake(local_registry)
    registry = Registry(local_registry)

    cold = _build(root, bake)
    assert _outcome(cold) == {"base": False, "svc": False, "web": False}
    assert bake.calls[-1][0] == ["base", "svc", "web"]
    found = digests(load(root))
    assert bake.calls[-1][1]["target"]["svc"]["tags"] == [
        f"{local_registry}/acme/svc:latest", f"{local_registry}/acme/svc:{input_tag(found['svc'])}"]

    calls = len(bake.calls)
    unchanged = _build(root, bake)
    assert _outcome(unchanged) == {"base": True, "svc": True, "web": True}
    assert len(bake.calls) == calls and unchanged.build is None  # no bake call at all
    assert "exists: an image was built from exactly these inputs" in unchanged.decisions[0].why
    for name in ("base", "svc", "web"):  # re-tagged by manifest copy: the same manifest digest
        by_input = registry.manifest(f"acme/{name}", input_tag(found[name]))
        assert registry.manifest(f"acme/{name}", "latest").digest == by_input.digest
    assert sorted(unchanged.retagged) == [f"{local_registry}/acme/{n}:latest" for n in ("base", "svc", "web")]

    (root / "svc/app.py").write_text("2\n")
    one = _build(root, bake)
    assert _outcome(one) == {"base": True, "svc": False, "web": True}
    targets, laid = bake.calls[-1]
    base_image = next(d.image_ref for d in one.decisions if d.target == "base")
    assert targets == ["svc"]
    assert laid["target"]["svc"]["contexts"] == {"base": f"docker-image://{base_image}"}
    assert next(d.why for d in one.decisions if d.target == "svc").endswith(
        f"is not in the registry); changed since {local_registry}/acme/svc:latest: context files")

    (root / "docker/base/Dockerfile").write_text("FROM python:3.10-slim\nRUN echo base changed\n")
    rebased = _build(root, bake)
    assert _outcome(rebased) == {"base": False, "svc": False, "web": False}
    assert bake.calls[-1][0] == ["base", "svc", "web"]
    assert "contexts" not in bake.calls[-1][1]["target"]["svc"]  # its base is built in this very call
    why = {d.target: d.why for d in rebased.decisions}
    assert why["web"] == (f"builds on base, built in this run; changed since {local_registry}/acme/web:latest: "
                          "named contexts or a base")
    assert why["base"].endswith(f"changed since {local_registry}/acme/base:latest: context files, Dockerfile instructions; "
                                "upstream not locked: python:3.10-slim")


def test_asking_for_one_target_decides_for_it_and_what_it_builds_on(tmp_path, local_registry, no_engine):  # noqa: F811
    root = _repo(tmp_path, local_registry)
    bake = StandInBake(local_registry)
    _build(root, bake, targets=("svc",))
    assert bake.calls[-1][0] == ["base", "svc"]
    (root / "web/index.js").write_text("2\n")
    assert _outcome(_build(root, bake, targets=("svc",))) == {"base": True, "svc": True}


def test_the_cli_says_reused_and_why(tmp_path, local_registry, no_engine):  # noqa: F811
    root = _repo(tmp_path, local_registry)
    _build(root, StandInBake(local_registry))
    done = CliRunner().invoke(main, ["build", str(root), "--reuse", "--push"])
    assert done.exit_code == 0, done.output
    assert "reused  svc: " in done.stderr and "nothing to build: 3 targets reused" in done.stderr


def test_the_overlay_is_read_by_real_bake(tmp_path, no_engine):
    need_buildx()
    root = _repo(tmp_path, "127.0.0.1:5999")
    project = load(root)
    found = digests(project)
    base = "sha256:" + "d" * 64
    decisions = decide(project, found, "127.0.0.1:5999/acme", {"base": base})
    (root / "reuse.json").write_text(json.dumps(overlay(project, decisions, "v1")))
    printed = _print(root, "reuse.json", "svc", "web")
    svc = printed["target"]["svc"]
    assert svc["contexts"] == {"base": f"docker-image://127.0.0.1:5999/acme/base@{base}"}
    assert svc["tags"] == ["127.0.0.1:5999/acme/svc:v1", f"127.0.0.1:5999/acme/svc:{input_tag(found['svc'])}"]
    assert "base" not in printed["target"]  # reused: bake builds it no more
    assert json.loads(svc["labels"]["dev.bakegen.inputs"]) == dict(found["svc"].parts)  # merged into the labels
    assert svc["labels"]["org.opencontainers.image.source"] is not None  # the bake file's own labels kept
    assert svc["cache-from"]  # the rest of the target stays as the bake file says


def _print(root: Path, laid: str, *targets: str) -> dict:
    from bakegen import command

    done = command.run(["docker", "buildx", "bake", "-f", "docker-bake.hcl", "-f", laid, "--print", *targets], cwd=root)
    return json.loads(done.stdout)


# --- ci-plan ---------------------------------------------------------------------------------------


def _ci_plan(root: Path, tmp: Path) -> tuple[dict[str, str], str]:
    from tests.test_sinks import parse_github_file

    files = {k: tmp / k.lower() for k in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.write_text("")
    environ = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "0" * 40,
               "GITHUB_REPOSITORY": "acme/app", "RUNNER_TEMP": str(tmp), **{k: str(v) for k, v in files.items()}}
    bakegen.ci_plan(bakegen.CiPlanOptions(root=root, environ=environ))
    return parse_github_file(files["GITHUB_OUTPUT"].read_text()), files["GITHUB_STEP_SUMMARY"].read_text()


def _ci_repo(root: Path, registry: str) -> Path:
    _repo(root, registry)
    write_tree(root, {"bakegen.toml": f'[project]\nregistry = "{registry}/acme"\n'
                                      f'[ci]\nregistry = "{registry}/{{owner}}"\nsmoke_target = "svc"\n'})
    return root


def test_ci_plan_builds_nothing_a_push_did_not_change_and_smokes_only_a_changed_smoke_target(
        tmp_path, local_registry, no_engine):  # noqa: F811
    root = _ci_repo(tmp_path / "repo", local_registry)
    cold, summary = _ci_plan(root, tmp_path)
    assert (cold["build"], cold["bases"], cold["services"], cold["reused"], cold["smoke"]) == (
        "true", "bases", "services", "", "true")  # nothing there yet: everything, as before
    assert "| svc | built | builds on base, built in this run |" in summary
    laid = json.loads(Path(cold["overlay"]).read_text())["target"]
    found = digests(load(root))
    for name in ("base", "svc", "web"):  # what a real bake --push would leave: the images under their input tags
        assert laid[name]["tags"][-1] == f"{local_registry}/acme/{name}:{input_tag(found[name])}"
        push_image(local_registry, f"acme/{name}", input_tag(found[name]), name)

    same, summary = _ci_plan(root, tmp_path)
    assert (same["build"], same["reused"], same["smoke"]) == ("false", "base,svc,web", "false")
    assert set(json.loads(same["reused_metadata"])) == {"base", "svc", "web"}  # ci-tags gives them the commit tag
    assert "| web | reused |" in summary

    (root / "web/index.js").write_text("2\n")
    one, _ = _ci_plan(root, tmp_path)
    assert (one["build"], one["bases"], one["services"], one["smoke"]) == ("true", "", "web", "false")
    base = json.loads(one["reused_metadata"])["base"]["containerimage.digest"]
    assert json.loads(Path(one["overlay"]).read_text())["target"]["web"]["contexts"] == {
        "base": f"docker-image://{local_registry}/acme/base@{base}"}


def test_ci_plan_builds_everything_when_the_registry_cannot_be_asked(tmp_path, no_engine):
    root = _ci_repo(tmp_path / "repo", "127.0.0.1:9")  # nothing listens on the discard port
    outputs, summary = _ci_plan(root, tmp_path)
    assert (outputs["build"], outputs["bases"], outputs["services"], outputs["smoke"]) == (
        "true", "bases", "services", "true")
    assert "nothing reused: the registry could not be asked" in summary


def test_bases_first_bakes_only_the_bases_still_to_build_in_their_own_call(tmp_path, local_registry, no_engine):  # noqa: F811
    root = _repo(tmp_path, local_registry)
    bake = StandInBake(local_registry)
    result = _build(root, bake, bases_first=True)
    assert [targets for targets, _ in bake.calls] == [["base"], ["svc", "web"]]
    assert result.ok and len(result.build.calls) == 2
    (root / "svc/app.py").write_text("2\n")
    _build(root, bake, bases_first=True)
    assert bake.calls[-1][0] == ["svc"] and len(bake.calls) == 3  # the reused base: no call of its own


def test_ci_tags_gives_a_reused_image_this_runs_tag_and_the_commit_tag(tmp_path, monkeypatch):
    tagged: list[tuple[str, str]] = []
    monkeypatch.setattr("bakegen.run.publish.tag_by_digest",
                        lambda image, tag: tagged.append((image.ref, tag)) or f"{image.repository}:{tag}")
    output = tmp_path / "output"
    output.write_text("")
    digest = "sha256:" + "e" * 64
    reused = json.dumps({"base": {"image.name": "ghcr.io/acme/base:latest", "containerimage.digest": digest}})
    bakegen.ci_tags(bakegen.CiTagsOptions(reused=(reused,), environ={
        "GITHUB_SHA": "a" * 40, "GITHUB_OUTPUT": str(output), "TAG": "latest"}))
    assert tagged == [(f"ghcr.io/acme/base@{digest}", "latest"), (f"ghcr.io/acme/base@{digest}", "sha-aaaaaaaaaaaa")]
    assert "ghcr.io/acme/base@" + digest in output.read_text()  # scanned like a pushed image
