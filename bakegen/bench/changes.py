"""The changes scenarios make to a repository, each undone whatever happens: which source file
or dependency manifest takes a harmless line, a step added to a base's Dockerfile, a fresh clone
of HEAD. No engine here: these are unit-tested on trees in temporary folders."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bakegen import dockerignore, git
from bakegen.model import Project, Target
from bakegen.paths import join_path
from bakegen.writer import check_destination

# What a harmless change looks like at the end of a source file, by extension.
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
    "Cargo.toml": "# {}", "Gemfile": "# {}", "package.json": None,  # JSON: trailing whitespace only
}
NOT_SOURCE = {"Dockerfile", ".dockerignore", *MANIFESTS, "package-lock.json", "poetry.lock", "go.sum",
              "Cargo.lock", "Gemfile.lock", "yarn.lock", "pnpm-lock.yaml", "uv.lock"}


def source_file(project: Project, target: Target) -> Path | None:
    """A source file of the target's context that reaches the build, where a comment is harmless.

    Files under src/ or app/ first, then the rest, each in name order; dependency manifests,
    lockfiles and the Dockerfile are not code.
    """
    context = project.root / target.context
    rules = dockerignore.read_for(project.root, target.context, target.dockerfile)
    candidates = []
    for folder, dirs, files in os.walk(context):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(context).as_posix()
            if path.suffix.lower() not in COMMENTS or name in NOT_SOURCE or name.startswith("."):
                continue
            if not dockerignore.is_ignored(rules, rel):
                first = 0 if rel.split("/")[0] in ("src", "app", "api", "lib") else 1
                candidates.append((first, rel.count("/"), rel, path))
    return min(candidates)[3] if candidates else None


def manifest_file(project: Project, target: Target) -> Path | None:
    context = project.root / target.context
    for name in MANIFESTS:
        if (context / name).is_file():
            return context / name
    return None


def harmless_line(path: Path, nonce: str) -> str:
    """What to append so the bytes change and the meaning does not."""
    if path.name == "package.json":
        return " " * (1 + sum(map(ord, nonce)) % 50) + "\n"  # JSON allows trailing whitespace; differs per nonce
    template = MANIFESTS.get(path.name) or COMMENTS.get(path.suffix.lower(), "# {}")
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
