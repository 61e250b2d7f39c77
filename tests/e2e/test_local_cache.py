"""The local cache backend through `bakegen build`: it works, and the folder does not grow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bakegen.bench.changes import appended
from bakegen.model import CacheBackend

from .conftest import Monorepo

pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


def folder_size(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bakegen_build(repo: Monorepo, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bakegen", "build", "-q", "--builder", repo.env.builder,
                           str(repo.root)], cwd=repo.root, capture_output=True, text=True, env={**os.environ, **env})


@pytest.fixture
def repo(engine, build_env, tmp_path):
    repo = Monorepo(tmp_path / "repo", CacheBackend.LOCAL, heavy_seconds=2, heavy_mb=20, env=build_env)
    yield repo
    repo.clean_up(engine)


def build_three_changes(repo: Monorepo) -> list[int]:
    """bakegen build with the cache written, then three code changes: the folder sizes."""
    cache = repo.root / ".buildx-cache"
    done = bakegen_build(repo, CACHE_EXPORT="true")
    assert done.returncode == 0, done.stderr
    assert "local cache rotated for 5 targets" in done.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["api", "base-app", "base-heavy", "pose", "web"]
    sizes = [folder_size(cache)]
    for i in range(3):  # each build writes changed layers; without rotation every old blob stays
        with appended(repo.root / "pose/src/app.py", f"# change {i}\n" + "x" * 200_000):
            done = bakegen_build(repo, CACHE_EXPORT="true")
            assert done.returncode == 0, done.stderr
        sizes.append(folder_size(cache))
    assert not list(cache.glob("*.next"))
    return sizes


def test_local_cache_stays_bounded(repo):
    sizes = build_three_changes(repo)
    assert max(sizes) <= sizes[0] * 1.05, sizes


@pytest.mark.parametrize("build_env", ["buildkit"], indirect=True)  # a builder the suite may empty
def test_local_cache_is_read_by_a_fresh_runner(engine, repo):
    build_three_changes(repo)
    repo.forget_everything(engine)
    with appended(repo.root / "pose/src/app.py", "# on a fresh runner\n"):
        fresh = repo.bake()
    assert fresh.ok, fresh.error_line()
    heavy = [s for s in fresh.steps if "dd if=/dev/urandom" in s.instruction]
    assert heavy and all(s.cached for s in heavy)
    assert {s.target for s in fresh.executed()} == {"pose"}
