"""emit answers "current" without reading anything only when nothing it reads has changed
(bakegen/reads.py): every kind of change below makes the next emit do the work again, and what
it writes is what a fresh emit writes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

import bakegen
from bakegen import reads
from bakegen.generate import generate
from bakegen.render import BAKE_FILE

from .helpers import write_tree

REPO = {
    "docker/base/Dockerfile": "FROM python:3.11-slim\nRUN pip install flask\n",
    "api/Dockerfile": "FROM base\nCOPY app.py /app/\nCOPY dist/ /app/dist/\n",
    "api/app.py": "print('hi')\n",
    ".gitignore": "dist/\n",
}


def emit(root: Path, **options) -> str:
    return bakegen.emit(bakegen.EmitOptions(root=root, **options)).outcome


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setattr(reads, "RACY_NS", 0)  # the files were made just now; the racy rule has its own test
    root = write_tree(tmp_path / "repo", REPO)
    assert emit(root) == "written"
    assert emit(root) == "current"  # nothing changed: answered from the stamp
    return root


def same_as_fresh(root: Path) -> None:
    assert (root / BAKE_FILE).read_text() == generate(root)


CHANGES = {
    "Dockerfile content, same size": lambda r: (r / "api/Dockerfile").write_text(
        REPO["api/Dockerfile"].replace("app.py", "app.pz")),
    "a new Dockerfile": lambda r: write_tree(r, {"web/Dockerfile": "FROM base\n"}),
    "a new .dockerignore beside a Dockerfile": lambda r: write_tree(r, {"api/.dockerignore": "*.md\n"}),
    "bakegen.toml made": lambda r: write_tree(r, {"bakegen.toml": '[project]\nregistry = "ghcr.io/x/y"\n'}),
    ".gitignore changed": lambda r: (r / ".gitignore").write_text("build/\n"),
    "a COPY source made in an ignored folder": lambda r: write_tree(r, {"api/dist/a.js": "x"}),
    "a compose file made": lambda r: write_tree(r, {"compose.yaml": "services:\n  api:\n    build: ./api\n"}),
    "the bake file edited by hand": lambda r: (r / BAKE_FILE).write_text((r / BAKE_FILE).read_text() + "\n"),
    "a folder of Dockerfiles renamed": lambda r: os.rename(r / "docker", r / "images"),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_every_change_to_what_emit_reads_makes_it_read_again(repo, change):
    CHANGES[change](repo)
    assert emit(repo, force=True) == "written"
    same_as_fresh(repo)
    assert emit(repo) == "current"


def test_other_options_are_another_answer(repo):
    assert emit(repo, registry="ghcr.io/acme/app") == "written"
    assert 'default = "ghcr.io/acme/app"' in (repo / BAKE_FILE).read_text()
    assert emit(repo) == "written"  # the default registry again: the file on disk was the other one
    same_as_fresh(repo)


def test_a_config_outside_the_repository_is_read_again_when_it_changes(repo, tmp_path):
    config = write_tree(tmp_path, {"elsewhere.toml": '[project]\ntag = "one"\n'}) / "elsewhere.toml"
    assert emit(repo, config=config) == "written"
    assert emit(repo, config=config) == "current"
    config.write_text('[project]\ntag = "two"\n')
    assert emit(repo, config=config) == "written"
    assert 'default = "two"' in (repo / BAKE_FILE).read_text()


def test_the_origin_remote_is_read_again_when_it_changes(repo):
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "https://github.com/acme/one.git"], check=True)
    assert emit(repo) == "written"
    assert emit(repo) == "current"
    subprocess.run(["git", "-C", str(repo), "remote", "set-url", "origin", "https://github.com/acme/two.git"],
                   check=True)
    assert emit(repo) == "written"
    assert "ghcr.io/acme/two" in (repo / BAKE_FILE).read_text()


def test_a_new_bakegen_is_never_answered_by_an_old_stamp(repo, monkeypatch):
    monkeypatch.setattr(reads, "_code", lambda: ["another bakegen"])
    assert emit(repo) == "written"


def test_files_changed_within_the_clock_resolution_keep_no_stamp(tmp_path):
    root = write_tree(tmp_path / "fresh", REPO)  # just made: within two seconds of the emit
    assert emit(root) == "written"
    assert emit(root) == "written"
    past = time.time() - 10
    for path in [*root.rglob("*"), root]:
        os.utime(path, (past, past))  # the change time stays now: still too fresh to trust
    assert emit(root) == "written"


def test_the_cli_answers_current_before_reading_and_repeats_the_warnings(repo):
    from click.testing import CliRunner

    from bakegen.cli import main

    first = CliRunner().invoke(main, ["emit", str(repo), "--force"])
    again = CliRunner().invoke(main, ["emit", str(repo)])
    assert first.exit_code == again.exit_code == 0
    assert "is current (nothing it reads changed)" in again.stderr
    warnings = [line for line in first.stderr.splitlines() if "warning" in line]
    assert warnings and warnings == [line for line in again.stderr.splitlines() if "warning" in line]
