"""scripts/gpu-smoke (the workflow's GPU smoke test) where there is no GPU: it says so plainly,
measures nothing and exits 2. The GPU path runs on the self-hosted GPU runner only."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.engine


def test_without_a_gpu_runtime_nothing_is_measured_or_faked(engine):
    if "nvidia" in (engine.info().get("Runtimes") or {}):
        pytest.skip("this machine has a GPU runtime: the no-GPU path does not apply")
    done = subprocess.run([str(ROOT / "scripts/gpu-smoke"), "local/busybox:latest"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "no GPU runtime on this machine (nvidia container toolkit): nothing measured" in done.stderr
    assert "ready after" not in done.stdout + done.stderr
