"""What BuildKit keys a step's cache on, as small pure functions over parsed instructions
(`model.Instruction`). impact.py applies them stage by stage; tests/test_impact_rules.py holds
them as tables, each row citing BuildKit's behaviour."""

from __future__ import annotations

import fnmatch
import posixpath
import re

from bakegen.model import Instruction, Mount

STEP_KEYWORDS = ("RUN", "COPY", "ADD", "WORKDIR")  # the instructions that are steps of their own
ENV_KEYWORDS = ("ENV", "SHELL", "USER")  # change what every later RUN runs with
# Mounts whose content is no input of the step's key: BuildKit's ExecOp.getMountDeps skips
# secret, ssh and tmpfs mounts; a cache mount without `from` has no input at all.
_UNKEYED_MOUNTS = ("secret", "ssh", "tmpfs")
_GIT_REMOTE = re.compile(r"^(git@|git://|[a-z+]+://[^/]+/.+\.git(#.*)?$|https?://github\.com/[^/]+/[^/]+\.git)")


def is_step(instruction: Instruction) -> bool:
    """RUN, COPY, ADD and WORKDIR are LLB ops; ONBUILD, LABEL, EXPOSE... only change the image
    config (dockerfile2llb's dispatchOnbuild appends to the config's OnBuild, nothing runs)."""
    return instruction.keyword in STEP_KEYWORDS


def is_remote(source: str) -> bool:
    """An ADD source BuildKit fetches itself (llb.HTTP, llb.Git): keyed on the remote, never on
    a file of the context."""
    return source.startswith(("http://", "https://")) or bool(_GIT_REMOTE.match(source))


def taken_from(instruction: Instruction) -> list[tuple[str, str]]:
    """(`from` name, path) of what the step takes from another stage, target or named context:
    `COPY --from` sources, and bind or cache mounts with `from` (both an input of the exec op,
    hashed by content at their source)."""
    if instruction.keyword in ("COPY", "ADD"):
        source = instruction.flag("from")
        return [(source, path) for path in instruction.sources] if source is not None else []
    return [(m.from_, m.source) for m in keyed_mounts(instruction) if m.from_ is not None]


def keyed_mounts(instruction: Instruction) -> list[Mount]:
    """RUN's mounts whose content is part of the step's key: bind mounts (the context's files,
    or another stage's), and cache mounts seeded `from` a stage."""
    return [m for m in instruction.mounts if m.type not in _UNKEYED_MOUNTS
            and (m.type != "cache" or m.from_ is not None)]


def context_sources(instruction: Instruction) -> list[str]:
    """What the step reads from the build context: COPY/ADD sources when there is no `--from`
    (a heredoc is text of the Dockerfile; an ADD URL or git remote is fetched), and bind mounts
    without `from`."""
    if instruction.keyword in ("COPY", "ADD"):
        if instruction.flag("from") is not None:
            return []
        heredocs = {f"<<{h.name}" for h in instruction.heredocs} | {f"<<-{h.name}" for h in instruction.heredocs}
        return [s for s in instruction.sources
                if not s.startswith("<<") and s not in heredocs
                and not (instruction.keyword == "ADD" and is_remote(s))]
    return [m.source for m in keyed_mounts(instruction) if m.type == "bind" and m.from_ is None]


def excluded(instruction: Instruction, path: str) -> bool:
    """Whether `--exclude` leaves `path` (relative to the source) out of the copy: BuildKit
    passes the patterns as the copy's ExcludePatterns, so an excluded file is no input."""
    return any(_matches(pattern, path) for pattern in instruction.flag_values("exclude"))


def source_reads(source: str, path: str) -> bool:
    """Whether a COPY/ADD/bind source (relative to the context, globs allowed) reads `path`
    (relative to the context): the file itself, or anything under a folder it names."""
    pattern = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
    return pattern == "." or _matches(pattern, path)


def destination(instruction: Instruction, workdir: str) -> str:
    """Where a COPY/ADD writes, absolute: a relative destination lands under WORKDIR."""
    dest = instruction.destination
    return posixpath.normpath(posixpath.join(workdir, dest)) if dest is not None else "/"


def workdir_after(instruction: Instruction, workdir: str) -> str:
    """WORKDIR changes where later relative paths land (relative to the one before)."""
    return posixpath.join(workdir, instruction.text.strip()) if instruction.keyword == "WORKDIR" else workdir


def key_text(instruction: Instruction) -> str:
    """What of the instruction's own text is in its key: the text and every heredoc's body (the
    script a `RUN <<EOF` runs, the file a `COPY <<EOF` writes)."""
    bodies = "".join(f"\n<<{h.name}\n{h.body}" for h in instruction.heredocs)
    return instruction.shown() + bodies


def uses_variable(text: str, name: str) -> bool:
    return re.search(rf"\$(\{{)?{re.escape(name)}\b", text) is not None


def overlap(a: str, b: str) -> bool:
    """Whether two absolute paths name the same content (one holds the other)."""
    a, b = a.rstrip("/") or "/", b.rstrip("/") or "/"
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or "/" in (a, b)


def _matches(pattern: str, path: str) -> bool:
    pattern = posixpath.normpath(pattern.lstrip("/"))
    if path == pattern or path.startswith(pattern + "/"):
        return True
    parts = path.split("/")  # a glob matches the file or a folder above it
    return any(fnmatch.fnmatchcase("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))
