"""git tells the truth or bakegen says it cannot: submodules count as changes, a refused or
missing git is one line, and emit says when its git-derived defaults are fallbacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .helpers import write_tree

IDENTITY = ["-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "protocol.file.allow=always"]


@pytest.fixture(autouse=True)
def plain_git(monkeypatch, tmp_path):
    """No global or system git config of the machine (a `safe.directory = *` would hide a refusal)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *IDENTITY, *args], check=True, capture_output=True, text=True)


def bakegen(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bakegen", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def with_submodule(tmp_path):
    """A repository whose service `svc` copies a submodule `svc/lib`, and a service `other`."""
    lib = write_tree(tmp_path / "lib", {"a.txt": "a\n"})
    git(lib, "init", "-q")
    git(lib, "add", ".")
    git(lib, "commit", "-qm", "a")
    repo = write_tree(tmp_path / "repo", {
        "svc/Dockerfile": "FROM alpine\nCOPY . /app\n",
        "other/Dockerfile": "FROM alpine\nCOPY . /app\n",
    })
    git(repo, "init", "-q")
    git(repo, "submodule", "add", "-q", str(lib), "svc/lib")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    return repo


def affected(repo):
    done = bakegen("affected", "--since", "HEAD", str(repo))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_submodule_moved_to_another_commit_affects_its_folder(with_submodule):
    sub = with_submodule / "svc/lib"
    assert affected(with_submodule) == []
    (sub / "b.txt").write_text("b\n")
    git(sub, "add", ".")
    git(sub, "commit", "-qm", "b")
    assert affected(with_submodule) == ["svc"]


def test_a_dirty_submodule_affects_its_folder_even_when_gitmodules_says_ignore(with_submodule):
    # A repository may ask git to hide its submodules' changes (`ignore = all`): bakegen still sees them.
    git(with_submodule, "config", "-f", ".gitmodules", "submodule.svc/lib.ignore", "all")
    git(with_submodule, "commit", "-qam", "ignore")
    (with_submodule / "svc/lib/untracked.txt").write_text("new\n")
    assert affected(with_submodule) == ["svc"]
    (with_submodule / "svc/lib/untracked.txt").unlink()
    (with_submodule / "svc/lib/a.txt").write_text("changed\n")
    assert affected(with_submodule) == ["svc"]


@pytest.fixture
def foreign_repo(tmp_path):
    """A clone owned by another user, which git refuses to read (`safe.directory`)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the clone to another user")  # CI runs as root
    repo = write_tree(tmp_path / "foreign", {"web/Dockerfile": "FROM alpine\n"})
    git(repo, "init", "-q", "-b", "trunk")
    git(repo, "remote", "add", "origin", "https://github.com/Acme/Shop.git")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    for folder, _, files in os.walk(repo):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            os.lchown(name, 65534, 65534)
    return repo


def test_a_refused_repository_fails_the_commands_that_need_git_in_one_line(foreign_repo):
    for args in (["affected", "--since", "HEAD", str(foreign_repo)], ["impact", "--since", "HEAD", "-C", str(foreign_repo)]):
        done = bakegen(*args)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "owned by another user" in done.stderr
        assert f"git config --global --add safe.directory {foreign_repo}" in done.stderr


def test_emit_on_a_refused_repository_warns_that_its_defaults_are_fallbacks(foreign_repo, tmp_path):
    done = bakegen("emit", "-o", "-", str(foreign_repo))
    assert done.returncode == 0, done.stderr
    assert 'default = "localhost:5000/app"' in done.stdout  # what git would have said is unknown
    warning = [line for line in done.stderr.splitlines() if "git could not be read" in line]
    assert len(warning) == 1 and "safe.directory" in warning[0]
    # Once the user trusts it, the real defaults come back and the warning goes.
    (tmp_path / "no-global-config").write_text(f"[safe]\n\tdirectory = {foreign_repo}\n")
    trusted = bakegen("emit", "-o", "-", str(foreign_repo))
    assert 'default = "ghcr.io/acme/shop"' in trusted.stdout
    assert "git could not be read" not in trusted.stderr


def test_a_missing_git_is_one_line_for_affected_and_a_warning_for_emit(with_submodule, tmp_path):
    no_git = {"PATH": str(tmp_path / "empty-bin")}  # python runs by its full path; git is not found
    done = bakegen("affected", "--since", "HEAD", str(with_submodule), env=no_git)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "git: not found" in done.stderr
    emitted = bakegen("emit", "-o", "-", str(with_submodule), env=no_git)
    assert emitted.returncode == 0, emitted.stderr
    assert "git could not be read" in emitted.stderr


def test_a_folder_that_is_no_repository_gets_the_fallbacks_without_a_warning(tmp_path):
    root = write_tree(tmp_path / "plain", {"web/Dockerfile": "FROM alpine\n"})
    done = bakegen("emit", "-o", "-", str(root))
    assert done.returncode == 0 and "git could not be read" not in done.stderr
    bad = bakegen("affected", "--since", "HEAD", str(root))
    assert bad.returncode == 2 and "not a git repository" in bad.stderr, bad.stderr
