"""Cost of `bakegen digest` on one service whose context sends 10 to 5,000 files (pytest-benchmark;
figures, never pass/fail on time). Every file's bytes are read and hashed, so the figure grows
with the files' count and size; each run reads the files again (nothing is cached between runs).
Run the figures with: pytest tests/test_digest_bench.py --benchmark-enable -s
"""

from __future__ import annotations

import pytest

from bakegen.digest import digests
from bakegen.generate import load

from .helpers import write_tree

SIZES = [10, 100, 1000, 5000]


@pytest.fixture(scope="module", params=SIZES)
def context(request, tmp_path_factory):
    """A base and a service whose context holds `n` source files of 2 KB in folders of 50."""
    root = write_tree(tmp_path_factory.mktemp(f"ctx{request.param}"), {
        "docker/base/Dockerfile": "FROM python:3.10-slim\nRUN echo base\n",
        "svc/Dockerfile": "FROM base\nCOPY . /app\n",
        "svc/.dockerignore": "*.log\n",
    })
    for i in range(request.param):
        path = root / "svc" / f"pkg{i // 50}" / f"mod{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"# module {i}\n" + "x = 1\n" * 340)
    return request.param, root


def test_digest_speed(benchmark, context):
    _, root = context
    project = load(root)
    found = benchmark(digests, project)
    assert set(found) == {"base", "svc"}


def test_digest_speed_with_load(benchmark, context):
    """What `bakegen digest` does after start-up: read the repository, then hash."""
    _, root = context
    found = benchmark(lambda: digests(load(root)))
    assert found["svc"].digest.startswith("sha256:")
