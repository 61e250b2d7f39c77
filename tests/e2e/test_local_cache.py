"""The local cache backend through `bakegen build`: it works, and the folder does not grow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bakegen.model import CacheBackend
from bakegen.run.bake import run_bake
from bakegen.run.scenario import appended, forget_everything

from .conftest import Monorepo

pytestmark = pytest.mark.engine


def folder_size(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bakegen_build(root, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bakegen", "build", "-q", str(root)], cwd=root,
                          capture_output=True, text=True, env={**os.environ, **env})


def test_local_cache_is_read_after_a_prune_and_stays_bounded(engine, tmp_path):
    repo = Monorepo(tmp_path / "repo", CacheBackend.LOCAL, heavy_seconds=2, heavy_mb=20)
    cache = repo.root / ".buildx-cache"
    done = bakegen_build(repo.root, CACHE_EXPORT="true")
    assert done.returncode == 0, done.stderr
    assert "local cache rotated for 5 targets" in done.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["api", "base-app", "base-heavy", "pose", "web"]
    sizes = [folder_size(cache)]
    for i in range(3):  # each build writes changed layers; without rotation every old blob stays
        with appended(repo.root / "pose/src/app.py", f"# change {i}\n" + "x" * 200_000):
            done = bakegen_build(repo.root, CACHE_EXPORT="true")
            assert done.returncode == 0, done.stderr
        sizes.append(folder_size(cache))
    assert max(sizes) <= sizes[0] * 1.05, sizes
    assert not list(cache.glob("*.next"))

    forget_everything(engine, repo.images)
    with appended(repo.root / "pose/src/app.py", "# on a fresh runner\n"):
        fresh = run_bake(repo.root)
    assert fresh.ok, fresh.error_line()
    heavy = [s for s in fresh.steps if "dd if=/dev/urandom" in s.instruction]
    assert heavy and all(s.cached for s in heavy)
    assert {s.target for s in fresh.executed()} == {"pose"}
