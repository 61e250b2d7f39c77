"""`bakegen build --reuse --push` on a real BuildKit and the loopback registry: a target whose
inputs' digest names an image already pushed (`<image>:in-<digest>`) is not built, and a digest
moves exactly when BuildKit runs a step (issue 22's proof on the engine here).

On the e2e fixture and on a monorepo shaped like no other here (services whose sources are
`.txt` files, as `scripts/bench-texts` makes it), on the suite's own BuildKit 0.26 builder (it
pushes to the loopback registry). Seconds go to BAKEGEN_FIGURES for a person to read; what is
asserted is which targets were built and which steps ran."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import bakegen
from bakegen.bench.changes import appended
from bakegen.generate import generate
from bakegen.model import CacheBackend
from bakegen.run import registry

from ..helpers import write_tree
from .conftest import PREFIX, REGISTRY, Monorepo

pytestmark = [pytest.mark.engine]


@dataclass
class Shape:
    root: Path
    builder: str
    targets: set[str]
    service: str  # a file of one service's source
    base: str  # a base's Dockerfile
    built_on_base: set[str]  # that base and what is built on it
    not_on_fresh_base: set[str]  # targets whose steps the builder may hold from earlier builds


def texts(root: Path, builder: str, busybox: str) -> tuple[Shape, str]:
    """A monorepo bakegen's tests were not written against: a weighted base, two services of text."""
    prefix = f"{PREFIX}/texts-{uuid.uuid4().hex[:8]}"
    write_tree(root, {
        "docker/base/Dockerfile": f"FROM busybox:stable\nRUN head -c 20000000 /dev/urandom > /paper.bin && echo "
                                  f"{uuid.uuid4().hex} > /run-id\nRUN echo ink > /ink.txt\n",
        "poems/Dockerfile": "FROM base AS deps\nCOPY wanted.txt /deps/wanted.txt\nRUN sort /deps/wanted.txt > "
                            "/deps/sorted.txt\n\nFROM deps AS build\nCOPY verses/ /verses/\nRUN cat /verses/*.txt > "
                            "/book.txt\n\nFROM base AS runtime\nCOPY --from=deps /deps /deps\nCOPY --from=build "
                            "/book.txt /book.txt\nCMD [\"cat\", \"/book.txt\"]\n",
        "poems/wanted.txt": "rhyme\nmeter\n", "poems/verses/one.txt": "Roses are red\n",
        "letters/Dockerfile": "FROM base\nCOPY stamps.txt /stamps.txt\nRUN wc -l /stamps.txt > /count.txt\n"
                              "COPY letters/ /letters/\nCMD [\"ls\", \"/letters\"]\n",
        "letters/stamps.txt": "first class\n", "letters/letters/dear.txt": "Dear reader,\n",
        "bakegen.toml": f'[project]\nregistry = "{REGISTRY.replace("127.0.0.1", "localhost")}/{prefix}"\n'
                        f'source = "{PREFIX}"\n\n[images]\n"busybox:stable" = "{busybox}"\n',
    })
    (root / "docker-bake.hcl").write_text(generate(root), encoding="utf-8")
    return Shape(root, builder, {"base", "poems", "letters"}, "poems/verses/one.txt", "docker/base/Dockerfile",
                 {"base", "poems", "letters"}, set()), prefix


def reuse(shape: Shape):
    options = bakegen.BuildOptions(root=shape.root, builder=shape.builder, push=True, reuse=True)
    start = time.perf_counter()
    result = bakegen.build_reused(options)
    assert result.ok, result.build and result.build.calls[-1].result.error_line()
    return result, time.perf_counter() - start


def plain(shape: Shape):
    start = time.perf_counter()
    result = bakegen.build(bakegen.BuildOptions(root=shape.root, builder=shape.builder, push=True))
    assert result.ok, result.calls[-1].result.error_line()
    return result, time.perf_counter() - start


def built(result) -> set[str]:
    return {d.target for d in result.decisions if not d.reused}


def ran(result) -> set[str]:
    """The targets for which BuildKit ran at least one step."""
    if result.build is None:
        return set()
    return {target for call in result.build.calls for target, (executed, _) in call.per_target.items() if executed}


@pytest.fixture(scope="module", params=["fixture", "texts"])
def runs(request, engine, buildkit_builder, tmp_path_factory):
    env = buildkit_builder
    if request.param == "fixture":
        repo = Monorepo(tmp_path_factory.mktemp("reuse") / "repo", CacheBackend.REGISTRY, heavy_seconds=3, env=env)
        shape = Shape(repo.root, env.builder, {"base-heavy", "base-app", "api", "pose", "web"}, "pose/src/app.py",
                      "docker/base-app/Dockerfile", {"base-app", "pose"}, {"web"})
        address, prefix = REGISTRY, repo.repository_prefix
    else:
        shape, prefix = texts(tmp_path_factory.mktemp("texts") / "repo", env.builder, env.busybox)
        address = REGISTRY
    r: dict = {}
    try:
        r["cold"] = reuse(shape)
        r["nothing changed"] = reuse(shape)
        r["plain build, nothing changed"] = plain(shape)
        with appended(shape.root / shape.service, f"# a change {uuid.uuid4().hex}\n"):
            r["plain build, one service changed"] = plain(shape)
        with appended(shape.root / shape.service, f"# another change {uuid.uuid4().hex}\n"):
            r["one service changed"] = reuse(shape)
        with appended(shape.root / shape.base, f"RUN echo {uuid.uuid4().hex} > /changed.txt\n"):
            r["a base changed"] = reuse(shape)
        clone = tmp_path_factory.mktemp("clone") / "repo"
        shutil.copytree(shape.root, clone)
        r["digests"] = (bakegen.digest(bakegen.DigestOptions(root=shape.root)),
                        bakegen.digest(bakegen.DigestOptions(root=clone)))
        if os.environ.get("BAKEGEN_FIGURES"):
            figures = {name: round(seconds, 2) for name, (_, seconds) in r.items() if name != "digests"}
            with open(os.environ["BAKEGEN_FIGURES"], "a", encoding="utf-8") as f:
                f.write(json.dumps({"scenario": f"reuse-{request.param}", **figures}) + "\n")
        yield shape, r
    finally:
        if registry.reachable(address)[0]:
            registry.delete_repositories(address, prefix)


def test_the_first_build_builds_and_pushes_every_target(runs):
    shape, r = runs
    result, _ = r["cold"]
    assert built(result) == shape.targets
    assert ran(result) >= shape.targets - shape.not_on_fresh_base


def test_nothing_changed_builds_nothing_and_runs_no_buildkit_step(runs):
    _, r = runs
    result, _ = r["nothing changed"]
    assert built(result) == set() and result.build is None  # no bake call at all
    assert sorted(result.retagged) == sorted(f"{d.repository}:latest" for d in result.decisions)


def test_a_source_change_in_one_service_builds_only_that_service(runs):
    shape, r = runs
    result, _ = r["one service changed"]
    service = shape.service.split("/")[0]
    assert built(result) == {service}
    assert ran(result) == {service}  # its digest moved, and BuildKit ran its steps: nothing else


def test_a_base_change_builds_the_base_and_what_is_built_on_it(runs):
    shape, r = runs
    result, _ = r["a base changed"]
    assert built(result) == shape.built_on_base
    assert ran(result) == shape.built_on_base


def test_a_copy_of_the_repository_has_the_same_digests(runs):
    _, r = runs
    here, copy = r["digests"]
    assert {n: d.digest for n, d in here.digests.items()} == {n: d.digest for n, d in copy.digests.items()}
