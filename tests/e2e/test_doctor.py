"""`bakegen doctor` on the engine the suite runs on: every check bake needs passes for real."""

import subprocess
import sys

import pytest

from .conftest import REGISTRY

pytestmark = pytest.mark.engine


def test_doctor_reports_a_working_engine(engine):
    done = subprocess.run([sys.executable, "-m", "bakegen", "doctor", "--registry", REGISTRY],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("engine", "buildx", "builder", "image store", "named contexts (target:)", "cache export",
                 f"registry {REGISTRY}"):
        assert any(line.startswith(f"ok   {name}:") for line in lines), (name, done.stdout)
    # No GPU on these machines: said plainly, and not a failure.
    assert any(line.startswith(("MISS GPU runtime", "ok   GPU runtime")) for line in lines)
