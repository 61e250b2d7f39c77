"""`bakegen digest`: each kind of input changes exactly the digests it must (and an ignored file
none); the same digests in another copy of the repository; symlinks as links; big files streamed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakegen.cli.main import main
from bakegen.digest import digests, folder_digest
from bakegen.dockerignore import parse
from bakegen.generate import load
from tests.helpers import write_tree

LOCKED = "sha256:" + "1" * 64
MOVED = "sha256:" + "2" * 64


def monorepo(root: Path) -> Path:
    """A base on an upstream image, a two-stage service on that base, and an unrelated service."""
    write_tree(root, {
        "docker/base/Dockerfile": "ARG PY=3.10\nFROM python:${PY}-slim\nRUN echo base\n",
        "svc/Dockerfile": "FROM base AS build\nCOPY . /src\n# a comment\nFROM base AS runtime\n"
                          "COPY --from=build /src /app\nRUN echo run\n",
        "svc/.dockerignore": "*.log\nDockerfile\n",  # the Dockerfile is read as instructions only
        "svc/app.py": "print(1)\n",
        "svc/lib/util.py": "X = 1\n",
        "other/Dockerfile": "FROM node:18\nCOPY . /x\n",
        "other/index.js": "1\n",
    })
    return root


def all_digests(root: Path) -> dict[str, str]:
    return {name: d.digest for name, d in digests(load(root)).items()}


def _append(path: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        with (root / path).open("a", encoding="utf-8") as f:
            f.write(text)
    return change


def _write(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: write_tree(root, {path: text}) and None


def _chmod(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).chmod(0o755)


CHANGES: list[tuple[str, Callable[[Path], None], set[str]]] = [
    ("file content", _append("svc/app.py", "print(2)\n"), {"svc"}),
    ("file in a subfolder", _append("svc/lib/util.py", "Y = 2\n"), {"svc"}),
    ("mode (executable bit)", _chmod("svc/app.py"), {"svc"}),
    ("a new file the context sends", _write("svc/new.py", ""), {"svc"}),
    ("an empty new folder the context sends", lambda root: (root / "svc/empty").mkdir(), {"svc"}),
    ("a file the ignore file drops", _write("svc/debug.log", "noise\n"), set()),
    ("a file outside every context", _write("notes/readme.md", "x\n"), set()),
    ("the ignore file itself (sent, as COPY . copies it)", _append("svc/.dockerignore", "*.tmp\n"), {"svc"}),
    ("the ignore file, dropping a sent file", _append("svc/.dockerignore", "lib/\n"), {"svc"}),
    ("build arg", _write("bakegen.toml", '[targets.svc]\nargs = { MODE = "fast" }\n'), {"svc"}),
    ("build arg of a base", _write("bakegen.toml", '[targets.base]\nargs = { PY = "3.11" }\n'), {"base", "svc"}),
    ("Dockerfile line", _append("svc/Dockerfile", "RUN echo more\n"), {"svc"}),
    ("Dockerfile comment only", _append("svc/Dockerfile", "# nothing to build\n"), set()),
    ("stage", _write("bakegen.toml", '[targets.svc]\nstage = "build"\n'), {"svc"}),
    ("linked base", _append("docker/base/Dockerfile", "RUN echo base2\n"), {"base", "svc"}),
    ("upstream digest locked", _write("bakegen.lock", f'[images]\n"python:3.10-slim" = "{LOCKED}"\n'),
     {"base", "svc"}),
    ("platform", _write("bakegen.toml", '[targets.other]\nplatforms = ["linux/arm64"]\n'), {"other"}),
    ("label", _write("bakegen.toml", '[targets.other]\nlabels = { team = "web" }\n'), {"other"}),
]


@pytest.mark.parametrize(("what", "change", "moved"), CHANGES, ids=[c[0] for c in CHANGES])
def test_each_input_changes_exactly_the_digests_it_must(tmp_path, what, change, moved):
    root = monorepo(tmp_path)
    before = all_digests(root)
    change(root)
    after = all_digests(root)
    assert {name for name in before if before[name] != after[name]} == moved


def test_a_moved_upstream_digest_moves_the_targets_on_it(tmp_path):
    root = monorepo(tmp_path)
    write_tree(root, {"bakegen.lock": f'[images]\n"python:3.10-slim" = "{LOCKED}"\n'})
    before = digests(load(root))
    assert before["base"].unlocked == () and before["other"].unlocked == ("node:18",)
    write_tree(root, {"bakegen.lock": f'[images]\n"python:3.10-slim" = "{MOVED}"\n'})
    after = digests(load(root))
    assert {n for n in before if before[n].digest != after[n].digest} == {"base", "svc"}


def test_the_same_digests_in_a_copy_elsewhere_with_other_mtimes(tmp_path):
    root = monorepo(tmp_path / "a")
    (root / "svc/run.sh").write_text("#!/bin/sh\n")
    (root / "svc/run.sh").chmod(0o755)
    copy = tmp_path / "somewhere" / "else"
    shutil.copytree(root, copy, copy_function=shutil.copy)  # contents and mode, not mtimes
    os.utime(copy / "svc/app.py", (1, 1))
    (copy / "svc/app.py").chmod(0o644 if (root / "svc/app.py").stat().st_mode & 0o020 else 0o664)  # umask differs
    assert all_digests(root) == all_digests(copy)


def test_a_git_clone_has_the_same_digests(tmp_path):
    root = monorepo(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=root, check=True)
    subprocess.run(["git", "clone", "-q", str(root), str(tmp_path / "clone")], check=True)
    assert all_digests(root) == all_digests(tmp_path / "clone")


def test_a_symlink_is_hashed_as_the_link_never_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    root = monorepo(tmp_path / "repo")
    (root / "svc/link").symlink_to(outside)
    before = all_digests(root)
    outside.write_text("changed\n")  # what it points at is not read
    assert all_digests(root) == before
    (root / "svc/link").unlink()
    (root / "svc/link").symlink_to(tmp_path / "elsewhere")
    assert all_digests(root)["svc"] != before["svc"]


def test_a_file_bigger_than_the_reading_limit_is_hashed(tmp_path):
    root = monorepo(tmp_path)
    big = root / "svc/model.bin"
    with big.open("wb") as f:
        f.write(b"\0" * (6 * 1024 * 1024))
    before = all_digests(root)["svc"]
    with big.open("r+b") as f:
        f.seek(5 * 1024 * 1024 + 7)
        f.write(b"\1")
    assert all_digests(root)["svc"] != before


def test_a_fifo_in_the_context_is_never_opened(tmp_path):
    root = monorepo(tmp_path)
    os.mkfifo(root / "svc/pipe")
    assert all_digests(root)["svc"].startswith("sha256:")  # returns: the FIFO was not opened


def test_the_cli_prints_text_and_json_and_says_what_is_not_locked(tmp_path):
    root = monorepo(tmp_path)
    text = CliRunner().invoke(main, ["digest", str(root), "svc"])
    assert text.exit_code == 0, text.output
    lines = [line for line in text.stdout.splitlines() if line]
    assert [line.split()[1] for line in lines] == ["base", "svc"]  # svc and what it builds on
    assert "python:3.10-slim" in text.stderr and "not locked" in text.stderr
    shown = CliRunner().invoke(main, ["digest", str(root), "--format", "json"])
    found = json.loads(shown.stdout)
    assert found == all_digests(root) and all(v.startswith("sha256:") and len(v) == 71 for v in found.values())


def test_an_unknown_target_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["digest", str(monorepo(tmp_path)), "nope"])
    assert result.exit_code == 2
    assert "no target named 'nope'" in result.stderr and "Traceback" not in result.output


def test_a_malformed_lock_is_one_line_naming_the_file_and_key(tmp_path):
    root = monorepo(tmp_path)
    write_tree(root, {"bakegen.lock": '[images]\n"python:3.10-slim" = "latest"\n'})
    result = CliRunner().invoke(main, ["digest", str(root)])
    assert result.exit_code == 2
    assert "bakegen.lock: images.'python:3.10-slim': not a digest" in result.stderr


NAMES = st.text("abcxyz._-", min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(NAMES, st.binary(max_size=64), min_size=1, max_size=5), data=st.data())
def test_any_change_to_a_sent_file_changes_the_digest(tmp_path_factory, files, data):
    folder = tmp_path_factory.mktemp("ctx")
    for name, content in files.items():
        (folder / name).write_bytes(content)
    rules = parse("*.log\n")
    before = folder_digest(folder, rules)
    sent = sorted(n for n in files if not n.endswith(".log"))
    if not sent:
        return
    name = data.draw(st.sampled_from(sent))
    kind = data.draw(st.sampled_from(["content", "mode", "rename"]))
    if kind == "content":
        new = data.draw(st.binary(max_size=64).filter(lambda b: b != files[name]))
        (folder / name).write_bytes(new)
    elif kind == "mode":
        (folder / name).chmod((folder / name).stat().st_mode ^ 0o111)
    else:
        (folder / name).rename(folder / (name + "-renamed"))
    assert folder_digest(folder, rules) != before
