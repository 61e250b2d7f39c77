"""Shared helpers for tests: writing trees, running the real buildx."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import pytest

from bakegen import command
from bakegen.dockerignore import RECOMMENDED
from bakegen.render import BAKE_FILE
from bakegen.run.engine import buildx_version

REQUIRE_ENGINE = os.environ.get("BAKEGEN_REQUIRE_ENGINE") == "1" or os.environ.get("CI") == "true"
ENGINE_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "engine"


def parse_engine_facts(line: str) -> dict[str, str]:
    """`store=classic kind=rootless version=27.3.1` as a dict."""
    return dict(pair.split("=", 1) for pair in line.split() if "=" in pair)


@functools.cache
def engine_facts() -> dict[str, str]:
    """What `scripts/engine describe` says of the engine that answers (store, kind, version): the
    script is the one place that reads `docker info` for this; {} when no engine answers."""
    done = subprocess.run([str(ENGINE_SCRIPT), "describe"], capture_output=True, text=True, timeout=60)
    return parse_engine_facts(done.stdout) if done.returncode == 0 else {}


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
        files[f"docker/base-{b}/.dockerignore"] = "\n".join(RECOMMENDED) + "\n"
    for s in range(services):
        base = f"base-{s % bases}"
        files[f"services/svc-{s}/Dockerfile"] = (
            f"FROM {base} AS deps\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
            "FROM deps AS build\nCOPY . /src\n"
            f"FROM {base} AS runtime\nCOPY --from=build /src /app\n"
        )
        files[f"services/svc-{s}/.dockerignore"] = files["docker/base-0/.dockerignore"]
        files[f"services/svc-{s}/requirements.txt"] = "flask\n"
    return write_tree(root, files)


@functools.cache
def buildx_available() -> bool:
    return buildx_version() is not None


def need_buildx() -> None:
    """Skip locally, fail in CI: tests that need buildx must run there."""
    if buildx_available():
        return
    message = "docker buildx is not installed; run `scripts/engine buildx` (or `scripts/engine start`)"
    if REQUIRE_ENGINE:
        pytest.fail(message)
    pytest.skip(message)


def print_bake(folder: Path, targets=(), *, env: dict[str, str] | None = None) -> dict:
    """What buildx itself reads from the bake file: `docker buildx bake --print` as JSON."""
    done = command.run(["docker", "buildx", "bake", "-f", BAKE_FILE, "--print", *targets], cwd=folder, env=env)
    return json.loads(done.stdout)


def bake_print(folder: Path, *targets: str, env: dict[str, str] | None = None) -> dict:
    """What the real `docker buildx bake --print` makes of the bake file in `folder`."""
    need_buildx()
    return print_bake(folder, targets, env=env)
