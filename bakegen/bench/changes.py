"""The changes scenarios make to a repository, each undone whatever happens: which source file
or dependency manifest takes a harmless line, a step added to a base's Dockerfile, a fresh clone
of HEAD. No engine here: these are unit-tested on trees in temporary folders."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bakegen import dockerignore, git
from bakegen import impact_rules as rules
from bakegen.model import Dockerfile, Instruction, Project, Target
from bakegen.paths import join_path
from bakegen.writer import check_destination

# What a harmless change looks like at the end of a source file, by extension; any other file
# takes a line of blanks (spaces and tabs spelling the nonce), which JSON, YAML, text and most
# formats read as nothing.
COMMENTS = {
    ".py": "# {}", ".sh": "# {}", ".rb": "# {}", ".r": "# {}", ".toml": "# {}", ".yaml": "# {}", ".yml": "# {}",
    ".js": "// {}", ".mjs": "// {}", ".cjs": "// {}", ".ts": "// {}", ".tsx": "// {}", ".jsx": "// {}",
    ".go": "// {}", ".java": "// {}", ".kt": "// {}", ".rs": "// {}", ".c": "// {}", ".cc": "// {}",
    ".cpp": "// {}", ".h": "// {}", ".cs": "// {}", ".swift": "// {}", ".php": "// {}", ".scala": "// {}",
    ".css": "/* {} */", ".html": "<!-- {} -->", ".vue": "<!-- {} -->", ".svelte": "<!-- {} -->",
}
# Dependency manifests, most telling first, and how to change each harmlessly.
MANIFESTS = {
    "requirements.txt": "# {}", "pyproject.toml": "# {}", "Pipfile": "# {}", "go.mod": "// {}",
    "Cargo.toml": "# {}", "Gemfile": "# {}", "package.json": None,  # JSON: blanks only
}
LOCKFILES = {"package-lock.json", "poetry.lock", "go.sum", "Cargo.lock", "Gemfile.lock", "yarn.lock",
             "pnpm-lock.yaml", "uv.lock"}
NOT_CODE = {"Dockerfile", ".dockerignore", *MANIFESTS, *LOCKFILES}
_SKIPPED_FOLDERS = {"node_modules", "__pycache__"}


@dataclass(frozen=True)
class Copy:
    """A COPY/ADD of the built stage's chain and the context files it takes, in walk order."""

    instruction: Instruction
    files: tuple[str, ...]  # relative to the context, what .dockerignore lets through
    installs: bool  # a RUN follows it in its stage (an install step: the copy feeds it)


def context_files(project: Project, target: Target) -> list[str]:
    """The files of the target's context that reach the build (.dockerignore applied), posix,
    relative to the context, sorted; hidden folders and dependency folders left out."""
    context = project.root / target.context
    ignored = dockerignore.read_for(project.root, target.context, target.dockerfile)
    found = []
    for folder, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
        for name in files:
            rel = (Path(folder) / name).relative_to(context).as_posix()
            if not dockerignore.is_ignored(ignored, rel) and (Path(folder) / name).is_file():
                found.append(rel)
    return sorted(found)


def copies(project: Project, target: Target) -> list[Copy]:
    """The COPY/ADD steps that take files from the context into the stages the target builds
    (the built stage and those it starts from or copies from), in Dockerfile order."""
    parsed = target.parsed
    if parsed is None:
        return []
    files = context_files(project, target)
    chain = _stages_built(parsed, target.stage)
    found = []
    for n, instruction in enumerate(parsed.instructions):
        if instruction.stage not in chain or instruction.keyword not in ("COPY", "ADD"):
            continue
        sources = rules.context_sources(instruction)
        taken = tuple(f for f in files if any(rules.source_reads(s, f) for s in sources)
                      and not rules.excluded(instruction, f))
        after = parsed.instructions[n + 1:]
        installs = any(i.keyword == "RUN" for i in after if i.stage == instruction.stage)
        found.append(Copy(instruction, taken, installs))
    return found


def _stages_built(parsed: Dockerfile, stage: str | None) -> set[int]:
    """Indexes of the stages a build of `stage` (default: the last) runs: it, the stages it
    starts FROM and those it copies or mounts from, transitively."""
    names = {s.name.lower(): i for i, s in enumerate(parsed.stages) if s.name}

    def ref(source: str, before: int) -> int | None:
        index = int(source) if source.isdigit() else names.get(source.lower())
        return index if index is not None and index < before else None

    last = names.get(stage.lower(), len(parsed.stages) - 1) if stage else len(parsed.stages) - 1
    chain, pending = set(), [last]
    while pending:
        index = pending.pop()
        if index in chain:
            continue
        chain.add(index)
        pending += [r for r in [ref(parsed.stages[index].image, index)] if r is not None]
        pending += [r for i in parsed.instructions if i.stage == index
                    for source, _ in rules.taken_from(i) if (r := ref(source, index)) is not None]
    return chain


def _preferred(files: tuple[str, ...] | list[str]) -> str:
    """Of files one step takes: not hidden, under src/, app/, api/ or lib/ first, the shallowest, by name."""
    return min(files, key=lambda f: (Path(f).name.startswith("."),
                                     f.split("/")[0] not in ("src", "app", "api", "lib"), f.count("/"), f))


def source_file(project: Project, target: Target) -> Path | None:
    """A file of the target's context that its Dockerfile copies in its last steps, where a change
    rebuilds only what follows: the file the latest COPY of the built stages takes, whatever its
    extension (dependency manifests, lockfiles and the Dockerfile are not code)."""
    for copy in reversed(copies(project, target)):
        code = [f for f in copy.files if Path(f).name not in NOT_CODE]
        if code:
            return project.root / target.context / _preferred(code)
    return None


def manifest_file(project: Project, target: Target) -> Path | None:
    """The file the install step copies: the first COPY followed by a RUN in its stage, its
    dependency manifest if it takes one (else its first file); a known manifest any COPY takes
    when no step installs."""
    found = copies(project, target)
    for copy in found:
        if copy.installs and copy.files:
            named = [f for name in MANIFESTS for f in copy.files if Path(f).name == name]
            return project.root / target.context / (named[0] if named else _preferred(copy.files))
    for name in MANIFESTS:
        for copy in found:
            if (match := next((f for f in copy.files if Path(f).name == name), None)) is not None:
                return project.root / target.context / match
    return None


def harmless_line(path: Path, nonce: str) -> str:
    """What to append so the bytes change and the meaning does not."""
    template = MANIFESTS.get(path.name) if path.name in MANIFESTS else COMMENTS.get(path.suffix.lower())
    if template is None:  # no comment syntax known: blanks, different for each nonce
        digest = int(hashlib.sha256(nonce.encode()).hexdigest()[:8], 16)
        return "\n" + "".join(" \t"[(digest >> bit) & 1] for bit in range(32)) + "\n"
    return "\n" + template.format(f"bakegen bench {nonce}") + "\n"


@contextmanager
def appended(path: Path, text: str, *, root: Path | None = None) -> Iterator[None]:
    """`text` appended to the file for the duration; the original bytes come back whatever happens.
    With `root`, a file of that repository: refused when a link takes it outside (bakegen never
    writes there) or when it is no regular file."""
    if root is not None:
        check_destination(root, path)
    original = path.read_bytes()
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(text)
        yield
    finally:
        path.write_bytes(original)


@contextmanager
def base_step_added(project: Project, base: Target, nonce: str) -> Iterator[Path]:
    """A new RUN step at the end of the base's built stage: everything built on it rebuilds."""
    path = project.root / join_path(base.context, base.dockerfile)
    check_destination(project.root, path)  # never through a link out of the repository
    original = path.read_bytes()
    lines = original.decode("utf-8").splitlines(keepends=True)
    stages = base.parsed.stages if base.parsed else ()
    built = next((i for i, s in enumerate(stages) if base.stage and s.name == base.stage), len(stages) - 1)
    insert_at = stages[built + 1].line - 1 if built + 1 < len(stages) else len(lines)
    step = f"RUN echo 'bakegen bench {nonce}' > /.bakegen-bench\n"
    if insert_at == len(lines) and lines and not lines[-1].endswith("\n"):
        step = "\n" + step
    try:
        path.write_text("".join([*lines[:insert_at], step, *lines[insert_at:]]), encoding="utf-8")
        yield path
    finally:
        path.write_bytes(original)


@contextmanager
def cloned_at_head(root: Path) -> Iterator[Path]:
    """The project `root` as a fresh clone of its repository at HEAD has it, in a temporary
    folder removed afterwards. Raises git.GitUnavailable (with why) when git cannot clone it."""
    with tempfile.TemporaryDirectory(prefix="bakegen-bench-clone-") as folder:
        yield git.clone_head(root, Path(folder) / "repository")
