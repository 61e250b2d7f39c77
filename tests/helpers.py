"""Shared helpers for tests: writing trees, running the real buildx."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRE_ENGINE = os.environ.get("BAKEGEN_REQUIRE_ENGINE") == "1" or os.environ.get("CI") == "true"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def make_monorepo(root: Path, services: int, bases: int = 2) -> Path:
    """A monorepo of `bases` base images and `services` three-stage services built on them."""
    files = {}
    for b in range(bases):
        files[f"docker/base-{b}/Dockerfile"] = "FROM debian:bookworm-slim\nRUN echo base\n"
        files[f"docker/base-{b}/.dockerignore"] = "\n".join(
            ["node_modules/", "__pycache__/", ".git/", ".gitignore", ".env", "*.log", "data/",
             "*.pkl", ".venv/", "venv/", "dist/", "build/"]) + "\n"
    for s in range(services):
        base = f"base-{s % bases}"
        files[f"services/svc-{s}/Dockerfile"] = (
            f"FROM {base} AS deps\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
            "FROM deps AS build\nCOPY . /src\n"
            f"FROM {base} AS runtime\nCOPY --from=build /src /app\n"
        )
        files[f"services/svc-{s}/.dockerignore"] = files["docker/base-0/.dockerignore"]
    return write_tree(root, files)


def buildx_available() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True)
    return done.returncode == 0


def need_buildx() -> None:
    """Skip locally, fail in CI: tests that need buildx must run there."""
    if buildx_available():
        return
    message = "docker buildx is not installed; run `scripts/engine buildx` (or `scripts/engine start`)"
    if REQUIRE_ENGINE:
        pytest.fail(message)
    pytest.skip(message)


def bake_print(folder: Path, *targets: str, env: dict[str, str] | None = None) -> dict:
    """What the real `docker buildx bake --print` makes of the bake file in `folder`."""
    need_buildx()
    done = subprocess.run(
        ["docker", "buildx", "bake", "-f", "docker-bake.hcl", "--print", *targets],
        cwd=folder, capture_output=True, text=True, env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
