"""The Node parts' own tests (node's test runner), and the web frontend's real Vite build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def node_or_fail() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the backend and web tests need Node.js 18+")
    return node


@pytest.mark.parametrize("folder", ["backend", "web"])
def test_node_test_runner(folder):
    done = subprocess.run([node_or_fail(), "--test", "test/"], cwd=ROOT / folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_web_builds_with_vite(tmp_path):
    node_or_fail()
    web = ROOT / "web"
    if not (web / "node_modules" / ".bin" / "vite").exists():
        install = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=web, capture_output=True, text=True)
        assert install.returncode == 0, install.stderr[-2000:]
    out = tmp_path / "dist"
    done = subprocess.run(["npx", "vite", "build", "--outDir", str(out), "--emptyOutDir"], cwd=web,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (out / "index.html").read_text()
    scripts = list((out / "assets").glob("index-*.js"))
    assert scripts and scripts[0].name in html
    assert "toDrawing" not in html and "/api/pose" in scripts[0].read_text()
