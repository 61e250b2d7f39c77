"""This repository as bakegen's first user: its bake file, Dockerfiles, compose files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest
import yaml

from bakegen.advice import project_warnings
from bakegen.config import load_project
from bakegen.dockerfile import read_dockerfile

from .helpers import bake_print, need_buildx

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("**/Dockerfile")
                     if "node_modules" not in p.parts and "tests" not in p.parts)


def test_the_repository_has_the_expected_targets():
    project = load_project(ROOT)
    assert sorted(project.targets) == ["backend", "base-node", "base-python", "base-python-pose", "pose-service", "web"]
    assert project_warnings(project) == []  # every context has a complete .dockerignore


def test_committed_bake_file_is_current():
    done = subprocess.run([sys.executable, "-m", "bakegen", "emit", "--check", str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_buildx_links_each_service_to_its_base():
    targets = bake_print(ROOT, "default")["target"]
    assert targets["pose-service"]["contexts"] == {"base-python-pose": "target:base-python-pose", "smpl": "models/smpl"}
    assert targets["backend"]["contexts"] == {"base-node": "target:base-node"}
    assert targets["web"]["contexts"] == {"base-node": "target:base-node"}
    for name in ("pose-service", "backend", "web", "base-python-pose"):  # runtime, the last stage (named or not)
        assert targets[name].get("target", "runtime") == "runtime"
        file = ROOT / targets[name]["context"] / targets[name].get("dockerfile", "Dockerfile")
        assert read_dockerfile(file).stages[-1].name == "runtime"


@pytest.mark.parametrize("path", DOCKERFILES)
def test_dockerfile_parses_with_buildkit_and_bakegen_agrees(path):
    commands = dockerfile.parse_file(str(ROOT / path))  # BuildKit's own Go parser
    froms = [c.value for c in commands if c.cmd.upper() == "FROM"]
    ours = read_dockerfile(ROOT / path).stages
    assert [(v[0], v[2] if len(v) == 3 else None) for v in froms] == [(s.image, s.name) for s in ours]


@pytest.mark.parametrize("path", DOCKERFILES)
def test_hadolint_finds_nothing(path):
    hadolint = Path(sys.executable).with_name("hadolint")
    done = subprocess.run([str(hadolint), "--no-color", "--failure-threshold", "info", path], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_runtime_stages_hold_no_compilers_or_tests():
    for path in DOCKERFILES:
        text = (ROOT / path).read_text()
        runtime = text.split(" AS runtime", 1)[-1] if " AS runtime" in text else ""
        for word in ("build-essential", "g++", "gcc", "nvcc", "-devel"):
            assert word not in runtime, f"{path}: runtime stage mentions {word}"
    for folder in ("pose-service", "backend", "web"):
        ignored = (ROOT / folder / ".dockerignore").read_text().split()
        assert "tests/" in ignored or "test/" in ignored, folder


def compose_config(*files: str) -> dict:
    need_buildx()  # the compose plugin comes with the same engine install
    args = [arg for f in files for arg in ("-f", f)]
    done = subprocess.run(["docker", "compose", *args, "config", "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compose_files_are_valid_and_use_the_bake_tags():
    config = compose_config("docker-compose.yml")
    printed = bake_print(ROOT, "services")["target"]  # also lists the bases the services link to
    assert {name: s["image"] for name, s in config["services"].items()} == {
        name: printed[name]["tags"][0] for name in ("pose-service", "backend", "web")
    }
    pose = config["services"]["pose-service"]
    devices = pose["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    others = [s for name, s in config["services"].items() if name != "pose-service"]
    assert all("deploy" not in s for s in others)  # the GPU is the pose service's alone
    assert all("healthcheck" in s for s in config["services"].values())
    assert set(config["volumes"]) == {"model-cache", "uploads"}
    contexts = {name: s["build"]["context"] for name, s in config["services"].items()}
    assert len(set(contexts.values())) == len(contexts)  # no shared build contexts
    dev = compose_config("docker-compose.yml", "docker-compose.dev.yml")
    assert dev["services"]["backend"]["command"] == ["node", "--watch", "src/server.js"]


def test_compose_override_is_not_picked_up_unasked():
    # compose reads docker-compose.override.yml and bake merges compose files it finds: the dev
    # override has a name neither picks up.
    assert not (ROOT / "docker-compose.override.yml").exists()
    assert yaml.safe_load((ROOT / "docker-compose.dev.yml").read_text())["services"]
