"""The engine's known snapshot bug (moby/buildkit#6521) costs one more run, never a failed build.

A unit test of the retry rule: `docker` here is a stand-in script on PATH that answers as buildx
does (rawjson progress on stderr), failing its first run with the bug's exact error or another.
The real engine's side is the e2e suite, whose builds go through the same `run_bake`."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap

import pytest

from bakegen import command
from bakegen.run.bake import is_engine_bug_6521, run_bake, run_build

BUG = ('failed to prepare extraction snapshot "extract-1-sha256:ab": '
       "parent snapshot sha256:cd does not exist: not found")

FAKE_DOCKER = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    count_file = os.environ["FAKE_COUNT"]
    attempt = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
    open(count_file, "w").write(str(attempt))
    first_error = os.environ["FAKE_ERROR"]
    def vertex(digest, name, cached=False, error=""):
        v = {{"digest": digest, "name": name, "cached": cached,
              "started": "2026-01-01T00:00:00.000000000Z", "completed": "2026-01-01T00:00:01.000000000Z"}}
        if error:
            v["error"] = error
        sys.stderr.write(json.dumps({{"vertexes": [v]}}, indent=2) + "\\n")
    if "build" in sys.argv:  # a plain `docker buildx build --progress=quiet`
        if attempt == 1:
            sys.stderr.write(f"ERROR: failed to solve: {{first_error}}\\n")
            sys.exit(1)
        sys.exit(0)
    if attempt == 1:
        vertex("sha256:1", "[svc 1/2] RUN make deps")
        vertex("sha256:2", "[svc 2/2] RUN make", error=first_error)
        sys.stderr.write(f"ERROR: failed to solve: {{first_error}}\\n")
        sys.exit(1)
    vertex("sha256:1", "[svc 1/2] RUN make deps", cached=True)
    vertex("sha256:2", "[svc 2/2] RUN make")
""")


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_COUNT", str(tmp_path / "count"))

    def attempts() -> int:
        return int((tmp_path / "count").read_text())
    return attempts


def test_the_bug_is_told_by_its_exact_words():
    assert is_engine_bug_6521(BUG)
    assert not is_engine_bug_6521("failed to solve: process \"/bin/sh -c make\" did not complete successfully")
    assert not is_engine_bug_6521("parent snapshot does not exist")  # not the extraction step's words


def test_a_bake_failed_by_the_bug_runs_once_more_and_counts_both_runs(fake_docker, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_ERROR", BUG)
    told = []
    result = run_bake(tmp_path, ["svc"], on_retry=told.append)
    assert fake_docker() == 2
    assert result.ok and len(told) == 1 and "moby/buildkit#6521" in told[0]
    assert result.retried == told[0]
    # The first run did `make deps`; the second found it cached because of that: it ran.
    assert sorted(s.instruction for s in result.executed()) == ["RUN make", "RUN make deps"]


def test_any_other_failure_is_not_retried(fake_docker, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_ERROR", 'process "/bin/sh -c make" did not complete successfully: exit code: 2')
    told = []
    result = run_bake(tmp_path, ["svc"], on_retry=told.append)
    assert fake_docker() == 1 and not result.ok and told == [] and result.retried == ""


def test_a_plain_build_failed_by_the_bug_runs_once_more(fake_docker, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_ERROR", BUG)
    told = []
    run_build(["docker", "buildx", "build", "."], cwd=tmp_path, timeout=60, on_retry=told.append)
    assert fake_docker() == 2 and len(told) == 1


def test_a_plain_build_failing_otherwise_fails(fake_docker, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_ERROR", "no space left on device")
    with pytest.raises(command.CommandError, match="no space left"):
        run_build(["docker", "buildx", "build", "."], cwd=tmp_path, timeout=60)
    assert fake_docker() == 1


def test_a_rawjson_line_of_the_stand_in_is_what_the_reader_takes():
    # keeps the stand-in honest: its output is read by the same reader as buildx's
    from bakegen.run.progress import ProgressReader
    text = json.dumps({"vertexes": [{"digest": "d", "name": "[a 1/1] RUN x", "cached": True}]}, indent=2)
    reader = ProgressReader().feed(line + "\n" for line in text.splitlines())
    assert [s.instruction for s in reader.steps()] == ["RUN x"]
