"""Adopting hand-written bake files: `bakegen init --from` then `bakegen emit` on skeletons of
public repositories bakegen never saw (tests/fixtures/real/<name>/README.md cites each), their
`docker buildx bake --print` and ours compared field by field; and the overlay merged beside
theirs by bake itself. Every bake file here is read by the real `docker buildx bake --print`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

import bakegen
from bakegen import command
from bakegen.adopt import templates
from bakegen.ci import CiEvent, plan_ci
from bakegen.config import load_project
from bakegen.model import BakegenError
from bakegen.run.definition import read_definition
from bakegen.workflow import render_workflow
from tests.helpers import need_buildx, write_tree

REAL = Path(__file__).parent / "fixtures" / "real"
FIELDS = ("tags", "args", "platforms", "context", "dockerfile", "target")  # what a target is, to a user
GOAL = 0.90  # share of their targets' fields reproduced


def _so_files(root: Path) -> list[str]:
    """socheatsok78/dockerfiles merges its root file with each image's own (its CI: -f root -f <image>/...)."""
    return ["docker-bake.hcl", *sorted(p.relative_to(root).as_posix() for p in root.glob("*/docker-bake.hcl"))]


# name: (their bake files, the environment bake reads them in)
ADOPTED = {
    "tensorpods": (lambda root: ["docker-bake.hcl"], {}),  # CUDA x torch matrix, inherits chain
    "bbk-docker": (lambda root: ["build/docker-bake.hcl"], {}),  # several inherits, four tags per image
    # several files merged; its tags carry today's date unless DATE is given
    "socheatsok78-dockerfiles": (_so_files, {"DATE": "2026-01-01"}),
}


def _print(root: Path, files: list[str], targets: list[str], env: dict[str, str]) -> dict:
    args = ["docker", "buildx", "bake", *(a for f in files for a in ("-f", f)), "--print", *targets]
    return json.loads(command.run(args, cwd=root, env=env).stdout)["target"]


def _same(field: str, theirs: dict, ours: dict) -> bool:
    a, b = theirs.get(field), ours.get(field)
    if field == "tags":
        return sorted(a or []) == sorted(b or [])
    if field == "context":
        return (a or ".").rstrip("/") in ((b or ".").rstrip("/"), f"./{b}") or f"./{a}" == b
    if field == "dockerfile":
        return (a or "Dockerfile") == (b or "Dockerfile")
    return (a or None) == (b or None)


def adopt_repository(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str], dict]:
    """The skeleton copied, `init --from` its files, our whole file (ours.hcl) and the overlay
    (bakegen.hcl) emitted; their files, and the environment bake reads them in."""
    need_buildx()
    root = tmp_path / name
    shutil.copytree(REAL / name, root)
    files_of, env = ADOPTED[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    files = files_of(root)
    bakegen.init(bakegen.InitOptions(root=root, from_files=tuple(root / f for f in files)))
    bakegen.emit(bakegen.EmitOptions(root=root, output=root / "ours.hcl", quiet=True))
    bakegen.emit(bakegen.EmitOptions(root=root, output=root / "bakegen.hcl", quiet=True, overlay=True))
    return root, files, env


def reproduced(root: Path, files: list[str], env: dict[str, str]) -> tuple[int, int, list[str]]:
    """(fields reproduced, fields of theirs, what differs) over every target of theirs (templates
    aside): a target bakegen could not carry counts as none reproduced."""
    definition = read_definition(root, files)
    names = sorted(set(definition.targets) - templates(definition))
    theirs = _print(root, files, names, env)
    ours_names = [n for n in names if n in json.loads(command.run(
        ["docker", "buildx", "bake", "-f", "ours.hcl", "--print"], cwd=root, env=env).stdout)["target"]]
    ours = _print(root, ["ours.hcl"], ours_names, env)
    same, differs = 0, []
    for name in names:
        for field in FIELDS:
            if name in ours and _same(field, theirs[name], ours[name]):
                same += 1
            else:
                differs.append(f"{name}.{field}: {theirs[name].get(field)!r} != {ours.get(name, {}).get(field)!r}")
    return same, len(names) * len(FIELDS), differs


@pytest.mark.parametrize("name", sorted(ADOPTED))
def test_init_from_then_emit_reproduces_their_targets(name, tmp_path, monkeypatch):
    root, files, env = adopt_repository(name, tmp_path, monkeypatch)
    same, total, differs = reproduced(root, files, env)
    assert total and same / total >= GOAL, differs


@pytest.mark.parametrize("name", sorted(ADOPTED))
def test_overlay_beside_their_file_gives_each_target_a_cache_and_changes_nothing_else(name, tmp_path, monkeypatch):
    """Every target of theirs, those bakegen cannot build too (socheatsok78's remote git contexts:
    project.overlay_only), gets a cache-from (its branch, then the default branch) and a cache-to
    of its own; every other field bake prints is theirs (named contexts: theirs kept)."""
    root, files, env = adopt_repository(name, tmp_path, monkeypatch)
    definition = read_definition(root, files)
    names = sorted(set(definition.targets) - templates(definition))
    theirs = _print(root, files, names, env)
    merged = _print(root, [*files, "bakegen.hcl"], names,
                    {**env, "BAKEGEN_CACHE_EXPORT": "true", "BAKEGEN_BRANCH": "feature/x"})
    for target in names:
        own = f"build-cache:{target.lower()}-"
        # (bake adds the cache-from of a target it inherits: reading it too is harmless)
        assert [ref.split(own)[-1] for ref in merged[target]["cache-from"] if own in ref] == ["feature-x", "main"], target
        assert [ref.split(own)[-1].split(",")[0] for ref in merged[target]["cache-to"]] == ["feature-x"], target
        for field in set(theirs[target]) | set(merged[target]) - {"cache-from", "cache-to", "contexts"}:
            assert merged[target].get(field) == theirs[target].get(field), (target, field)
        assert theirs[target].get("contexts", {}).items() <= merged[target].get("contexts", {}).items(), target
    config = (root / "bakegen.toml").read_text()
    if name == "socheatsok78-dockerfiles":
        assert 'overlay_only = ["certstrap", "pishrink", "xiaomi-cloud-token-extractor"]' in config
    text = (root / "bakegen.hcl").read_text()
    assert 'target "_common"' not in text and "group " not in text
    declared = [line.split('"')[1] for line in text.splitlines() if line.startswith("variable ")]
    assert declared and all(v.startswith("BAKEGEN_") for v in declared)


def test_their_template_targets_and_unreadable_groups_are_said_not_carried(tmp_path, monkeypatch):
    need_buildx()
    root = tmp_path / "tensorpods"
    shutil.copytree(REAL / "tensorpods", root)
    result = bakegen.init(bakegen.InitOptions(root=root, from_files=(root / "docker-bake.hcl",)))
    notes = "\n".join(result.notes)
    assert "targets common, docker-metadata-action: only inherited by others" in notes
    assert "group torchrc: bake cannot read it (failed to find target local-torchrc)" in notes
    assert "output not carried" in notes
    config = (root / "bakegen.toml").read_text()
    assert "[targets.common]" not in config and "base = [" in config  # the matrix block stays a group
    assert result.targets == 12  # 3 CUDA x 3 torch variants, and three targets built on them


def test_matrix_variants_inherit_chain_carried_by_bake_itself(tmp_path, monkeypatch):
    """xformers-wheel inherits a matrix variant, which inherits `common`: bake evaluated the chain."""
    root, _, env = adopt_repository("tensorpods", tmp_path, monkeypatch)
    ours = _print(root, ["ours.hcl"], ["xformers-wheel", "base-cu126-torch260"], env)
    assert ours["xformers-wheel"]["args"]["XFORMERS_REF"] == "tensorpods-v0.0.29.post1"
    assert ours["xformers-wheel"]["args"]["TORCH_PACKAGE"] == "torch==2.5.1"  # from base-cu124-torch250
    assert ours["base-cu126-torch260"]["contexts"]["base-cuda"].endswith("12.6.3-cudnn-devel-ubuntu24.04")
    assert ours["xformers-wheel"]["tags"] == ["ghcr.io/neggles/tensorpods/xformers:v0.0.29.post1-cu124-torch250"]


def test_init_from_compose_file(tmp_path):
    """bake reads compose files too: each service with build: is a target, its image its tag."""
    need_buildx()
    write_tree(tmp_path, {
        "compose.yaml": "services:\n  api:\n    image: ghcr.io/acme/api:1.4\n    build:\n      context: api\n"
                        "      target: runtime\n      args:\n        PY: '3.12'\n  db:\n    image: postgres:16\n",
        "api/Dockerfile": "FROM python:3.12 AS build\nFROM build AS runtime\n",
    })
    bakegen.init(bakegen.InitOptions(root=tmp_path, from_files=(tmp_path / "compose.yaml",)))
    bakegen.emit(bakegen.EmitOptions(root=tmp_path, quiet=True))
    ours = _print(tmp_path, ["docker-bake.hcl"], ["api"], {})["api"]
    assert (ours["tags"], ours["target"], ours["args"]["PY"]) == (["ghcr.io/acme/api:1.4"], "runtime", "3.12")


def test_init_from_refuses_a_file_out_of_the_repository_and_a_file_bake_cannot_read(tmp_path):
    need_buildx()
    write_tree(tmp_path, {"repo/Dockerfile": "FROM scratch\n", "other.hcl": 'target "a" {}\n',
                          "repo/bad.hcl": 'target "a" {\n'})
    with pytest.raises(BakegenError, match="not in the project"):
        bakegen.init(bakegen.InitOptions(root=tmp_path / "repo", from_files=(tmp_path / "other.hcl",)))
    with pytest.raises(BakegenError, match="bake"):
        bakegen.init(bakegen.InitOptions(root=tmp_path / "repo", from_files=(tmp_path / "repo/bad.hcl",)))
    assert not (tmp_path / "repo" / "bakegen.toml").exists()


def test_targets_bakegen_cannot_build_are_said_and_the_rest_carried(tmp_path):
    need_buildx()
    write_tree(tmp_path / "repo", {
        "app/Dockerfile": "FROM alpine AS build\nFROM build AS final\n",
        "docker-bake.hcl": 'target "app" {\n  context = "app"\n  target = "final"\n  tags = ["r.example/a/app:1"]\n'
                           '  attest = ["type=sbom"]\n  cache-from = ["type=gha"]\n}\n'
                           'target "out" {\n  context = "../elsewhere"\n}\n'
                           'target "remote" {\n  context = "https://github.com/acme/x.git"\n}\n'
                           'target "inline" {\n  dockerfile-inline = "FROM alpine"\n}\n'
                           'target "both" {\n  dockerfile-inline = "FROM alpine"\n}\n'
                           'group "both" {\n  targets = ["app"]\n}\n',  # bake builds the group of that name
    })
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "Dockerfile").write_text("FROM alpine\n")
    root = tmp_path / "repo"
    result = bakegen.init(bakegen.InitOptions(root=root, from_files=(root / "docker-bake.hcl",)))
    notes = "\n".join(result.notes)
    assert result.targets == 1
    for said in ("target out: context ../elsewhere is outside the repository",
                 "target remote: context https://github.com/acme/x.git is not a folder of the repository",
                 "target inline: dockerfile-inline", "target app: attest not carried",
                 "target app: cache-from not carried (bakegen's cache (per branch) replaces it)"):
        assert said in notes
    config = (root / "bakegen.toml").read_text()
    assert "attestations = true" in config and 'stage = "final"' in config
    assert 'overlay_only = ["inline", "out", "remote"]' in config and 'both = ["app"]' in config
    bakegen.emit(bakegen.EmitOptions(root=root, quiet=True, overlay=True))
    assert 'target "remote" {\n  cache-from' in (root / "bakegen.hcl").read_text()


def test_init_from_a_json_bake_file_finds_targets_outside_the_default_group(tmp_path):
    need_buildx()
    write_tree(tmp_path, {
        "a/Dockerfile": "FROM alpine\n", "b/Dockerfile": "FROM alpine\n",
        "docker-bake.json": json.dumps({"group": {"default": {"targets": ["a"]}}, "target": {
            "a": {"context": "a", "tags": ["r.example/x/a:1"]}, "b": {"context": "b", "platforms": ["linux/arm64"]}}}),
    })
    result = bakegen.init(bakegen.InitOptions(root=tmp_path, from_files=(tmp_path / "docker-bake.json",)))
    assert result.targets == 2
    bakegen.emit(bakegen.EmitOptions(root=tmp_path, quiet=True))
    ours = _print(tmp_path, ["docker-bake.hcl"], ["a", "b"], {})
    assert ours["a"]["tags"] == ["r.example/x/a:1"] and ours["b"]["platforms"] == ["linux/arm64"]


def test_overlay_only_names_are_checked_and_inline_cache_only_written(tmp_path):
    """A name of project.overlay_only is a bake name and no target of bakegen's; with inline
    cache (read from the image, which bakegen does not know for them) it writes and reads none."""
    write_tree(tmp_path, {"app/Dockerfile": "FROM alpine\n"})
    for listed, said in (('["app"]', "project.overlay_only: 'app' names a target bakegen builds"),
                         ('["a\\"b"]', "project.overlay_only: 'a\"b' is not a valid bake name")):
        (tmp_path / "bakegen.toml").write_text(f"[project]\noverlay_only = {listed}\n")
        with pytest.raises(BakegenError, match=re.escape(said)):
            bakegen.emit(bakegen.EmitOptions(root=tmp_path, quiet=True, overlay=True))
        assert not (tmp_path / "bakegen.hcl").exists()
    (tmp_path / "bakegen.toml").write_text('[project]\noverlay_only = ["remote"]\n[cache]\nbackend = "inline"\n')
    bakegen.emit(bakegen.EmitOptions(root=tmp_path, quiet=True, overlay=True))
    text = (tmp_path / "bakegen.hcl").read_text()
    remote = text[text.index('target "remote" {'):]
    assert 'cache-to = [\n    "type=inline"' in remote and "cache-from" not in remote


def test_ci_overlay_workflow_bakes_their_file_with_the_overlay_and_ci_plan_sets_its_variables(tmp_path, monkeypatch):
    """`ci.overlay = true`: the check job checks bakegen.hcl, the bake steps lay it over
    docker-bake.hcl, and ci-plan's variables reach the overlay's prefixed ones: on the default
    branch the merged file writes each target's cache to its own ref."""
    root, files, env = adopt_repository("tensorpods", tmp_path, monkeypatch)
    with (root / "bakegen.toml").open("a") as config:
        config.write("\n[ci]\noverlay = true\n")
    project = load_project(root)
    workflow = yaml.safe_load(render_workflow(project))
    runs = "\n".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])
    assert "bakegen emit --overlay --check" in runs
    bake_steps = [s for s in workflow["jobs"]["build"]["steps"] if s.get("uses", "").startswith("docker/bake-action@")]
    assert bake_steps and all(s["with"]["files"].splitlines() == ["docker-bake.hcl", "bakegen.hcl",
                                                                  "${{ steps.plan.outputs.overlay }}"]
                              for s in bake_steps)
    bakegen.emit(bakegen.EmitOptions(root=root, quiet=True, overlay=True, check=True))  # current: no error
    push = CiEvent(event_name="push", ref="refs/heads/main", sha="0123456789abcdef0123", repository="neggles/tensorpods",
                   repository_owner="neggles")
    variables = plan_ci(project, push, None).variables
    assert (variables["BAKEGEN_CACHE_EXPORT"], variables["BAKEGEN_BRANCH"]) == ("true", "main")
    merged = _print(root, [*files, "bakegen.hcl"], ["xformers-wheel"], {**env, **variables})["xformers-wheel"]
    assert [",".join(ref.split(",")[:2]) for ref in merged["cache-to"]] == [
        "type=registry,ref=ghcr.io/neggles/build-cache:xformers-wheel-main"]
