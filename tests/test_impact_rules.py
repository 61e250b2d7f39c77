"""impact's cache-key rules as tables, each row citing what BuildKit does (moby/buildkit:
frontend/dockerfile/dockerfile2llb/convert.go turns instructions into LLB ops;
solver/llbsolver/ops/exec.go and file.go key them). The end-to-end proof against a real
BuildKit is tests/e2e/test_impact.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakegen import impact_rules as rules
from bakegen.dockerfile import parse_dockerfile
from bakegen.generate import load
from bakegen.impact import impact_of
from bakegen.model import Instruction

from .helpers import write_tree


def last(text: str) -> Instruction:
    """The last instruction of `FROM alpine` followed by `text`, parsed as every Dockerfile is."""
    return parse_dockerfile(f"FROM alpine\n{text}\n", Path("Dockerfile"), "Dockerfile").instructions[-1]


CONTEXT_SOURCES = [
    # A COPY from the context is a FileOp copy keyed on the content checksum of its sources.
    ("COPY src/ /app/", ["src/"]),
    # --from: the source is the named stage's state (dispatchCopy uses that state), never the context.
    ("COPY --from=build /out /app", []),
    # --chmod/--chown are options of the copy action (in the op, so the key): the sources stay the context's.
    ("COPY --chmod=755 run.sh /bin/", ["run.sh"]),
    ("COPY --chown=1000:1000 a.txt b.txt", ["a.txt"]),
    # --link copies onto scratch and merges (llb.Merge): the same context files are its inputs.
    ("COPY --link lib/ /lib/", ["lib/"]),
    # --parents keeps the source's folders at the destination; the source is still read from the context.
    ("COPY --parents a/b/c.txt /dst/", ["a/b/c.txt"]),
    # ADD of a URL is an llb.HTTP source: keyed on the remote (checksum/ETag), no context file.
    ("ADD https://example.com/x.tgz /x", []),
    ("ADD --checksum=sha256:0123 https://example.com/y /y", []),
    # ADD of a git remote is an llb.Git source: keyed on the commit, no context file.
    ("ADD git@github.com:moby/buildkit.git /src", []),
    ("ADD https://github.com/moby/buildkit.git#v0.13.0 /src", []),
    # ADD of a local archive reads (and unpacks) that context file.
    ("ADD local.tgz /x", ["local.tgz"]),
    # COPY <<EOF writes a file from the Dockerfile's own text (a FileOp mkfile): no context file.
    ("COPY <<EOF /etc/app.conf\nkey=1\nEOF", []),
    # The JSON form: a source with a space is one path.
    ('COPY ["a b.txt", "/dst/"]', ["a b.txt"]),
    # RUN --mount=type=bind without from mounts the context at source: its content is an input
    # (exec.go getMountDeps: a read-only mount is content-hashed).
    ("RUN --mount=type=bind,source=req.txt,target=/r pip install -r /r", ["req.txt"]),
    # type defaults to bind and source to the context's root.
    ("RUN --mount=target=/src make", ["."]),
    # A cache mount without from has no input (pb.Empty): no file of the context is in its key.
    ("RUN --mount=type=cache,target=/root/.cache pip install x", []),
    # getMountDeps skips secret, ssh and tmpfs mounts: never in the key.
    ("RUN --mount=type=secret,id=tok cat /run/secrets/tok", []),
    ("RUN --mount=type=ssh git clone git@host:r.git", []),
    ("RUN --mount=type=tmpfs,target=/tmp make", []),
    # A bind mount from a stage reads that stage, not the context.
    ("RUN --mount=type=bind,from=build,source=/out,target=/o cp -r /o /srv", []),
]


@pytest.mark.parametrize(("text", "expected"), CONTEXT_SOURCES)
def test_what_a_step_reads_from_the_context(text, expected):
    assert rules.context_sources(last(text)) == expected


TAKEN_FROM = [
    # COPY --from takes each source path from the stage, target or named context it names.
    ("COPY --from=build /out /app", [("build", "/out")]),
    ("COPY --from=0 /a /b /dst/", [("0", "/a"), ("0", "/b")]),
    # A bind mount from a stage is an exec input, content-hashed at its source (getMountDeps).
    ("RUN --mount=type=bind,from=build,source=/out,target=/o cp -r /o /srv", [("build", "/out")]),
    # A cache mount seeded from a stage has that stage as its input: getMountDeps keeps it.
    ("RUN --mount=type=cache,from=seed,source=/c,target=/root/.cache make", [("seed", "/c")]),
    # A secret's id is no stage; secrets are never inputs.
    ("RUN --mount=type=secret,id=build,target=/s cat /s", []),
    ("COPY src/ /app/", []),
]


@pytest.mark.parametrize(("text", "expected"), TAKEN_FROM)
def test_what_a_step_takes_from_another_stage(text, expected):
    assert rules.taken_from(last(text)) == expected


EXCLUDED = [
    # --exclude patterns become the copy's ExcludePatterns: an excluded file is no input.
    ("COPY --exclude=*.md docs/ /d/", "a.md", True),
    ("COPY --exclude=*.md docs/ /d/", "a.txt", False),
    # The flag may repeat; a pattern naming a folder leaves out all under it.
    ("COPY --exclude=tests --exclude=*.pyc . /app", "tests/x.py", True),
    ("COPY . /app", "x.md", False),
]


@pytest.mark.parametrize(("text", "path", "expected"), EXCLUDED)
def test_exclude_leaves_files_out_of_the_key(text, path, expected):
    assert rules.excluded(last(text), path) is expected


PLACES = [
    # dispatchCopy resolves a relative destination against the stage's working dir.
    ("COPY a.txt rel/", "/app", "/app/rel"),
    ("COPY a.txt /abs/", "/app", "/abs"),
    ('COPY ["a", "b"]', "/", "/b"),
]


@pytest.mark.parametrize(("text", "workdir", "expected"), PLACES)
def test_workdir_relative_destinations(text, workdir, expected):
    assert rules.destination(last(text), workdir) == expected


WORKDIRS = [
    # WORKDIR is relative to the one before (dispatchWorkdir joins them); absolute replaces it.
    ("WORKDIR sub", "/app", "/app/sub"),
    ("WORKDIR /abs", "/app", "/abs"),
    ("RUN cd /x", "/app", "/app"),  # a shell `cd` changes no later step's directory
]


@pytest.mark.parametrize(("text", "workdir", "expected"), WORKDIRS)
def test_workdir_changes(text, workdir, expected):
    assert rules.workdir_after(last(text), workdir) == expected


STEPS = [
    # dispatchOnbuild only appends the trigger to the image config's OnBuild: nothing runs here.
    ("ONBUILD COPY . /app", False),
    ("ENV A=1", False),  # image config only; later RUNs see it in their env (their key)
    ("LABEL a=b", False),
    ("WORKDIR /x", True),  # a FileOp mkdir
    ("RUN make", True),
    ("COPY a /b", True),
]


@pytest.mark.parametrize(("text", "expected"), STEPS)
def test_which_instructions_are_steps(text, expected):
    assert rules.is_step(last(text)) is expected


def test_onbuild_holds_its_instruction_parsed():
    trigger = last("ONBUILD COPY --chown=1 . /app").onbuild
    assert trigger is not None and trigger.keyword == "COPY" and trigger.sources == (".",)
    assert trigger.flag("chown") == "1"


KEY_TEXTS = [
    # The heredoc body of RUN is the script the ExecOp runs: in its args, so its key.
    ("RUN <<EOF\necho a\nEOF", "RUN <<EOF\necho b\nEOF", False),
    # COPY <<EOF's body is the data of a FileOp mkfile: in the key.
    ("COPY <<EOF /f\na\nEOF", "COPY <<EOF /f\nb\nEOF", False),
    # --chmod/--link change the copy op (mode; merge over scratch): a new key.
    ("COPY --chmod=644 a /b", "COPY --chmod=755 a /b", False),
    ("COPY --link a /b", "COPY a /b", False),
    # Whitespace BuildKit does not keep changes nothing.
    ("RUN echo   a", "RUN echo a", True),
]


@pytest.mark.parametrize(("old", "new", "same"), KEY_TEXTS)
def test_what_of_the_text_is_in_the_key(old, new, same):
    assert (rules.key_text(last(old)) == rules.key_text(last(new))) is same


SOURCES_READ = [
    ("src/*.py", "src/a.py", True),  # a glob matches the file
    ("src/", "srcx/a", False),  # a folder holds only what is under it
    (".", "anything/at/all", True),
    ("/app.py", "app.py", True),  # a leading / is the context's root
]


@pytest.mark.parametrize(("source", "path", "expected"), SOURCES_READ)
def test_which_files_a_source_reads(source, path, expected):
    assert rules.source_reads(source, path) is expected


# --- ARG/ENV scope across stages, whole Dockerfiles through `impact` ----------------------------

SCOPES = [
    # An ARG before FROM is in scope for FROM lines only: a RUN does not see it unless the stage
    # redeclares it (dispatchArg; the global value is then its default), so nothing reruns.
    ("ARG V=1\nFROM alpine\nRUN echo $V\n", "ARG V=2\nFROM alpine\nRUN echo $V\n", set()),
    # Redeclared in the stage: BuildKit passes every ARG in scope to RUN as env: the RUN reruns.
    ("ARG V=1\nFROM alpine\nARG V\nRUN echo $V\n", "ARG V=2\nFROM alpine\nARG V\nRUN echo $V\n", {4}),
    # An ARG declared in one stage is not in scope in the next.
    ("FROM alpine AS a\nARG V=1\nFROM alpine\nRUN echo b\n", "FROM alpine AS a\nARG V=2\nFROM alpine\nRUN echo b\n",
     set()),
    # ENV of an earlier stage reaches a stage FROM it (the image config is inherited): its RUN reruns.
    ("FROM alpine AS a\nENV X=1\nFROM a\nRUN make\n", "FROM alpine AS a\nENV X=2\nFROM a\nRUN make\n", {4}),
    # A global ARG used by FROM: a new base image, every step of the stage is new.
    ("ARG B=alpine:3.19\nFROM $B\nRUN make\n", "ARG B=alpine:3.20\nFROM $B\nRUN make\n", {3}),
    # ONBUILD adds to the image config only: nothing of this Dockerfile reruns.
    ("FROM alpine\nONBUILD RUN a\nRUN b\n", "FROM alpine\nONBUILD RUN c\nRUN b\n", set()),
    # A changed heredoc body reruns the RUN (and all after it).
    ("FROM alpine\nRUN <<EOF\necho a\nEOF\nRUN b\n", "FROM alpine\nRUN <<EOF\necho c\nEOF\nRUN b\n", {2, 5}),
]


@pytest.mark.parametrize(("old", "new", "lines"), SCOPES)
def test_arg_and_env_scope_across_stages(tmp_path, old, new, lines):
    root = write_tree(tmp_path, {"app/Dockerfile": new})
    steps = impact_of(load(root), ["app/Dockerfile"], lambda path: old)["app/Dockerfile"]
    assert {s.line for s in steps} == lines


FILES = [
    # (Dockerfile, changed file in the context, lines that rerun)
    ("FROM alpine\nCOPY --exclude=*.md . /app\nRUN make\n", "README.md", set()),
    ("FROM alpine\nCOPY --exclude=*.md . /app\nRUN make\n", "main.c", {2, 3}),
    ("FROM alpine\nADD https://example.com/x.tgz /x\nRUN make\n", "x.tgz", set()),
    ("FROM alpine\nRUN --mount=type=cache,target=/c make\n", "main.c", set()),
    ("FROM alpine\nRUN --mount=type=bind,source=main.c,target=/m make\n", "main.c", {2}),
    ("FROM alpine\nCOPY <<EOF /etc/x\nmain.c\nEOF\n", "main.c", set()),
    # A cache mount seeded from a stage that ran again: its input changed, the RUN reruns.
    ("FROM alpine AS seed\nCOPY main.c /c/\nFROM alpine\nRUN --mount=type=cache,from=seed,source=/c,target=/c make\n",
     "main.c", {2, 4}),
]


@pytest.mark.parametrize(("dockerfile", "path", "lines"), FILES)
def test_context_files_through_the_rules(tmp_path, dockerfile, path, lines):
    root = write_tree(tmp_path, {"app/Dockerfile": dockerfile, f"app/{path}": "x\n"})
    steps = impact_of(load(root), [f"app/{path}"], lambda p: None)[f"app/{path}"]
    assert {s.line for s in steps} == lines
