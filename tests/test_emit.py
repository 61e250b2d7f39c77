"""The whole generator on a monorepo shaped like the product, read back by the real buildx."""

import os

import pytest

from bakegen import generate
from bakegen.config import load_project
from bakegen.dockerignore import RECOMMENDED
from bakegen.model import CacheBackend

from .helpers import bake_print, write_tree

HOSTILE_ARG = 'say "hi" \\ ${HOME} %{x} \n\t é 😀 \x01'
IGNORE = "\n".join(RECOMMENDED) + "\n"
SAMPLE = {
    "docker/base-python-pose/Dockerfile": (
        "ARG CUDA=nvidia/cuda:12.1.1-runtime-ubuntu22.04\nFROM ${CUDA} AS runtime\n"
    ),
    "docker/base-python/Dockerfile": "FROM python:3.10-slim-bullseye\n",
    "docker/base-node/Dockerfile": "FROM node:18-bookworm-slim\n",
    "pose-service/Dockerfile": (
        "FROM base-python-pose AS deps\nFROM deps AS build\nFROM base-python-pose AS runtime\n"
    ),
    "backend/Dockerfile": "FROM base-node AS deps\nFROM deps AS build\nFROM base-node AS runtime\n",
    "web/Dockerfile": "FROM base-node AS build\nFROM node:18-alpine AS runtime\nCOPY --from=build /app /app\n",
    "odd${HOME}dir/Dockerfile": "FROM base-python\n",
    "bakegen.toml": """
[project]
registry = "ghcr.io/acme/pose-app"
tag = "dev"
source = "https://github.com/acme/pose-app"

[images]
"python:3.10-slim-bullseye" = "docker-image://mirror.local/python:3.10-slim-bullseye"

[targets.pose-service]
args = { HOSTILE = "say \\"hi\\" \\\\ ${HOME} %{x} \\n\\t é 😀 \\u0001" }
labels = { "com.example.note" = "50% of ${budget}" }
secrets = ["id=hf_token,env=HF_TOKEN"]
contexts = { smpl = "models/smpl" }
platforms = ["linux/amd64"]
""",
}
SAMPLE.update({f"{folder}/.dockerignore": IGNORE for folder in (
    "docker/base-python-pose", "docker/base-python", "docker/base-node", "pose-service",
    "backend", "web", "odd${HOME}dir")})
NAMES = ["backend", "base-node", "base-python", "base-python-pose", "odd__HOME_dir", "pose-service", "web"]
GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "sample-registry.hcl")


@pytest.fixture
def sample(tmp_path):
    return write_tree(tmp_path, SAMPLE)


def emit(root, backend=CacheBackend.REGISTRY) -> str:
    text = generate(root, cache=backend.value)
    (root / "docker-bake.hcl").write_text(text, encoding="utf-8")
    return text


def test_config_reads_the_hostile_arg(sample):
    assert load_project(sample).targets["pose-service"].args["HOSTILE"] == HOSTILE_ARG


def test_golden(sample):
    text = emit(sample)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        with open(GOLDEN, "w", encoding="utf-8") as f:
            f.write(text)
    with open(GOLDEN, encoding="utf-8") as f:
        assert text == f.read()


def test_deterministic(sample):
    assert emit(sample) == emit(sample)


def test_buildx_reads_what_the_model_intended(sample):
    emit(sample)
    printed = bake_print(sample, "default")
    assert printed["group"]["default"]["targets"] == NAMES
    targets = printed["target"]
    assert sorted(targets) == NAMES
    for name in NAMES:
        assert targets[name]["tags"] == [f"ghcr.io/acme/pose-app/{name.lower()}:dev"]
        assert targets[name]["labels"]["org.opencontainers.image.source"] == "https://github.com/acme/pose-app"
    pose = targets["pose-service"]
    assert pose["contexts"] == {"base-python-pose": "target:base-python-pose", "smpl": "models/smpl"}
    assert "target" not in pose  # the last stage, as `docker build` builds
    assert pose["args"] == {"HOSTILE": HOSTILE_ARG}
    assert pose["labels"]["com.example.note"] == "50% of ${budget}"
    assert pose["secret"] == ["id=hf_token,env=HF_TOKEN"]
    assert pose["platforms"] == ["linux/amd64"]
    assert targets["backend"]["contexts"] == {"base-node": "target:base-node"}
    assert targets["web"]["contexts"] == {"base-node": "target:base-node"}
    assert targets["base-python"]["contexts"] == {
        "python:3.10-slim-bullseye": "docker-image://mirror.local/python:3.10-slim-bullseye"
    }
    assert "contexts" not in targets["base-python-pose"]  # FROM ${CUDA} is upstream, no link
    assert targets["odd__HOME_dir"]["context"] == "odd${HOME}dir"
    assert targets["odd__HOME_dir"]["contexts"] == {"base-python": "target:base-python"}
    cache = "ghcr.io/acme/pose-app/build-cache:pose-service-main"
    assert pose["cache-from"] == [f"type=registry,ref={cache}"]  # branch == default: one ref
    assert "cache-to" not in pose  # writing the cache is CI's job, switched on there
    pose = bake_print(sample, "pose-service", env={"CACHE_EXPORT": "true"})["target"]["pose-service"]
    assert pose["cache-to"] == [
        f"type=registry,ref={cache},mode=max,compression=zstd,image-manifest=true,oci-mediatypes=true,ignore-error=true"
    ]
    groups = bake_print(sample, "bases", "services")["group"]
    assert groups["bases"]["targets"] == ["base-node", "base-python", "base-python-pose"]
    assert groups["services"]["targets"] == ["backend", "odd__HOME_dir", "pose-service", "web"]


def test_ci_overrides_through_the_environment(sample):
    emit(sample)
    env = {"REGISTRY": "GHCR.io/Acme/Pose-App", "TAG": "sha-1", "BRANCH": "Feature/New Model",
           "CACHE_EXPORT": "false", "REVISION": "abc123"}
    pose = bake_print(sample, "pose-service", env=env)["target"]["pose-service"]
    assert pose["tags"] == ["ghcr.io/acme/pose-app/pose-service:sha-1"]
    assert pose["cache-from"] == [
        "type=registry,ref=ghcr.io/acme/pose-app/build-cache:pose-service-feature-new-model",
        "type=registry,ref=ghcr.io/acme/pose-app/build-cache:pose-service-main",
    ]
    assert "cache-to" not in pose
    assert pose["labels"]["org.opencontainers.image.revision"] == "abc123"


def test_long_branch_names_keep_the_cache_tag_valid(sample):
    emit(sample)
    env = {"BRANCH": "x" * 300, "CACHE_EXPORT": "true"}
    pose = bake_print(sample, "pose-service", env=env)["target"]["pose-service"]
    tag = pose["cache-to"][0].split(",")[1].rsplit(":", 1)[1]
    assert len(tag) == 128 and tag.startswith("pose-service-xxx")


@pytest.mark.parametrize(
    ("backend", "cache_from", "cache_to"),
    [
        (CacheBackend.LOCAL, ["type=local,src=.buildx-cache/web"],
         ["type=local,dest=.buildx-cache/web.next,mode=max,compression=zstd"]),
        (CacheBackend.GHA, ["type=gha,scope=web"], ["type=gha,scope=web,mode=max,compression=zstd,ignore-error=true"]),
        (CacheBackend.INLINE, ["type=registry,ref=ghcr.io/acme/pose-app/web:dev"], ["type=inline"]),
        (CacheBackend.NONE, None, None),
    ],
)
def test_other_cache_backends(sample, backend, cache_from, cache_to):
    emit(sample, backend)
    web = bake_print(sample, "web", env={"CACHE_EXPORT": "true"})["target"]["web"]
    assert web.get("cache-from") == cache_from
    assert web.get("cache-to") == cache_to


def test_outputs_push_and_load_switched_by_variables(sample):
    emit(sample)
    web = bake_print(sample, "web")["target"]["web"]
    assert "output" not in web  # the driver's default: the docker driver loads, a builder of its own keeps
    pushed = bake_print(sample, "web", env={"PUSH": "true"})["target"]["web"]
    assert pushed["output"] == ["type=registry,oci-mediatypes=true,compression=zstd,force-compression=true"]
    both = bake_print(sample, "web", env={"PUSH": "true", "LOAD": "true"})["target"]["web"]
    assert both["output"] == [pushed["output"][0], "type=docker"]


def test_compression_from_config_reaches_cache_and_pushes(sample):
    with open(sample / "bakegen.toml", "a", encoding="utf-8") as f:
        f.write('\n[cache]\ncompression = "gzip"\ncompression_level = 6\n')
    emit(sample)
    web = bake_print(sample, "web", env={"PUSH": "true", "CACHE_EXPORT": "true"})["target"]["web"]
    assert web["output"] == ["type=registry,oci-mediatypes=true,compression=gzip,compression-level=6,"
                             "force-compression=true"]
    assert ",mode=max,compression=gzip,compression-level=6,image-manifest=true" in web["cache-to"][0]
    assert "force-compression" not in web["cache-to"][0]  # upstream layers are not recompressed at every export


def test_the_default_branch_slug_matches_what_bake_computes(sample):
    """Python and Go lowercase "İ" differently: the two cache refs must still be one."""
    with open(sample / "bakegen.toml", "a", encoding="utf-8") as f:
        f.write('\n[cache]\n')
    text = (sample / "bakegen.toml").read_text().replace("[project]\n", '[project]\ndefault_branch = "İx"\n', 1)
    (sample / "bakegen.toml").write_text(text)
    emit(sample)
    pose = bake_print(sample, "pose-service")["target"]["pose-service"]
    assert pose["cache-from"] == ["type=registry,ref=ghcr.io/acme/pose-app/build-cache:pose-service-ix"]


def test_the_library_entry_point_writes_what_emit_writes(sample):
    import bakegen

    text = bakegen.generate(sample, registry="ghcr.io/other", tag="v1")
    assert 'default = "ghcr.io/other"' in text and 'default = "v1"' in text
    assert bakegen.load(sample).targets.keys() == set(NAMES)
    with pytest.raises(bakegen.BakegenError, match="registry: 'https://x' is not a registry"):
        bakegen.generate(sample, registry="https://x")
    with pytest.raises(bakegen.BakegenError, match="cache: expected one of registry, local, gha, inline, none, got 's3'"):
        bakegen.generate(sample, cache="s3")
