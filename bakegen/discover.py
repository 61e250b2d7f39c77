"""Find the targets of a monorepo: every folder with a Dockerfile."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pathspec

from bakegen import command
from bakegen.dockerfile import read_dockerfile
from bakegen.model import BakegenError, Dockerfile, Kind, Project, Target
from bakegen.names import repository_name, target_name

# Never part of the build graph: VCS data, dependency trees, virtualenvs, build outputs, caches.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".buildx-cache", "dist", "build",
})
BASES_DIR = "docker"


def find_dockerfile_dirs(root: Path, exclude: list[str] | None = None) -> list[str]:
    """Folders (posix, relative to root, "." for root) holding a `Dockerfile`, minus ignored ones.

    `exclude` holds gitignore-style patterns relative to root (config `project.exclude`).
    """
    found = []
    ignores: dict[str, pathspec.PathSpec] = {}  # folder -> its .gitignore
    if exclude:
        ignores["."] = pathspec.GitIgnoreSpec.from_lines(exclude)

    def unreadable(error: OSError) -> None:  # never silently drop a folder: it may hold a target
        shown = Path(str(error.filename)).relative_to(root).as_posix() if error.filename else str(root)
        raise BakegenError(f"{shown}: cannot read this folder ({error.strerror}); fix its permissions or "
                           "leave it out with project.exclude")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        rel = Path(dirpath).relative_to(root).as_posix()
        if ".gitignore" in filenames:
            spec = _read_gitignore(Path(dirpath) / ".gitignore")
            ignores[rel] = spec + ignores[rel] if rel in ignores else spec
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIRS
            and not _is_virtualenv(Path(dirpath) / d)
            and not _ignored(join_path(rel, d) + "/", ignores)
        )
        if "Dockerfile" in filenames and not _ignored(join_path(rel, "Dockerfile"), ignores):
            if _not_utf8(rel):
                raise BakegenError(f"{rel.encode('utf-8', 'surrogateescape')!r}: a folder name that is not UTF-8 "
                                   "(bake cannot name it); rename it or leave it out with project.exclude")
            found.append(rel)
    return sorted(found)


def _is_virtualenv(folder: Path) -> bool:
    try:
        return (folder / "pyvenv.cfg").exists()
    except OSError:  # unreadable: os.walk says so when it lists the folder
        return False


def _not_utf8(name: str) -> bool:
    """os.walk hands back undecodable bytes as lone surrogates (surrogateescape)."""
    return any("\udc80" <= ch <= "\udcff" for ch in name)


def discover(root: Path, exclude: list[str] | None = None) -> Project:
    """Targets from the tree alone: bases under docker/, services elsewhere."""
    targets: dict[str, Target] = {}
    origin: dict[str, str] = {}
    for folder in find_dockerfile_dirs(root, exclude):
        folder_name = root.resolve().name if folder == "." else folder.rsplit("/", 1)[-1]
        name = target_name(folder_name)
        if name in origin:
            raise BakegenError(
                f"folders '{origin[name]}' and '{folder}' both make target name '{name}'; rename one, or "
                "leave one out with project.exclude and add it as [targets.<other name>] context"
            )
        origin[name] = folder
        shown = join_path(folder, "Dockerfile")
        parsed = read_dockerfile(root / shown, shown)
        targets[name] = Target(
            name=name, kind=kind_of(folder), context=folder, stage=default_stage(parsed), parsed=parsed
        )
    return Project(root=root, targets=targets, registry=default_registry(root))


def kind_of(folder: str) -> Kind:
    """Folders under docker/ hold base images; every other folder a service."""
    return Kind.BASE if folder.split("/", 1)[0] == BASES_DIR and folder != BASES_DIR else Kind.SERVICE


def default_stage(parsed: Dockerfile) -> str | None:
    """The stage a target builds unless told: `runtime` when the Dockerfile has one."""
    return "runtime" if "runtime" in parsed.stage_names() else None


FALLBACK_REGISTRY = "localhost:5000/app"
_GITHUB_REMOTE = re.compile(r"github\.com[:/]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def default_registry(root: Path) -> str:
    """GHCR for a GitHub `origin` (ghcr.io/<owner>/<repo>, lowercased), else a fixed name: never
    the checkout folder's name, which differs between clones and CI runners."""
    try:
        url = command.run(["git", "-C", str(root), "remote", "get-url", "origin"], timeout=30).stdout.strip()
    except BakegenError:  # no git, not a repository, or no origin
        return FALLBACK_REGISTRY
    m = _GITHUB_REMOTE.search(url)
    if not m:
        return FALLBACK_REGISTRY
    return f"ghcr.io/{repository_name(m.group(1))}/{repository_name(m.group(2))}"


def _read_gitignore(path: Path) -> pathspec.PathSpec:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def join_path(folder: str, name: str) -> str:
    """A path relative to the project root, from a folder ("." for the root) and a name."""
    return name if folder in (".", "") else f"{folder.rstrip('/')}/{name}"


def _ignored(path: str, ignores: dict[str, pathspec.PathSpec]) -> bool:
    """Whether the .gitignore of any folder above `path` matches it."""
    parts = path.rstrip("/").split("/")
    for depth in range(len(parts)):
        folder = "/".join(parts[:depth]) or "."
        spec = ignores.get(folder)
        if spec is not None and spec.match_file(path[len(folder) + 1:] if depth else path):
            return True
    return False
