"""A service of a public monorepo's shape, built for real: cookiecutter-django's postgres image
is built from the repository root (its compose file says `context: .`), so its COPY of
./compose/production/postgres/maintenance only works with the context bakegen chose."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from bakegen import generate
from bakegen.render import BAKE_FILE
from bakegen.run.bake import run_bake

from ..helpers import print_bake
from .conftest import BUSYBOX_IMAGE, PREFIX

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "cookiecutter-django"
pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


def test_a_root_context_service_builds_with_the_context_its_compose_file_gives(engine, docker_builder, tmp_path):
    root = tmp_path / "cookiecutter-django"
    shutil.copytree(FIXTURE, root)
    run_id = uuid.uuid4().hex[:8]
    registry = f"localhost:5000/{PREFIX}/real-{run_id}"
    # A file new to this run: the COPY cannot come from an earlier run's cache.
    (root / f"compose/production/postgres/maintenance/run-{run_id}").write_text("")
    (root / "bakegen.toml").write_text(f"""
[project]
registry = "{registry}"
source = "{PREFIX}"

[images]
"docker.io/postgres:16" = "docker-image://{BUSYBOX_IMAGE}"
""")
    (root / BAKE_FILE).write_text(generate(root), encoding="utf-8")
    result = run_bake(root, ["postgres"], builder=docker_builder.builder)
    assert result.ok, result.error_line()
    copies = [s for s in result.steps if s.instruction.startswith("COPY ./compose/production/postgres/maintenance")]
    assert len(copies) == 1 and copies[0].ran, result.steps
    image = print_bake(root, ["postgres"])["target"]["postgres"]["tags"][0]  # the compose file's `image:`
    listing = subprocess.run(["docker", "run", "--rm", image, "ls", "/usr/local/bin/maintenance"],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split() == ["backup", f"run-{run_id}"]
