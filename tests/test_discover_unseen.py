"""Discovery on shapes bakegen first met in repositories it had never seen: one bad Dockerfile
among many, the stage `docker build` builds, contexts implied by `COPY .`, Containerfiles, vendored
trees, compose `extends`/`include`/merge tags, FROM lines whose ARG names the repository's own
image, and builds stated by Makefiles, scripts and workflows."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from bakegen.cli import main
from bakegen.compose import read_compose
from bakegen.config import BASE_GUESSED, FROM_WITHOUT_VALUE, PLACEHOLDER_KEPT
from bakegen.contexts import SOURCE_NOT_FOUND, SOURCE_UNRESOLVED
from bakegen.discover import discover
from bakegen.dockerfile import external_refs, parse_dockerfile, resolved_images
from bakegen.evidence import evidence_files, read_evidence
from bakegen.generate import load
from bakegen.model import BakegenError

from .helpers import write_tree
from .test_real_monorepos import compose_config, emitted


def parsed(text: str):
    from pathlib import Path

    return parse_dockerfile(text, Path("Dockerfile"), "Dockerfile")


# --- one bad Dockerfile --------------------------------------------------------------------------


def test_a_from_without_value_leaves_that_target_out_and_keeps_the_others(tmp_path):
    write_tree(tmp_path, {"a/Dockerfile": "FROM alpine\n", "b/Dockerfile": "FROM alpine\n",
                          "web/Dockerfile": "ARG NODE_VERSION\nFROM node:${NODE_VERSION}-slim\n"})
    project = load(tmp_path)
    assert sorted(project.targets) == ["a", "b"]
    assert (FROM_WITHOUT_VALUE, 'web/Dockerfile:2: FROM node:${NODE_VERSION}-slim: ARG NODE_VERSION has no value; '
            'set it in bakegen.toml as [targets.web.args] NODE_VERSION = "..."') in project.warnings
    assert sorted(emitted(tmp_path)) == ["a", "b"]  # and bake reads the file


def test_emit_strict_turns_warnings_into_exit_2_and_writes_nothing(tmp_path):
    write_tree(tmp_path, {"a/Dockerfile": "FROM alpine\n", "web/Dockerfile": "ARG V\nFROM node:${V}\n"})
    result = CliRunner().invoke(main, ["emit", "--strict", str(tmp_path)])
    assert result.exit_code == 2
    assert "web/Dockerfile:2: FROM node:${V}: ARG V has no value" in result.stderr
    assert result.stderr.strip().endswith("--strict: 2 warnings about the inputs (run without --quiet to see them); "
                                          "nothing written")
    assert not (tmp_path / "docker-bake.hcl").exists()
    assert CliRunner().invoke(main, ["emit", str(tmp_path)]).exit_code == 0  # without --strict: written


def test_a_placeholder_naming_a_target_is_that_target_and_one_naming_nothing_is_told(tmp_path):
    write_tree(tmp_path, {"base/Dockerfile": "ARG BASE_IMG=<ubuntu>\nFROM $BASE_IMG\n",
                          "jupyter/Dockerfile": "ARG BASE_IMG=<base>\nFROM $BASE_IMG\n"})
    project = load(tmp_path)
    assert project.targets["jupyter"].args == {"BASE_IMG": "base"}
    assert project.graph.links["jupyter"] == {"base": "base"}
    assert (BASE_GUESSED, "jupyter/Dockerfile: BASE_IMG = 'base'") in project.warnings
    assert (PLACEHOLDER_KEPT, "base/Dockerfile:2: FROM $BASE_IMG is '<ubuntu>'; set [targets.base.args] "
            'BASE_IMG = "..." in bakegen.toml') in project.warnings
    assert emitted(tmp_path)["jupyter"]["contexts"] == {"base": "target:base"}


def test_a_registry_arg_before_a_targets_name_links_to_it(tmp_path):
    write_tree(tmp_path, {"base/Dockerfile": "FROM alpine\n", "app/Dockerfile": "ARG REPO\nFROM ${REPO}/base:1\n",
                          "bakegen.toml": '[project]\nregistry = "ghcr.io/acme"\n'})
    targets = emitted(tmp_path)
    assert targets["app"]["args"] == {"REPO": "ghcr.io/acme"}
    assert targets["app"]["contexts"] == {"ghcr.io/acme/base:1": "target:base"}
    project = load(tmp_path, registry="quay.io/other")  # `emit --registry` is the registry guessed
    assert project.targets["app"].args == {"REPO": "quay.io/other"}
    assert project.graph.links["app"] == {"quay.io/other/base:1": "base"}


def test_a_guess_towards_a_target_left_out_is_undone(tmp_path):
    write_tree(tmp_path, {"base/Dockerfile": "ARG X\nFROM $X\n", "app/Dockerfile": "ARG REPO\nFROM $REPO/base\n",
                          "ok/Dockerfile": "FROM alpine\n"})
    assert sorted(load(tmp_path).targets) == ["ok"]


# --- stages -------------------------------------------------------------------------------------


def test_the_last_stage_is_built_and_only_the_stages_it_needs_link(tmp_path):
    write_tree(tmp_path, {
        "a/Dockerfile": "FROM alpine AS runtime\nFROM b AS tools\nFROM alpine AS final\nCOPY --from=runtime / /\n",
        "b/Dockerfile": "FROM a\n",
    })
    project = load(tmp_path)  # `tools` (FROM b) is never built: no cycle a -> b -> a
    assert project.targets["a"].stage is None
    assert project.graph.links == {"a": {}, "b": {"a": "a"}}


def test_a_stage_named_by_compose_decides_which_froms_count(tmp_path):
    text = "FROM base AS dev\nFROM alpine AS prod\n"
    assert external_refs(parsed(text), {}) == ["alpine"]
    assert external_refs(parsed(text), {}, "dev") == ["base"]
    chain = parsed("ARG X\nFROM $X AS unused\nFROM alpine AS a\nFROM a AS b\nRUN --mount=from=1,target=/x true\n")
    assert [s.name for s, _ in resolved_images(chain, {})] == ["a", "b"]  # `unused` needs no value


def test_a_quoted_from_is_read_without_its_quotes():
    stage = parsed('ARG BASE_IMAGE="nvidia/cuda:12.4.1-devel"\nFROM "${BASE_IMAGE}" AS build\n').stages[0]
    assert stage.image == "nvidia/cuda:12.4.1-devel"


# --- contexts -----------------------------------------------------------------------------------


def test_copy_dot_then_the_dockerfiles_own_folder_means_the_root(tmp_path):
    write_tree(tmp_path, {
        "cmd/tool/Dockerfile": "FROM golang AS build\nCOPY . /src\nWORKDIR /src\nRUN go build ./cmd/tool\n"
                               "FROM scratch\nCOPY --from=build /src/cmd/tool/tool /tool\n",
        "web/Dockerfile": "FROM node\nCOPY . /usr/src/web\nWORKDIR /usr/src/web\n",  # its own folder: stays
        "go.mod": "",
    })
    project = discover(tmp_path)
    assert (project.targets["tool"].context, project.targets["tool"].dockerfile) == (".", "cmd/tool/Dockerfile")
    assert project.targets["web"].context == "web"


def test_a_source_found_nowhere_does_not_throw_the_rest_away(tmp_path):
    write_tree(tmp_path, {"svc/app/Dockerfile": "FROM alpine\nARG V\nCOPY svc/lib /lib\nCOPY dist/out.js /\n"
                                                "COPY ${V}/x /x\n", "svc/lib/a.py": ""})
    project = discover(tmp_path)
    assert project.targets["app"].context == "."  # where svc/lib is; dist/ is a build output
    assert (SOURCE_NOT_FOUND, "svc/app/Dockerfile:4 dist/out.js") in project.warnings
    assert (SOURCE_UNRESOLVED, "svc/app/Dockerfile:5 ${V}/x (ARG V)") in project.warnings


def test_copy_sources_are_read_with_the_configured_args(tmp_path):
    write_tree(tmp_path, {"apps/web/Dockerfile": "FROM alpine\nARG APP\nCOPY apps/${APP}/src /src\n",
                          "apps/web/src/x": ""})
    project = load(tmp_path)
    assert project.targets["web"].context == "apps/web"  # APP has no value: nothing to go by
    assert (SOURCE_UNRESOLVED, "apps/web/Dockerfile:3 apps/${APP}/src (ARG APP)") in project.warnings
    (tmp_path / "bakegen.toml").write_text('[targets.web.args]\nAPP = "web"\n')
    project = load(tmp_path)
    assert (project.targets["web"].context, project.targets["web"].dockerfile) == (".", "apps/web/Dockerfile")
    assert not [w for w in project.warnings if w[0] == SOURCE_UNRESOLVED]


# --- names of files and folders -----------------------------------------------------------------


def test_containerfiles_are_found_and_vendored_trees_are_not(tmp_path):
    write_tree(tmp_path, {"gpu/Containerfile": "FROM nvidia/cuda\n", "gpu/Containerfile.rocm": "FROM rocm/dev\n",
                          "x/tool.containerfile": "FROM alpine\n", "vendor/github.com/a/b/Dockerfile": "FROM x\n",
                          "third_party/lib/Dockerfile": "FROM x\n", "vendor/github.com/a/b/compose.yaml": "services: {}"})
    targets = discover(tmp_path).targets
    assert {n: t.dockerfile for n, t in targets.items()} == {
        "gpu": "Containerfile", "gpu-rocm": "Containerfile.rocm", "x-tool": "tool.containerfile"}


def test_no_dockerfile_error_names_containerfiles_too(tmp_path):
    with pytest.raises(BakegenError, match="no Dockerfile or Containerfile found"):
        load(tmp_path)


# --- compose ------------------------------------------------------------------------------------


def test_compose_extends_include_merge_tags_and_profiles_are_read(tmp_path):
    write_tree(tmp_path, {
        "compose.yaml": "include:\n  - infra/db.yml\nservices:\n"
                        "  api:\n    extends: {file: common/base.yml, service: base-api}\n    profiles: [dev]\n"
                        "    environment: !reset []\n"
                        "  worker:\n    extends: api\n    build:\n      target: !override worker\n",
        "common/base.yml": "services:\n  base-api:\n    build:\n      context: ../svc\n      args: {A: '1'}\n",
        "infra/db.yml": "services:\n  db:\n    build: .\n",
        "svc/Dockerfile": "FROM alpine AS worker\nFROM alpine\n", "infra/Dockerfile": "FROM postgres\n",
    })
    read = read_compose(tmp_path, "compose.yaml")
    builds = {b.service: (b.context, b.stage, b.args) for b in read.builds}
    assert builds == {"api": ("svc", None, {"A": "1"}), "worker": ("svc", "worker", {"A": "1"})}
    assert read.includes == ["infra/db.yml"] and not read.warnings
    assert sorted(load(tmp_path).targets) == ["api", "db", "worker"]


def test_compose_extends_out_of_the_repository_is_a_warning(tmp_path):
    repo = tmp_path / "repo"
    write_tree(repo, {"compose.yaml": "services:\n  a:\n    extends: {file: ../other.yml, service: b}\n"
                                      "include:\n  - ../x.yml\n"})
    read = read_compose(repo, "compose.yaml")
    assert read.builds == [] and len(read.warnings) == 2
    assert all("outside" in w or "leaves" in w or "repository" in w for _, w in read.warnings), read.warnings


def test_an_extending_services_build_merges_into_the_extended_ones_as_compose_merges_it(tmp_path):
    """args (a list there, a mapping here) merged key by key; `!reset` drops them, `!override`
    replaces them; the context and additional_contexts stay relative to the file that states them.
    Read back against the real `docker compose config`."""
    extends = "    extends: {file: common/common.yml, service: web}\n"
    write_tree(tmp_path, {
        "common/common.yml": "services:\n  web:\n    build:\n      context: ../web\n      args: [A=1, B=2]\n"
                             "      additional_contexts: [lib=./lib]\n",
        "compose.yaml": "services:\n"
                        f"  merged:\n{extends}    build:\n      args: {{B: '3', C: '4'}}\n"
                        f"  reset:\n{extends}    build:\n      args: !reset {{}}\n"
                        f"  replaced:\n{extends}    build:\n      args: !override {{C: '5'}}\n",
        "web/Dockerfile": "FROM alpine\n",
    })
    builds = {b.service: (b.context, b.args, b.contexts) for b in read_compose(tmp_path, "compose.yaml").builds}
    lib = {"lib": "common/lib"}  # relative to the file that states it, as the context is
    assert builds == {"merged": ("web", {"A": "1", "B": "3", "C": "4"}, lib), "reset": ("web", {}, lib),
                      "replaced": ("web", {"C": "5"}, lib)}
    theirs = compose_config(tmp_path, "compose.yaml")
    assert {name: (os.path.relpath(s["build"]["context"], tmp_path), s["build"].get("args", {}),
                   {k: os.path.relpath(v, tmp_path) for k, v in s["build"]["additional_contexts"].items()})
            for name, s in theirs.items()} == builds


X_BAKE_TREE = {
    "compose.yaml": "services:\n  base:\n    build: base\n"
                    "  app:\n    build:\n      context: app\n      x-bake:\n        contexts:\n"
                    "          my-base: target:base\n"
                    "  worker:\n    extends: app\n"  # the same build as app: no target of its own
                    "  tool:\n    build:\n      context: tool\n      x-bake:\n        contexts: [my-app=target:worker]\n",
    "compose.prod.yml": "services:\n  app:\n    extends: {file: compose.yaml, service: app}\n"  # an override
                        "  prod:\n    build:\n      context: .\n      dockerfile: prod/Dockerfile\n"
                        "      x-bake: {contexts: {my-app: 'target:app', my-base: 'target:base'}}\n",
    "base/Dockerfile": "FROM alpine\n", "app/Dockerfile": "FROM my-base\n", "tool/Dockerfile": "FROM my-app\n",
    "prod/Dockerfile": "FROM my-app AS build\nFROM my-base\nCOPY --from=build /x /x\n",
}


def test_x_bake_contexts_of_compose_builds_link_the_targets_their_services_make(tmp_path):
    """bake's `x-bake.contexts` (as `docker buildx bake -f compose.yaml` reads them) name services:
    one that is the same build as another (worker), or an override of the main file's (prod's app),
    is the target that build makes."""
    write_tree(tmp_path, X_BAKE_TREE)
    targets = emitted(tmp_path)
    assert {n: t.get("contexts") for n, t in targets.items() if n != "_common"} == {
        "base": None, "app": {"my-base": "target:base"}, "tool": {"my-app": "target:app"},
        "prod": {"my-app": "target:app", "my-base": "target:base"}}
    renamed = discover(tmp_path, names={"compose.yaml:app": "web"}).targets  # bakegen's name, not the service's
    assert renamed["tool"].contexts == {"my-app": "target:web"} and renamed["prod"].contexts["my-app"] == "target:web"


def test_a_bare_compose_arg_takes_the_env_files_value(tmp_path):
    write_tree(tmp_path, {"compose.yaml": "services:\n  s:\n    build:\n      context: s\n      args: [IMG, GONE]\n",
                          ".env": "IMG=ghcr.io/x/y:1\n", "s/Dockerfile": "ARG IMG\nFROM ${IMG}\n"})
    assert load(tmp_path).targets["s"].args == {"IMG": "ghcr.io/x/y:1"}


def test_a_generic_service_name_takes_its_compose_folder_when_there_are_several(tmp_path):
    build = "services:\n  backend:\n    build: .\n"
    write_tree(tmp_path, {"tools/analyzer/compose.yaml": build, "tools/analyzer/Dockerfile": "FROM alpine\n",
                          "compose.yaml": "services:\n  api:\n    build: api\n", "api/Dockerfile": "FROM alpine\n"})
    assert sorted(load(tmp_path).targets) == ["analyzer-backend", "api"]  # the root's file: nothing to add
    (tmp_path / "compose.yaml").unlink()
    assert sorted(load(tmp_path).targets) == ["api", "backend"]  # one compose folder: the service's name


# --- build files as evidence --------------------------------------------------------------------


def test_makefiles_scripts_and_workflows_state_contexts_and_stages(tmp_path):
    write_tree(tmp_path, {
        "Makefile": "IMG ?= x\nimage:\n\t$(OCI_BUILD) -t $(IMG) \\\n\t  -f cmd/a/Dockerfile .\n",
        "build.sh": 'args+=("-f" "images/${name}/Containerfile" ".")\n',
        "tools/t/Makefile": "build:\n\tdocker buildx build --target slim -t t .\n",
        ".github/workflows/ci.yml": "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n"
                                    "        with:\n          context: .\n          file: ./web/Dockerfile\n"
                                    "          target: prod\n",
        "cmd/a/Dockerfile": "FROM alpine\n", "images/gpu/Containerfile": "FROM alpine\n",
        "tools/t/Dockerfile": "FROM alpine AS slim\nFROM alpine\n", "web/Dockerfile": "FROM a AS prod\nFROM b\n",
    })
    files = evidence_files(tmp_path, ["Makefile", "build.sh", "tools/t/Makefile", ".github/workflows/ci.yml", "x.md"])
    assert files == [".github/workflows/ci.yml", "Makefile", "build.sh", "tools/t/Makefile"]
    stated = {(e.dockerfile, e.context, e.stage, e.source) for e in read_evidence(tmp_path, files)}
    assert stated == {("web/Dockerfile", ".", "prod", ".github/workflows/ci.yml:4"),
                      ("cmd/a/Dockerfile", ".", None, "Makefile:3"),
                      ("images/${name}/Containerfile", ".", None, "build.sh:1"),
                      ("tools/t/Dockerfile", "tools/t", "slim", "tools/t/Makefile:2")}
    project = load(tmp_path)
    where = {n: (t.context, t.dockerfile, t.stage, t.decided) for n, t in project.targets.items()}
    assert where["a"] == (".", "cmd/a/Dockerfile", None, "context from Makefile:3")
    assert where["images-gpu"] == (".", "images/gpu/Containerfile", None, "context from build.sh:1")
    assert where["t"] == ("tools/t", "Dockerfile", "slim", "context from tools/t/Makefile:2, stage from "
                                                             "tools/t/Makefile:2")
    assert where["web"][:3] == (".", "web/Dockerfile", "prod")
    graph = CliRunner().invoke(main, ["graph", str(tmp_path)]).stdout
    assert "a (base)  [context from Makefile:3]" in graph  # web (stage prod) builds on it
    assert emitted(tmp_path)["t"]["target"] == "slim"


def test_build_files_are_read_within_bounds(tmp_path):
    from bakegen.evidence import MAX_EVIDENCE, MAX_LINE_CHARS

    write_tree(tmp_path, {"Dockerfile": "FROM alpine\n", "many.sh": "docker build -f Dockerfile .\n" * (MAX_EVIDENCE + 5),
                          "long.sh": ("-f x " * 500 + "\\\n") * 100 + "docker build -f Dockerfile .\n"})
    assert len(read_evidence(tmp_path, ["many.sh"])) == MAX_EVIDENCE
    # Continuations are joined up to MAX_LINE_CHARS, then a line starts a command of its own.
    assert [e.dockerfile for e in read_evidence(tmp_path, ["long.sh"])] == ["Dockerfile"]
    assert MAX_LINE_CHARS < 2_500 * 100


def test_a_build_file_never_names_a_context_out_of_the_repository(tmp_path):
    repo = tmp_path / "repo"
    write_tree(repo, {"build.sh": "docker build -f app/Dockerfile ..\n", "app/Dockerfile": "FROM alpine\n"})
    assert read_evidence(repo, ["build.sh"]) == []
    write_tree(tmp_path, {"elsewhere.sh": "docker build -f app/Dockerfile .\n"})
    (repo / "linked.sh").symlink_to(tmp_path / "elsewhere.sh")
    assert read_evidence(repo, ["linked.sh"]) == []  # a script linked from outside says nothing


# --- registries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["ghcr.io/acme/shop/base:1", "ghcr.io/acme/base:1"])
def test_both_ghcr_forms_link_and_images_keeps_a_published_pin(tmp_path, ref):
    write_tree(tmp_path, {"base/Dockerfile": "FROM alpine\n", "app/Dockerfile": f"FROM {ref}\n",
                          "bakegen.toml": '[project]\nregistry = "ghcr.io/acme/shop"\n'})
    assert emitted(tmp_path)["app"]["contexts"] == {ref: "target:base"}
    (tmp_path / "bakegen.toml").write_text(f'[project]\nregistry = "ghcr.io/acme/shop"\n[images]\n"{ref}" = '
                                           f'"docker-image://{ref}"\n')
    assert emitted(tmp_path)["app"]["contexts"] == {ref: f"docker-image://{ref}"}  # the published one


def test_init_states_each_guess_as_a_todo(tmp_path):
    write_tree(tmp_path, {"Makefile": "img:\n\tdocker build -f cmd/a/Dockerfile .\n", "cmd/a/Dockerfile": "FROM alpine\n",
                          "svc/app/Dockerfile": "FROM alpine\nCOPY svc/lib /lib\n", "svc/lib/x": "",
                          "web/Dockerfile": "FROM alpine\nCOPY . .\n"})
    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    text = (tmp_path / "bakegen.toml").read_text()
    assert "# TODO: context from Makefile:2 (no compose file states it); check it" in text
    assert "# TODO: context guessed from what the Dockerfile copies (., not its folder svc/app); check it" in text
    assert text.count("# TODO") == 2  # web's context is its own folder: nothing guessed
    write_tree(tmp_path, {"jupyter/Dockerfile": "ARG BASE_IMG=<web>\nFROM $BASE_IMG\n"})
    assert CliRunner().invoke(main, ["init", "--force", str(tmp_path)]).exit_code == 0
    assert "# TODO: FROM arg BASE_IMG = 'web' (image of target web) (no compose file states it); check it" in (
        tmp_path / "bakegen.toml").read_text()
    assert "[jupyter]" in CliRunner().invoke(main, ["graph", str(tmp_path)]).stdout.replace(
        "jupyter (service)  [FROM arg BASE_IMG = 'web' (image of target web)]", "[jupyter]")
