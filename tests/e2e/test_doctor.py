"""`bakegen doctor` on the builders the suite runs on: every check bake needs passes for real."""

import subprocess
import sys

import pytest

from .conftest import REGISTRY

pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


def test_doctor_reports_a_working_engine_and_builder(build_env):
    done = subprocess.run([sys.executable, "-m", "bakegen", "doctor", "--registry", REGISTRY,
                           "--builder", build_env.builder], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("engine", "buildx", "builder", "image store", "named contexts (target:)", "cache export",
                 f"registry {REGISTRY}"):
        assert any(line.startswith(f"ok   {name}:") for line in lines), (name, done.stdout)
    builder = next(line for line in lines if line.startswith("ok   builder:"))
    if build_env.kind == "buildkit":
        assert "(remote driver), BuildKit v0.26.3" in builder
        assert any(line.startswith("ok   gha cache: BuildKit v0.26.3") for line in lines)
    else:
        assert "(docker driver)" in builder
        assert any(line.startswith("MISS gha cache: needs BuildKit 0.20+") for line in lines)  # said, not fatal
    # No GPU on these machines: said plainly, and not a failure.
    assert any(line.startswith(("MISS GPU runtime", "ok   GPU runtime")) for line in lines)


def test_doctor_names_a_missing_builder(engine):
    done = subprocess.run([sys.executable, "-m", "bakegen", "doctor", "--builder", "no-such-builder-xyz"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert "MISS builder: no builder no-such-builder-xyz" in done.stdout
    assert "bakegen builder up --name no-such-builder-xyz" in done.stdout
