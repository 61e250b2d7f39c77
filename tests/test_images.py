"""Images and tags a team already publishes, [defaults], attestations on push, several targets
from one Dockerfile by stage, and the overlay of a discovered project: each bake file read back
by the real `docker buildx bake --print`."""

from __future__ import annotations

import pytest

import bakegen
from bakegen.ci import CiEvent, plan_ci
from bakegen.generate import generate, load
from bakegen.model import BakegenError
from bakegen.render import BAKE_FILE

from .helpers import bake_print, need_buildx, print_bake, write_tree

TREE = {"web/Dockerfile": "FROM alpine AS build\nFROM build AS runtime\n", "api/Dockerfile": "FROM alpine\n"}


def _emit(tmp_path, files: dict[str, str]) -> None:
    write_tree(tmp_path, {**TREE, **files})
    (tmp_path / BAKE_FILE).write_text(generate(tmp_path), encoding="utf-8")


def test_own_image_and_tags_with_bake_variables(tmp_path):
    _emit(tmp_path, {"bakegen.toml": (
        '[targets.web]\nimage = "${REGISTRY}/shop-web"\ntags = ["${TAG}", "1.4", "docker.io/acme/web:1.4"]\n'
        '[targets.api]\nimage = "ghcr.io/acme/api:stable"\n')})
    printed = bake_print(tmp_path, "web", "api", env={"REGISTRY": "reg.example/team", "TAG": "rc1"})["target"]
    assert printed["web"]["tags"] == ["reg.example/team/shop-web:rc1", "reg.example/team/shop-web:1.4",
                                      "docker.io/acme/web:1.4"]
    assert printed["api"]["tags"] == ["ghcr.io/acme/api:stable"]  # an image naming its tag is the tag


def test_no_tags_when_asked_for_none(tmp_path):
    _emit(tmp_path, {"bakegen.toml": "[targets.web]\ntags = []\n"})
    assert "tags" not in bake_print(tmp_path, "web")["target"]["web"]


def test_compose_image_is_the_target_s_image(tmp_path):
    _emit(tmp_path, {"compose.yaml": "services:\n  shop:\n    image: ghcr.io/acme/shop\n    build: web\n"})
    assert bake_print(tmp_path, "shop")["target"]["shop"]["tags"] == ["ghcr.io/acme/shop:latest"]


def test_compose_image_named_as_bakegen_names_it_keeps_the_variables(tmp_path):
    """`${REGISTRY:-...}/shop:${TAG:-latest}` read with its defaults is bakegen's own naming: CI's REGISTRY wins."""
    _emit(tmp_path, {"bakegen.toml": '[project]\nregistry = "ghcr.io/acme"\n',
                     "compose.yaml": "services:\n  shop:\n    image: ${REGISTRY:-ghcr.io/acme}/shop:${TAG:-latest}\n"
                                     "    build: web\n"})
    printed = bake_print(tmp_path, "shop", env={"REGISTRY": "reg.example/ci", "TAG": "v2"})["target"]["shop"]
    assert printed["tags"] == ["reg.example/ci/shop:v2"]


@pytest.mark.parametrize(("toml", "said"), [
    ('[targets.web]\nimage = "ghcr.io/a b"\n', r"targets\.web\.image: 'ghcr\.io/a b' is not an image reference"),
    ('[targets.web]\ntags = ["bad tag"]\n', r"targets\.web\.tags: 'bad tag' is neither a tag"),
    ('[targets.web]\ntags = ["${A"]\n', r"targets\.web\.tags: '\$\{A' is neither a tag"),
    ('[project]\ntag_scheme = "semver"\n', r"project\.tag_scheme: expected one of tag, metadata"),
    ('[defaults]\nplatforms = ["amd64"]\n', r"defaults\.platforms: 'amd64' is not a platform"),
])
def test_bad_image_keys_name_the_key(tmp_path, toml, said):
    write_tree(tmp_path, {**TREE, "bakegen.toml": toml})
    with pytest.raises(BakegenError, match=said):
        load(tmp_path)


def _event(ref: str, **kw) -> CiEvent:
    return CiEvent(event_name=kw.pop("event_name", "push"), ref=ref, sha="0123456789abcdef" * 2 + "01234567",
                   repository="acme/shop", repository_owner="acme", **kw)


@pytest.mark.parametrize(("ref", "wanted"), [
    ("refs/heads/main", ["sha-0123456", "main", "latest"]),
    ("refs/heads/feat/x", ["sha-0123456", "feat-x"]),
    ("refs/tags/v1.2.3", ["sha-0123456", "1.2.3", "1.2", "1"]),
    ("refs/tags/v0.3.0-rc.1", ["sha-0123456", "0.3.0-rc.1"]),
])
def test_metadata_tag_scheme_carried_by_the_variables_ci_plan_sets(tmp_path, ref, wanted):
    _emit(tmp_path, {"bakegen.toml": '[project]\ntag_scheme = "metadata"\nregistry = "ghcr.io/acme"\n'})
    project = load(tmp_path)
    variables = plan_ci(project, _event(ref), None).variables
    printed = bake_print(tmp_path, "api", env=variables)["target"]["api"]
    assert printed["tags"] == [f"ghcr.io/acme/api:{t}" for t in wanted]
    assert bake_print(tmp_path, "api")["target"]["api"]["tags"] == ["ghcr.io/acme/api:latest"]  # locally: TAG


def test_defaults_args_and_platforms_with_a_platforms_override(tmp_path):
    _emit(tmp_path, {"bakegen.toml": '[defaults]\nargs = { PY = "3.12", MODE = "prod" }\n'
                                     'platforms = ["linux/amd64", "linux/arm64"]\n'
                                     '[targets.web]\nargs = { MODE = "dev" }\nplatforms = ["linux/amd64"]\n'})
    printed = bake_print(tmp_path, "web", "api")["target"]
    assert printed["web"]["args"] == {"PY": "3.12", "MODE": "dev"} and printed["web"]["platforms"] == ["linux/amd64"]
    assert printed["api"]["args"] == {"PY": "3.12", "MODE": "prod"}
    assert printed["api"]["platforms"] == ["linux/amd64", "linux/arm64"]
    one = bake_print(tmp_path, "api", env={"PLATFORMS": "linux/arm64"})["target"]["api"]
    assert one["platforms"] == ["linux/arm64"]


def test_defaults_args_resolve_a_from(tmp_path):
    write_tree(tmp_path, {"svc/Dockerfile": "ARG BASE\nFROM ${BASE}\n", "bakegen.toml": '[defaults.args]\nBASE = "alpine"\n'})
    assert load(tmp_path).targets["svc"].args == {"BASE": "alpine"}


def test_attestations_on_push_only(tmp_path):
    _emit(tmp_path, {"bakegen.toml": "[project]\nattestations = true\n"})
    assert "attest" not in bake_print(tmp_path, "api")["target"]["api"]
    pushed = bake_print(tmp_path, "api", env={"PUSH": "true"})["target"]["api"]
    assert pushed["attest"] == ["type=sbom", "type=provenance,mode=max"]


def test_several_targets_from_one_dockerfile_by_stage(tmp_path):
    _emit(tmp_path, {"bakegen.toml": '[targets.web-build]\ncontext = "web"\nstage = "build"\n'
                                     'tags = ["ghcr.io/acme/web:build"]\n'})
    printed = bake_print(tmp_path, "web", "web-build")["target"]
    assert (printed["web"].get("target"), printed["web-build"]["target"]) == (None, "build")  # web: the last stage
    assert printed["web"]["context"] == printed["web-build"]["context"]


def test_overlay_of_a_discovered_project_beside_a_hand_written_file(tmp_path):
    """Their file names the targets; ours adds the cache and the link of `api` to `base` only."""
    need_buildx()
    write_tree(tmp_path, {
        "docker/base/Dockerfile": "FROM alpine\n", "api/Dockerfile": "FROM base\n",
        BAKE_FILE: 'variable "REGISTRY" { default = "theirs.example" }\ngroup "default" { targets = ["api"] }\n'
                   'target "base" {\n  context = "docker/base"\n  tags = ["${REGISTRY}/base:1"]\n}\n'
                   'target "api" {\n  context = "api"\n  tags = ["${REGISTRY}/api:1"]\n}\n',
    })
    result = bakegen.emit(bakegen.EmitOptions(root=tmp_path, overlay=True, quiet=True))
    assert result.path == tmp_path / "bakegen.hcl"
    env = {"BAKEGEN_CACHE_EXPORT": "true", "REGISTRY": "their.registry", "BAKEGEN_REGISTRY": "reg.example/x"}
    merged = print_bake(tmp_path, ["-f", "bakegen.hcl"], env=env)  # -f docker-bake.hcl -f bakegen.hcl
    api = merged["target"]["api"]
    assert merged["group"]["default"]["targets"] == ["api"]  # their default group, not bakegen's
    assert api["tags"] == ["their.registry/api:1"] and api["contexts"] == {"base": "target:base"}
    assert api["cache-to"][0].startswith("type=registry,ref=reg.example/x/build-cache:api-main,")  # ours, not theirs


MATRIX_TREE = {
    "docker/base/Dockerfile": "ARG CUDA=12.1\nFROM nvidia/cuda:${CUDA}-runtime\n",
    "svc/Dockerfile": "FROM base-cuda12-4-torch2-4\n",
    "bakegen.toml": '[project]\nregistry = "ghcr.io/acme"\n[targets.base.matrix]\ncuda = ["12.1", "12.4"]\n'
                    'torch = ["2.3", 2.4]\n[targets.base.args]\nCUDA = "${cuda}"\nTORCH = "torch==${torch}"\n',
}


def test_matrix_variants_with_their_args_tags_caches_and_links(tmp_path):
    write_tree(tmp_path, MATRIX_TREE)
    (tmp_path / BAKE_FILE).write_text(generate(tmp_path), encoding="utf-8")
    printed = bake_print(tmp_path, "base", "svc")
    variants = ["base-cuda12-1-torch2-3", "base-cuda12-1-torch2-4", "base-cuda12-4-torch2-3", "base-cuda12-4-torch2-4"]
    assert sorted(printed["group"]["base"]["targets"]) == variants  # `bake base` builds every variant
    one = printed["target"]["base-cuda12-4-torch2-3"]
    assert one["args"] == {"CUDA": "12.4", "TORCH": "torch==2.3"}
    assert one["tags"] == ["ghcr.io/acme/base:latest-cuda12.4-torch2.3"]
    refs = {printed["target"][v]["cache-from"][0] for v in variants}
    assert len(refs) == 4 and all("build-cache:base-cuda" in r for r in refs)  # a cache ref each
    assert printed["target"]["svc"]["contexts"] == {"base-cuda12-4-torch2-4": "target:base-cuda12-4-torch2-4"}


def test_affected_and_graph_know_variants(tmp_path):
    write_tree(tmp_path, MATRIX_TREE)
    project = load(tmp_path)
    assert project.graph.links["svc"] == {"base-cuda12-4-torch2-4": "base-cuda12-4-torch2-4"}
    assert "svc" in project.graph.users["base-cuda12-4-torch2-4"]
    assert not project.graph.users["base-cuda12-1-torch2-3"]


@pytest.mark.parametrize(("matrix", "said"), [
    ('cuda = []', r"targets\.base\.matrix\.cuda: expected a list of distinct values"),
    ('cuda = ["12.1", "12.1"]', r"targets\.base\.matrix\.cuda: expected a list of distinct values"),
    ('"1x" = ["a"]', r"targets\.base\.matrix\.1x: '1x' is not a matrix key"),
    ('cuda = ["a b"]', r"targets\.base\.matrix\.cuda: expected a list of distinct values"),
])
def test_bad_matrix_names_the_key(tmp_path, matrix, said):
    write_tree(tmp_path, {**MATRIX_TREE, "bakegen.toml": f"[targets.base.matrix]\n{matrix}\n"})
    with pytest.raises(BakegenError, match=said):
        load(tmp_path)
