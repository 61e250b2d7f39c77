import re
from pathlib import Path

import pytest

from bakegen.advice import project_warnings
from bakegen.config import load_project
from bakegen.model import BakegenError, CacheBackend

from .helpers import write_tree

TREE = {
    "docker/base-python-pose/Dockerfile": "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\n",
    "pose-service/Dockerfile": "FROM base-python-pose AS deps\nFROM deps AS build\nFROM deps AS runtime\n",
    "tools/Dockerfile.lint": "FROM python:3.11\n",
}


def load(tmp_path, toml: str):
    write_tree(tmp_path, {**TREE, "bakegen.toml": toml})
    return load_project(tmp_path)


def test_overrides_and_additions(tmp_path):
    project = load(tmp_path, """
[project]
registry = "ghcr.io/acme/pose"
tag = "v1"
source = "https://github.com/acme/pose"
default_branch = "trunk"

[cache]
backend = "local"
directory = "/tmp/cache"

[images]
"nvidia/cuda:12.1.1-runtime-ubuntu22.04" = "docker-image://mirror/cuda:12.1.1"

[groups]
gpu = ["pose-service"]

[targets.pose-service]
stage = "build"
args = { PORT = 8080, NAME = "x" }
labels = { team = "ml" }
platforms = ["linux/amd64"]
secrets = ["id=hf,env=HF_TOKEN"]
contexts = { smpl = "./data/smpl" }
groups = ["ml"]

[targets.lint]
context = "tools"
dockerfile = "Dockerfile.lint"
""")
    assert project.registry == "ghcr.io/acme/pose"
    assert project.tag == "v1"
    assert project.cache.backend == CacheBackend.LOCAL
    assert project.cache.default_branch == "trunk"
    pose = project.targets["pose-service"]
    assert pose.stage == "build"
    assert pose.args == {"PORT": "8080", "NAME": "x"}
    assert pose.secrets == ["id=hf,env=HF_TOKEN"]
    assert pose.contexts == {"smpl": "./data/smpl"}
    assert pose.groups == ["ml"]
    lint = project.targets["lint"]
    assert (lint.context, lint.dockerfile) == ("tools", "Dockerfile.lint")
    assert lint.parsed.stages[0].image == "python:3.11"
    assert project.groups == {"gpu": ["pose-service"]}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[project]\nregistry = \n", r"^bakegen\.toml:2: malformed TOML: "),
        ("[projekt]\n", r"^bakegen\.toml: projekt: unknown key \(known: bench, cache, ci, defaults, groups, images"),
        ("[cache]\nbackend = \"s3\"\n", r"^bakegen\.toml: cache\.backend: expected one of registry, local"),
        ("[project]\ntag = 5\n", r"^bakegen\.toml: project\.tag: expected a string, got integer"),
        ("[project]\ntag = \"a:b\"\n", r"project\.tag: 'a:b' is not a valid image tag"),
        ("[targets.pose-service]\nargz = {}\n", r"^bakegen\.toml: targets\.pose-service\.argz: unknown key"),
        ("[targets.pose-service]\nargs = { A = [1] }\n",
         r"^bakegen\.toml: targets\.pose-service\.args\.A: expected a string or number, got array"),
        ("[targets.pose-service]\nplatforms = \"linux/amd64\"\n",
         r"targets\.pose-service\.platforms: expected a list of strings, got string"),
        ("[targets.pose-service]\nstage = \"nope\"\n",
         r"targets\.pose-service\.stage: no stage 'nope' in the Dockerfile \(stages: build, deps, runtime\)"),
        ("[targets.new]\nstage = \"x\"\n", r"targets\.new: no folder makes this target; set 'context'"),
        ("[targets.new]\ncontext = \"nowhere\"\n", r"targets\.new: Dockerfile 'nowhere/Dockerfile' not found"),
        ("[targets.\"bad name\"]\ncontext = \"x\"\n", r"targets\.bad name: 'bad name' is not a valid bake name"),
        ("groups = 3\n", r"^bakegen\.toml: groups: expected a table, got integer"),
        ("[targets.pose-service]\nsecrets = [\"garbage\"]\n",
         r"targets\.pose-service\.secrets: 'garbage' is not a secret \(id=NAME,env=VAR"),
        ("[targets.pose-service]\nsecrets = [\"id=a,colour=blue\"]\n", r"'id=a,colour=blue' is not a secret"),
        ("[targets.pose-service]\nplatforms = [\"linux/amd64 \"]\n",
         r"targets\.pose-service\.platforms: 'linux/amd64 ' is not a platform"),
        ("[cache]\ncompression = \"brotli\"\n",
         r"^bakegen\.toml: cache\.compression: expected one of zstd, gzip, uncompressed, got 'brotli'"),
        ("[cache]\ncompression_level = 23\n", r"cache\.compression_level: expected a whole number from 0 to 22"),
        ("[cache]\ncompression_level = true\n", r"cache\.compression_level: expected a whole number"),
        ("[cache]\ncompression = \"gzip\"\ncompression_level = 12\n",
         r"^bakegen\.toml: cache\.compression_level: gzip levels go from 0 to 9"),
        ("[cache]\ncompression = \"uncompressed\"\ncompression_level = 1\n",
         r"cache\.compression_level: no level for uncompressed layers"),
        ("[targets.pose-service]\nlabels = { a = \"e\\u0301\" }\n",
         r"targets\.pose-service\.labels\.a: text not in Unicode NFC form"),
    ],
)
def test_errors_name_key_or_line(tmp_path, toml, message):
    with pytest.raises(BakegenError, match=message):
        load(tmp_path, toml)


def test_a_config_that_is_not_a_regular_file_says_so(tmp_path):
    write_tree(tmp_path, TREE)
    with pytest.raises(BakegenError, match="/dev/null: not a regular file"):
        load_project(tmp_path, Path("/dev/null"))


def test_explicit_config_must_exist(tmp_path):
    write_tree(tmp_path, TREE)
    with pytest.raises(BakegenError, match="missing.toml: no such file"):
        load_project(tmp_path, tmp_path / "missing.toml")


def test_no_dockerfile_is_an_error(tmp_path):
    with pytest.raises(BakegenError, match="no Dockerfile or Containerfile found"):
        load_project(tmp_path)


def test_dockerignore_warnings_one_line_per_kind_with_advice_by_what_the_context_builds(tmp_path):
    write_tree(tmp_path, {
        **TREE,
        "pose-service/requirements.txt": "flask\n",
        "pose-service/.dockerignore": "**/__pycache__\n.git/\n",
        "api/go.mod": "module api\n", "api/Dockerfile": "FROM golang\n", "api/.dockerignore": ".git\n",
        "web/package.json": "{}", "web/Dockerfile": "FROM node\n", "web/.dockerignore": ".git\n.env\n*.log\n",
        **{f"svc{i}/Dockerfile": "FROM x\n" for i in range(8)},
    })
    warnings = project_warnings(load_project(tmp_path))
    assert warnings == [
        "no .dockerignore for docker/base-python-pose, svc0, svc1, svc2, svc3, svc4 and 4 more: every file "
        "there is sent to the build",
        "ignore files lacking entries for what their context builds: api/.dockerignore (.env *.log), "
        "pose-service/.dockerignore (.env *.log .venv/ venv/ *.pkl data/), web/.dockerignore (node_modules/ dist/)",
    ]


def test_a_dockerfile_s_own_ignore_file_is_the_one_read(tmp_path):
    write_tree(tmp_path, {
        "a.Dockerfile": "FROM x\n", "a.Dockerfile.dockerignore": ".git/\n.env\n*.log\n",
        "b.Dockerfile": "FROM x\n", ".dockerignore": ".git/\n",
    })
    assert project_warnings(load_project(tmp_path)) == [
        "ignore files lacking entries for what their context builds: .dockerignore (.env *.log)"]


def test_syntax_directive_warned(tmp_path):
    write_tree(tmp_path, {"svc/Dockerfile": "# syntax=docker/dockerfile:1\nFROM x\n", "svc/.dockerignore": ".git\n.env\n*.log\n"})
    warnings = project_warnings(load_project(tmp_path))
    assert warnings == ["`# syntax=` pulls a frontend image at every build (a registry outage or an air-gapped runner "
                        "fails it); drop it unless needed: svc/Dockerfile (docker/dockerfile:1)"]


@pytest.mark.parametrize(("toml", "key"), [
    ('[targets.x]\ncontext = "../elsewhere"\n', "targets.x.context: '../elsewhere'"),
    ('[targets.x]\ncontext = "/etc"\n', "targets.x.context: '/etc'"),
    ('[targets.pose-service]\ndockerfile = "../../Dockerfile"\n', "targets.pose-service.dockerfile: '../../Dockerfile'"),
    ('[targets.x]\ncontext = "out"\n', "targets.x.context: 'out'"),  # a symlink to a folder outside
])
def test_paths_outside_the_repository_are_refused(tmp_path, toml, key):
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/Dockerfile").write_text("FROM x\n")
    (root / "out").symlink_to(tmp_path / "outside")
    with pytest.raises(BakegenError, match=f"bakegen.toml: {re.escape(key)} is outside the repository"):
        load(root, toml)


def test_a_dockerfile_linking_out_of_the_repository_is_left_out_with_a_word(tmp_path):
    root = tmp_path / "repo"
    write_tree(root, {"svc/Dockerfile": "FROM x\n", "svc/.dockerignore": ".git/\n.env\n*.log\n"})
    (tmp_path / "secret.Dockerfile").write_text("FROM y\n")
    (root / "svc/evil.Dockerfile").symlink_to(tmp_path / "secret.Dockerfile")
    project = load_project(root)
    assert list(project.targets) == ["svc"]
    assert project_warnings(project) == [
        "Dockerfiles that are symlinks to files outside the repository, left out: svc/evil.Dockerfile"]
