"""bakegen on skeletons of public monorepos (tests/fixtures/real/*/README.md says which): the
targets, contexts, Dockerfiles, args and links that each repository's own compose files and FROM
chains declare, read back through the real `docker buildx bake --print`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bakegen.generate import generate, load
from bakegen.model import BakegenError, Kind
from bakegen.render import BAKE_FILE

from .helpers import bake_print, need_buildx

FIXTURES = Path(__file__).parent / "fixtures" / "real"


def copy_fixture(name: str, tmp_path: Path, origin: str | None = None) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    if origin:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)
    return root


def emitted(root: Path) -> dict:
    (root / BAKE_FILE).write_text(generate(root), encoding="utf-8")
    return bake_print(root)["target"]


def compose_config(root: Path, *files: str) -> dict:
    """What `docker compose config` itself resolves, with no variable from the environment."""
    need_buildx()
    args = ["docker", "compose", "--project-directory", str(root)]
    for f in files:
        args += ["-f", str(root / f)]
    done = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, check=True,
                          env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")})
    return json.loads(done.stdout)["services"]


def test_opentelemetry_demo_builds_each_service_from_the_root_as_its_compose_file_says(tmp_path):
    root = copy_fixture("opentelemetry-demo", tmp_path)
    targets = emitted(root)
    assert sorted(t for t in targets if t != "_common") == ["ad", "cart", "checkout", "frontend", "frontendTests"]
    compose = compose_config(root, "docker-compose.yml", "docker-compose-tests.yml")
    for name, service in compose.items():
        if "build" not in service:
            continue
        ours = targets[name]
        assert os.path.normpath(root / ours["context"]) == os.path.normpath(service["build"]["context"]), name
        ours_file = os.path.normpath(root / ours["context"] / ours.get("dockerfile", "Dockerfile"))
        theirs_file = os.path.normpath(Path(service["build"]["context"]) / service["build"]["dockerfile"])
        assert ours_file == theirs_file, name
        assert ours.get("args", {}) == service["build"].get("args", {}), name
    assert targets["ad"]["args"] == {"OTEL_JAVA_AGENT_VERSION": "2.20.1"}  # an ARG without default, from .env


def test_without_compose_the_context_is_inferred_from_what_the_dockerfiles_copy(tmp_path):
    root = copy_fixture("opentelemetry-demo", tmp_path)
    for f in ("docker-compose.yml", "docker-compose-tests.yml"):
        (root / f).unlink()
    project = load(root)
    where = {name: (t.context, t.dockerfile) for name, t in project.targets.items()}
    assert where == {
        "ad": (".", "src/ad/Dockerfile"),  # COPY ./src/ad/... and ./pb/
        "cart": (".", "src/cart/src/Dockerfile"),  # src/cart/src says little: named after cart
        "checkout": (".", "src/checkout/Dockerfile"),  # RUN --mount=type=bind,source=./src/checkout/...
        "frontend": (".", "src/frontend/Dockerfile"),
        "frontend-cypress": (".", "src/frontend/Dockerfile.cypress"),  # a variant: a target of its own
    }
    targets = emitted(root)
    assert targets["ad"]["context"] == "." and targets["ad"]["dockerfile"] == "src/ad/Dockerfile"


def test_docker_stacks_chain_through_args_is_linked(tmp_path):
    root = copy_fixture("docker-stacks", tmp_path)
    targets = emitted(root)
    expected_parent = {
        "base-notebook": "docker-stacks-foundation", "minimal-notebook": "base-notebook",
        "scipy-notebook": "minimal-notebook", "r-notebook": "minimal-notebook", "julia-notebook": "minimal-notebook",
        "tensorflow-notebook": "scipy-notebook", "pytorch-notebook": "scipy-notebook",
        "datascience-notebook": "scipy-notebook", "pyspark-notebook": "scipy-notebook",
        "all-spark-notebook": "pyspark-notebook",
        "pytorch-notebook-cuda12": "scipy-notebook", "tensorflow-notebook-cuda": "scipy-notebook",
    }
    for name, parent in expected_parent.items():
        assert targets[name]["contexts"] == {f"quay.io/jupyter/{parent}": f"target:{parent}"}, name
    assert "contexts" not in targets["docker-stacks-foundation"]  # FROM ubuntu:24.04: upstream
    assert not any("devcontainer" in name for name in targets)  # editor images left out
    project = load(root)
    assert project.targets["scipy-notebook"].kind == Kind.BASE  # others build on it
    assert project.targets["pytorch-notebook-cuda12"].kind == Kind.SERVICE


def test_a_build_arg_changes_which_target_a_from_links_to(tmp_path):
    root = copy_fixture("docker-stacks", tmp_path)
    with (root / "bakegen.toml").open("a") as f:
        f.write('\n[targets.pytorch-notebook.args]\nBASE_IMAGE = "quay.io/jupyter/minimal-notebook:2025-01-01"\n')
    targets = emitted(root)
    assert targets["pytorch-notebook"]["contexts"] == {
        "quay.io/jupyter/minimal-notebook:2025-01-01": "target:minimal-notebook"}


def test_awesome_compose_samples_sharing_folder_names_get_names_from_their_paths(tmp_path):
    root = copy_fixture("awesome-compose", tmp_path)
    targets = emitted(root)
    assert sorted(t for t in targets if t != "_common") == [
        "apache-php-web", "flask-web", "nginx-golang-backend", "proxy", "react-express-mysql-backend",
        "react-express-mysql-frontend", "react-java-mysql-backend", "react-java-mysql-frontend",
    ]
    assert targets["apache-php-web"]["context"] == "apache-php/app"
    assert targets["apache-php-web"]["target"] == "builder"  # compose's build.target
    text = (root / BAKE_FILE).read_text()
    assert "# apache-php/compose.yaml: service web, named 'apache-php-web'" in text


def test_text_generation_inference_variants_are_targets_of_their_own(tmp_path):
    root = copy_fixture("text-generation-inference", tmp_path,
                        origin="https://github.com/huggingface/text-generation-inference.git")
    targets = emitted(root)
    files = {name: (t["context"], t.get("dockerfile", "Dockerfile")) for name, t in targets.items() if name != "_common"}
    assert files == {
        "text-generation-inference": (".", "Dockerfile"),  # the root's image takes the repository's name
        "amd": (".", "Dockerfile_amd"), "intel": (".", "Dockerfile_intel"),
        "neuron": (".", "Dockerfile.neuron"), "trtllm": (".", "Dockerfile_trtllm"),
    }


def test_cookiecutter_django_environments_both_build_from_the_root(tmp_path):
    root = copy_fixture("cookiecutter-django", tmp_path)
    targets = emitted(root)
    files = {name: (t["context"], t.get("dockerfile")) for name, t in targets.items() if name != "_common"}
    assert files == {
        "local-django": (".", "compose/local/django/Dockerfile"),
        "production-django": (".", "compose/production/django/Dockerfile"),
        "postgres": (".", "compose/production/postgres/Dockerfile"),  # in both files, built once
        "traefik": (".", "compose/production/traefik/Dockerfile"),
        "docs": (".", "compose/local/docs/Dockerfile"),
    }
    assert targets["docs"]["args"] == {"BUILD_ENVIRONMENT": "local"}


@pytest.mark.parametrize(("text", "expected"), [
    # FROM a full reference to the project's own image, any tag
    ("FROM ghcr.io/acme/shop/base:1.2 AS runtime\n", {"ghcr.io/acme/shop/base:1.2": "target:base"}),
    ("FROM GHCR.io/acme/shop/base\n", {"ghcr.io/acme/shop/base": "target:base"}),
    # COPY --from and RUN --mount from= another target: bake's named contexts replace those too
    ("FROM alpine\nCOPY --from=base /x /x\n", {"base": "target:base"}),
    ("FROM alpine\nRUN --mount=type=bind,from=base,target=/b true\n", {"base": "target:base"}),
    # a digest names a published image: never a link
    ("FROM ghcr.io/acme/shop/base@sha256:" + "a" * 64 + "\n", None),
    # `<<` inside a word is no heredoc: the FROM after it is read
    ('FROM alpine\nRUN echo "a<<b" && echo $((1<<2))\nFROM base\n', {"base": "target:base"}),
    # nested ARGs and the ${X:+a} form
    ("ARG R=ghcr.io/acme\nARG P=${R}/shop\nARG T=\nFROM ${P}/base${T:+:$T}\n", {"ghcr.io/acme/shop/base": "target:base"}),
])
def test_links_by_every_form_bake_replaces(tmp_path, text, expected):
    (tmp_path / "base").mkdir()
    (tmp_path / "base/Dockerfile").write_text("FROM alpine\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Dockerfile").write_text(text)
    (tmp_path / "bakegen.toml").write_text('[project]\nregistry = "ghcr.io/acme/shop"\n')
    targets = emitted(tmp_path)
    assert targets["app"].get("contexts") == expected


def test_a_from_without_a_value_is_an_error_naming_the_file_the_arg_and_the_key(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    with pytest.raises(BakegenError, match=r"^app/Dockerfile:2: FROM \$\{BASE_IMAGE\}: ARG BASE_IMAGE has no value; "
                                           r"set it in bakegen.toml as \[targets.app.args\] BASE_IMAGE = "):
        load(tmp_path)
    (tmp_path / "bakegen.toml").write_text('[targets.app.args]\nBASE_IMAGE = "alpine:3.20"\n')
    assert load(tmp_path).targets["app"].args == {"BASE_IMAGE": "alpine:3.20"}


def test_names_can_be_set_for_any_dockerfile_or_compose_service(tmp_path):
    root = copy_fixture("cookiecutter-django", tmp_path)
    (root / "bakegen.toml").write_text('[names]\n"compose/local/django/Dockerfile" = "django-dev"\n'
                                       '"docker-compose.production.yml:traefik" = "proxy"\n')
    assert sorted(load(root).targets) == ["django", "django-dev", "docs", "postgres", "proxy"]


def test_init_is_the_way_out_where_a_target_is_left_out(tmp_path):
    from click.testing import CliRunner

    from bakegen.cli import main

    root = copy_fixture("docker-stacks", tmp_path)
    (root / "bakegen.toml").write_text('[project]\nexclude = ["images/julia-notebook/"]\n')
    (root / "images/r-notebook/Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    project = load(root)  # one Dockerfile without a base never stops the others
    assert "r-notebook" not in project.targets and "scipy-notebook" in project.targets
    assert ("targets left out because a FROM they build on names no image",
            "images/r-notebook/Dockerfile:2: FROM ${BASE_IMAGE}: ARG BASE_IMAGE has no value; set it in bakegen.toml "
            'as [targets.r-notebook.args] BASE_IMAGE = "..."') in project.warnings
    result = CliRunner().invoke(main, ["init", "--force", str(root)])
    assert result.exit_code == 0, result.output
    text = (root / "bakegen.toml").read_text()
    assert 'exclude = ["images/julia-notebook/"]' in text  # the existing exclude is kept
    assert "[targets.julia-notebook]" not in text
    assert '# args = { BASE_IMAGE = "..." }' in text and "README.md" not in text.replace("bakegen's README", "")
    assert '"images/pytorch-notebook/cuda12/Dockerfile" = "pytorch-notebook-cuda12"' in text  # [names]
    text = text.replace('# args = { BASE_IMAGE = "..." }', 'args = { BASE_IMAGE = "quay.io/jupyter/minimal-notebook" }')
    (root / "bakegen.toml").write_text(text)
    project = load(root)  # now it loads, and the chain holds
    assert project.targets["r-notebook"].args == {"BASE_IMAGE": "quay.io/jupyter/minimal-notebook"}
    assert project.targets["pytorch-notebook-cuda12"].kind == Kind.SERVICE


def test_the_default_branch_is_the_one_origin_head_names(tmp_path):
    root = copy_fixture("awesome-compose", tmp_path, origin="https://github.com/docker/awesome-compose.git")
    assert load(root).cache.default_branch == "main"  # origin/HEAD unknown
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "-C", str(root), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "update-ref", "refs/remotes/origin/master", "HEAD"], check=True)
    subprocess.run(["git", "-C", str(root), "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master"],
                   check=True)
    project = load(root)
    assert project.cache.default_branch == "master"  # every cache read would miss with `main`
    assert project.registry == "ghcr.io/docker/awesome-compose"


@pytest.mark.parametrize("command", ["emit", "graph", "affected"])
def test_every_command_gives_the_same_error(tmp_path, command):
    from click.testing import CliRunner

    from bakegen.cli import main

    (tmp_path / "app").mkdir()
    (tmp_path / "app/Dockerfile").write_text("ARG BASE\nFROM $BASE\n")
    args = [command, str(tmp_path)] + (["--since", "HEAD"] if command == "affected" else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == ("bakegen: error: app/Dockerfile:2: FROM $BASE: ARG BASE has no value; set it in "
                             'bakegen.toml as [targets.app.args] BASE = "..."\n')


def test_emit_quiet_says_nothing_but_what_it_wrote(tmp_path):
    from click.testing import CliRunner

    from bakegen.cli import main

    root = copy_fixture("awesome-compose", tmp_path)
    loud = CliRunner().invoke(main, ["emit", str(root)])
    assert "warning" in loud.stderr
    quiet = CliRunner().invoke(main, ["emit", "--quiet", str(root)])
    assert quiet.exit_code == 0 and quiet.stderr.startswith("wrote ") and quiet.stderr.count("\n") == 1
