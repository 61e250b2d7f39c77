"""`bakegen build --reuse --push` on a real BuildKit and the loopback registry: a target whose
inputs' digest names an image already pushed (`<image>:in-<digest>`) is not built, and a digest
moves exactly when BuildKit runs a step (issue 22's proof on the engine here).

On the suite's own BuildKit 0.26 builder (it pushes to the loopback registry). Seconds go to
BAKEGEN_FIGURES for a person to read; what is asserted is which targets were built and which
steps ran."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import bakegen
from bakegen.bench.changes import appended
from bakegen.model import CacheBackend

from .conftest import Monorepo

pytestmark = [pytest.mark.engine]
TARGETS = {"base-heavy", "base-app", "api", "pose", "web"}


def reuse(repo: Monorepo):
    options = bakegen.BuildOptions(root=repo.root, builder=repo.env.builder, push=True, reuse=True)
    start = time.perf_counter()
    result = bakegen.build_reused(options)
    assert result.ok, result.build and result.build.calls[-1].result.error_line()
    return result, time.perf_counter() - start


def built(result) -> set[str]:
    return {d.target for d in result.decisions if not d.reused}


def ran(result) -> set[str]:
    """The targets for which BuildKit ran at least one step."""
    if result.build is None:
        return set()
    return {target for call in result.build.calls for target, (executed, _) in call.per_target.items() if executed}


@pytest.fixture(scope="module")
def runs(engine, buildkit_builder, tmp_path_factory):
    repo = Monorepo(tmp_path_factory.mktemp("reuse") / "repo", CacheBackend.REGISTRY, heavy_seconds=3,
                    env=buildkit_builder)
    r: dict = {}
    try:
        r["cold"] = reuse(repo)
        r["nothing changed"] = reuse(repo)
        start = time.perf_counter()  # plain `bakegen build --push` of the same tree, side by side
        plain = bakegen.build(bakegen.BuildOptions(root=repo.root, builder=repo.env.builder, push=True))
        assert plain.ok
        r["plain build, nothing changed"] = (plain, time.perf_counter() - start)
        with appended(repo.root / "pose/src/app.py", "# a code change\n"):
            r["one service changed"] = reuse(repo)
        with appended(repo.root / "docker/base-app/Dockerfile", "RUN echo changed > /changed.txt\n"):
            r["a base changed"] = reuse(repo)
        clone = tmp_path_factory.mktemp("clone") / "repo"
        shutil.copytree(repo.root, clone)
        r["digests"] = (bakegen.digest(bakegen.DigestOptions(root=repo.root)),
                        bakegen.digest(bakegen.DigestOptions(root=clone)))
        if os.environ.get("BAKEGEN_FIGURES"):
            figures = {name: round(seconds, 2) for name, (_, seconds) in r.items() if name != "digests"}
            with open(os.environ["BAKEGEN_FIGURES"], "a", encoding="utf-8") as f:
                f.write(json.dumps({"scenario": "reuse", **figures}) + "\n")
        yield repo, r
    finally:
        repo.clean_up(engine)


def test_the_first_build_builds_and_pushes_every_target(runs):
    _, r = runs
    result, _ = r["cold"]
    assert built(result) == TARGETS
    # web does not build on this run's fresh base: its steps may come from the builder's earlier builds
    assert ran(result) >= TARGETS - {"web"}


def test_nothing_changed_builds_nothing_and_runs_no_buildkit_step(runs):
    _, r = runs
    result, _ = r["nothing changed"]
    assert built(result) == set() and result.build is None  # no bake call at all
    assert sorted(result.retagged) == sorted(f"{d.repository}:latest" for d in result.decisions)


def test_a_source_change_in_one_service_builds_only_that_service(runs):
    _, r = runs
    result, _ = r["one service changed"]
    assert built(result) == {"pose"}
    assert ran(result) == {"pose"}  # its digest moved, and BuildKit ran its steps: nothing else


def test_a_base_change_builds_the_base_and_what_is_built_on_it(runs):
    _, r = runs
    result, _ = r["a base changed"]
    assert built(result) == {"base-app", "pose"}
    assert ran(result) == {"base-app", "pose"}


def test_a_copy_of_the_repository_has_the_same_digests(runs):
    _, r = runs
    here, copy = r["digests"]
    assert {n: d.digest for n, d in here.digests.items()} == {n: d.digest for n, d in copy.digests.items()}
