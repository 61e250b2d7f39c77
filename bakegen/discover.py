"""Find the targets of a monorepo: every folder with a Dockerfile."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from bakegen import git
from bakegen.compose import MAIN_COMPOSE_FILES, is_compose_file, read_compose
from bakegen.contexts import infer_context
from bakegen.dockerfile import NoFrom, read_dockerfile
from bakegen.evidence import Evidence, evidence_files, read_evidence
from bakegen.model import BakegenError, CacheSettings, Dockerfile, Kind, Project, Target
from bakegen.names import (
    GENERIC_FOLDERS,
    GENERIC_SERVICES,
    RESERVED_NAMES,
    path_name,
    repository_name,
    target_name,
    unique_names,
)
from bakegen.paths import Unreadable, bake_reads_as_remote, encodable, exists, inside, join_path, read_text

# Never part of the build graph: VCS data, dependency trees (vendored third-party code: Go's
# `vendor/`, `third_party/`), virtualenvs, build outputs, caches.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".buildx-cache", "dist", "build",
    "vendor", "third_party", "third-party", "thirdparty", "3rdparty",
})
BASES_DIR = "docker"
WORKFLOWS = ".github/workflows"


# Editor, CI and tool folders: their Dockerfiles are not the product's images.
TOOL_DIRS = frozenset({".devcontainer", ".github", ".gitlab", ".circleci", ".vscode", ".idea", ".buildkite"})
# `Dockerfile`, `Dockerfile.<x>`, `Dockerfile_<x>`, `Dockerfile-<x>`, `<x>.Dockerfile`, `<x>.dockerfile`,
# and the same with Podman's `Containerfile` (a repository may use only that name).
_DOCKERFILE = re.compile(r"^(?:(?:Docker|Container)file(?:[._-](?P<suffix>[A-Za-z0-9][A-Za-z0-9_.-]*))?"
                         r"|(?P<prefix>[A-Za-z0-9][A-Za-z0-9_.-]*)\.(?:[Dd]ocker|[Cc]ontainer)file)$")
NO_DOCKERFILE = "no Dockerfile or Containerfile found (looked in every folder not ignored)"
# What a `Dockerfile.<x>` is when it is no Dockerfile: ignore files, docs, templates, backups.
_NOT_DOCKERFILE = re.compile(r"\.(dockerignore|md|rst|txt|j2|jinja2?|tmpl|tpl|template|in|orig|bak|swp|rej|sh|"
                             r"ya?ml|json|toml|lock|sum|log)$", re.IGNORECASE)


# Kinds of findings (each shown as one line listing its items).
NO_FROM = "files named like a Dockerfile without a FROM, left out"
LINKED_OUT = "Dockerfiles that are symlinks to files outside the repository, left out"
GIT_UNREADABLE = ("git could not be read, so the registry and default branch are fallbacks "
                  "(set project.registry and project.default_branch, or fix git)")
REMOTE_LOOKING_CONTEXT = ("build contexts whose path bake reads as a git remote (`user@host:path`), left "
                          "out; rename the folder")
NOT_READ = "files not read (not regular files, or too big), left out"
MALFORMED_GITIGNORE = ".gitignore lines that are no pattern, left out as git leaves them out"



@dataclass
class Found:
    """What the walk found: Dockerfiles (folder, file name) and compose files (paths)."""

    dockerfiles: list[tuple[str, str]] = field(default_factory=list)
    compose_files: list[str] = field(default_factory=list)
    build_files: list[str] = field(default_factory=list)  # Makefiles, scripts: they may state builds
    warnings: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_variant(filename: str) -> str | None:
    """None when `filename` names no Dockerfile; "" for `Dockerfile`; else the variant's name."""
    m = _DOCKERFILE.match(filename)
    if not m or _NOT_DOCKERFILE.search(filename):
        return None
    return (m.group("suffix") or m.group("prefix") or "").lower()


def walk(root: Path, exclude: list[str] | None = None) -> Found:
    """Dockerfiles and compose files under root, minus ignored folders and files.

    `exclude` holds gitignore-style patterns relative to root (config `project.exclude`).
    """
    found = Found()
    ignores: dict[str, pathspec.PathSpec] = {}  # folder -> its .gitignore
    if exclude:
        spec, malformed = gitignore_spec(exclude)
        if malformed:
            _, pattern, reason = malformed[0]
            raise BakegenError(f"project.exclude: {pattern!r} is not a pattern ({reason})")
        ignores["."] = spec

    def unreadable(error: OSError) -> None:  # never silently drop a folder: it may hold a target
        shown = Path(str(error.filename)).relative_to(root).as_posix() if error.filename else str(root)
        raise BakegenError(f"{shown}: cannot read this folder ({error.strerror}); fix its permissions or "
                           "leave it out with project.exclude")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        rel = Path(dirpath).relative_to(root).as_posix()
        if ".gitignore" in filenames:
            spec = _read_gitignore(root, join_path(rel, ".gitignore"), found.warnings)
            ignores[rel] = spec + ignores[rel] if rel in ignores else spec
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIRS and d not in TOOL_DIRS
            and not _is_virtualenv(Path(dirpath) / d)
            and not _ignored(join_path(rel, d) + "/", ignores)
        )
        for filename in sorted(filenames):
            if _ignored(join_path(rel, filename), ignores):
                continue
            if dockerfile_variant(filename) is not None:
                if _not_utf8(rel) or _not_utf8(filename):
                    shown = join_path(rel, filename).encode("utf-8", "surrogateescape")
                    raise BakegenError(f"{shown!r}: a path that is not UTF-8 (bake cannot name it); rename it "
                                       "or leave it out with project.exclude")
                found.dockerfiles.append((rel, filename))
            elif is_compose_file(filename) and not _not_utf8(rel):
                found.compose_files.append(join_path(rel, filename))
            elif not _not_utf8(rel) and not _not_utf8(filename):
                found.build_files.append(join_path(rel, filename))
    found.dockerfiles.sort()
    found.compose_files.sort()
    found.build_files = evidence_files(root, [*found.build_files, *_workflows(root)])
    return found


def _workflows(root: Path) -> list[str]:
    """GitHub workflows (`.github` is not walked: its Dockerfiles are no product images)."""
    folder = root / WORKFLOWS
    try:
        names = sorted(os.listdir(folder)) if folder.is_dir() and not folder.is_symlink() else []
    except OSError:
        return []
    return [f"{WORKFLOWS}/{n}" for n in names if n.endswith((".yml", ".yaml")) and not _not_utf8(n)]


def find_dockerfile_dirs(root: Path, exclude: list[str] | None = None) -> list[str]:
    """Folders (posix, relative to root, "." for root) holding a Dockerfile of any name."""
    return sorted({folder for folder, _ in walk(root, exclude).dockerfiles})


def _is_virtualenv(folder: Path) -> bool:
    try:
        return exists(folder / "pyvenv.cfg")
    except OSError:  # unreadable: os.walk says so when it lists the folder
        return False


def _not_utf8(name: str) -> bool:
    """os.walk hands back undecodable bytes as lone surrogates (surrogateescape)."""
    return any("\udc80" <= ch <= "\udcff" for ch in name)


def discover(root: Path, exclude: list[str] | None = None, names: dict[str, str] | None = None,
             find: bool = True) -> Project:
    """Targets from the tree: one per compose service with `build:`, and one per Dockerfile no
    compose service builds (its context inferred from what it copies). Bases live under docker/.

    `names` maps a Dockerfile's path (or `<compose file>:<service>`) to the target name wanted.
    With `find` false no target is looked for (`project.discover = false`): the config gives them all.
    """
    found = walk(root, exclude) if find else Found()
    origin_url, git_problem = git.origin_url(root)
    root_name = _repository_basename(origin_url) or "app"
    warnings: list[tuple[str, str]] = list(found.warnings)
    if git_problem:  # the defaults git would give (registry, default branch) are guesses now: say so
        warnings.append((GIT_UNREADABLE, git_problem))
    candidates, same_build = _compose_candidates(root, found.compose_files, warnings, git.tracked_files(root))
    claimed = {posixpath.normpath(join_path(c.context, c.dockerfile)) for c in candidates}
    evidence = read_evidence(root, found.build_files)
    for folder, filename in found.dockerfiles:
        shown = join_path(folder, filename)
        if shown in claimed:
            continue
        if not inside(root, shown):  # a symlink out: its target is not the repository's to build
            warnings.append((LINKED_OUT, shown))
            continue
        variant = dockerfile_variant(filename) or ""
        try:
            parsed = read_dockerfile(root / shown, shown)
        except Unreadable as e:  # a FIFO named Dockerfile, say: never opened, never a stop
            warnings.append((NOT_READ, str(e).split(";")[0]))
            continue
        except NoFrom:
            if not variant:  # a file named exactly Dockerfile is meant as one
                raise
            warnings.append((NO_FROM, shown))
            continue
        stated = stated_build(evidence, shown, parsed)
        decided = ""
        if stated is not None and stated.context is not None and inside(root, stated.context):
            context, dockerfile = stated.context, posixpath.relpath(shown, stated.context)
            decided = f"context from {stated.source}"
        else:
            context, dockerfile, context_warnings = infer_context(root, folder, filename, parsed)
            warnings += context_warnings
        stage = stated.stage if stated is not None else None
        if stage:
            decided += f"{', ' if decided else ''}stage from {stated.source}"
        name, qualifiers = path_name(folder, variant, root_name)
        plain = posixpath.basename(folder) if not variant and folder != "." else name  # what a person expects
        candidates.append(_Candidate(key=shown, origin=shown, folder=folder, context=context, dockerfile=dockerfile,
                                     parsed=parsed, wanted=(name, qualifiers), plain=target_name(plain), stage=stage,
                                     decided=decided))
    # bake reads `user@host:path` as a git remote, however the path is written: such a folder
    # cannot be a local context in a file that must not depend on where the repository lies.
    unreadable = [c for c in candidates if bake_reads_as_remote(c.context)]
    warnings += [(REMOTE_LOOKING_CONTEXT, c.origin) for c in unreadable]
    candidates = [c for c in candidates if c not in unreadable]
    chosen = _choose_names(candidates, names or {})
    targets: dict[str, Target] = {}
    for c in candidates:
        name = chosen[c.key]
        contexts = {k: _service_context(v, c, chosen, same_build) for k, v in c.contexts.items()}
        targets[name] = Target(
            name=name, kind=kind_of(c.folder), context=c.context, dockerfile=c.dockerfile,
            stage=c.stage, args=dict(c.args), contexts=contexts, parsed=c.parsed,
            origin=c.origin, renamed=name != c.plain, image=c.image, decided=c.decided,
        )
    return Project(root=root, targets=targets, registry=default_registry(origin_url), exclude=list(exclude or []),
                   names=dict(names or {}), cache=CacheSettings(default_branch=default_branch(root)), warnings=warnings)


@dataclass
class _Candidate:
    key: str  # what `names` is keyed by
    origin: str
    folder: str  # the Dockerfile's folder
    context: str
    dockerfile: str
    parsed: Dockerfile
    wanted: tuple[str, list[str]]  # a name, and qualifiers that can lengthen it
    plain: str  # the name a person expects without thinking: the folder's, or the service's
    stage: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    contexts: dict[str, str] = field(default_factory=dict)
    file: str = ""  # the compose file, for its `service:` contexts
    decided: str = ""  # what a build file stated for it (`context from Makefile:12`)


def _compose_candidates(root: Path, files: list[str], warnings: list[tuple[str, str]],
                        tracked: frozenset[str] | None) -> tuple[list[_Candidate], dict[str, str]]:
    """Builds of every compose file. A file beside the folder's main one (`compose.yaml`,
    `docker-compose.yml`) overrides that one's services (compose's `-f a -f b`): only the services
    it adds are builds of their own. Also, for each `<file>:<service>` that makes no candidate of
    its own (the same build as one before it, or an override), the key of the one that builds it."""
    main_services: dict[str, set[str]] = {}
    main_file: dict[str, str] = {}
    same_build: dict[str, str] = {}
    ordered = sorted(files, key=lambda f: (posixpath.dirname(f), posixpath.basename(f) not in MAIN_COMPOSE_FILES, f))
    candidates: list[_Candidate] = []
    seen: dict[tuple, str] = {}  # a build's identity -> the key of the candidate made for it
    several_folders = len({posixpath.dirname(f) for f in files}) > 1
    for shown in ordered:
        folder = posixpath.dirname(shown)
        is_main = posixpath.basename(shown) in MAIN_COMPOSE_FILES and folder not in main_services
        read = read_compose(root, shown, frozenset() if is_main else frozenset(main_services.get(folder, ())),
                            tracked)
        warnings += read.warnings
        ordered += [f for f in read.includes if f not in ordered]  # `include:` of a file not found by name
        if is_main:
            main_services[folder], main_file[folder] = read.services, shown
        else:
            overrides = {f"{shown}:{s}": f"{main_file[folder]}:{s}" for s in read.services
                         if s in main_services.get(folder, ())}
            same_build |= {key: same_build.get(main, main) for key, main in overrides.items()}  # read before
        for build in read.builds:
            path = posixpath.normpath(join_path(build.context, build.dockerfile))
            identity = (path, build.context, build.stage, tuple(sorted(build.args.items())),
                        tuple(sorted(build.contexts.items())))
            if identity in seen:
                same_build[f"{shown}:{build.service}"] = seen[identity]
                continue
            seen[identity] = f"{shown}:{build.service}"
            parsed = read_dockerfile(root / path, path)
            dockerfile_folder = posixpath.dirname(path) or "."
            # Lengthened by the compose file's folders first (the sample, the app), then by the
            # Dockerfile's folders below it (`local` in compose/local/django).
            above = list(reversed(folder.split("/"))) if folder else []
            below = list(reversed(posixpath.relpath(dockerfile_folder, folder or ".").split("/")))
            qualifiers = [p for p in [*above, *below] if p not in (".", "..") and p.lower() != build.service.lower()
                          and p.lower() not in GENERIC_FOLDERS]
            wanted = (build.service, qualifiers)
            if several_folders and build.service.lower() in GENERIC_SERVICES and above:
                wanted = (f"{qualifiers[0]}-{build.service}", qualifiers[1:]) if qualifiers else wanted
            candidates.append(_Candidate(
                key=f"{shown}:{build.service}", origin=f"{shown}: service {build.service}", folder=dockerfile_folder,
                context=build.context, dockerfile=build.dockerfile, parsed=parsed,
                wanted=wanted, plain=target_name(build.service), stage=build.stage,
                args=build.args, image=build.image, contexts=build.contexts, file=shown,
            ))
    return candidates, same_build


def _choose_names(candidates: list[_Candidate], configured: dict[str, str]) -> dict[str, str]:
    fixed = {}
    for c in candidates:
        for key in (c.key, posixpath.normpath(join_path(c.context, c.dockerfile))):
            if key in configured:
                fixed[c.key] = configured[key]
    wanted = {c.key: c.wanted for c in candidates if c.key not in fixed}
    return {**unique_names(wanted, RESERVED_NAMES | set(fixed.values())), **fixed}


def _service_context(value: str, candidate: _Candidate, chosen: dict[str, str], same_build: dict[str, str]) -> str:
    """Compose's `service:NAME` context (and `target:NAME` in `x-bake`, where bake's target names
    are the compose file's service names) is bake's `target:` of the target that service makes."""
    prefix = next((p for p in ("service:", "target:") if value.startswith(p)), None)
    if prefix is None or not candidate.file:
        return value
    key = f"{candidate.file}:{value[len(prefix):]}"
    key = same_build.get(key, key)
    return f"target:{chosen[key]}" if key in chosen else value


def stated_build(evidence: list[Evidence], path: str, parsed: Dockerfile) -> Evidence | None:
    """What the repository's build files state for the Dockerfile at `path`: a command naming it
    outright before one naming it through a variable, the first in file order; a stage it does
    not have is no evidence."""
    matching = [e for e in evidence if e.matches(path) and (e.stage is None or e.stage in parsed.stage_names())]
    return min(matching, key=lambda e: "$" in e.dockerfile, default=None)


def kind_of(folder: str) -> Kind:
    """Folders under docker/ hold base images; every other folder a service."""
    return Kind.BASE if folder.split("/", 1)[0] == BASES_DIR and folder != BASES_DIR else Kind.SERVICE


FALLBACK_REGISTRY = "localhost:5000/app"
_GITHUB_REMOTE = re.compile(r"github\.com[:/]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?\Z")


def _repository_basename(url: str | None) -> str:
    """`acme/shop.git` -> `shop`: names the root's image the same in every clone."""
    if not url:
        return ""
    return re.sub(r"\.git$", "", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])


def default_branch(root: Path) -> str:
    """The branch `origin/HEAD` points at (`master` for some), else `main`."""
    return git.origin_head_branch(root) or "main"


def default_registry(url: str | None) -> str:
    """GHCR for a GitHub `origin` (ghcr.io/<owner>/<repo>, lowercased), else a fixed name: never
    the checkout folder's name, which differs between clones and CI runners."""
    if not url:
        return FALLBACK_REGISTRY
    m = _GITHUB_REMOTE.search(url)
    if not m:
        return FALLBACK_REGISTRY
    return f"ghcr.io/{repository_name(m.group(1))}/{repository_name(m.group(2))}"


def _read_gitignore(root: Path, shown: str, warnings: list[tuple[str, str]]) -> pathspec.PathSpec:
    """A `.gitignore`'s rules; lines git cannot read are left out with a warning naming them."""
    try:
        lines = read_text(root / shown, shown).splitlines()
    except Unreadable as e:
        warnings.append((NOT_READ, str(e)))
        lines = []
    spec, malformed = gitignore_spec(lines)
    warnings += [(MALFORMED_GITIGNORE, f"{shown}:{line} {pattern} ({reason})") for line, pattern, reason in malformed]
    return spec


def gitignore_spec(lines: list[str]) -> tuple[pathspec.PathSpec, list[tuple[int, str, str]]]:
    """gitignore rules matched by RE2 (linear time: `*a*a*a*a*b` cannot backtrack), and the lines
    that are no pattern (line number, text, why), left out as git leaves them out."""
    good, malformed = [], []
    for number, line in enumerate(lines, 1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line], backend="re2")
        except (re.error, ValueError) as e:  # a bad range (`[z-a]`), a trailing `\`: git matches nothing
            malformed.append((number, line.strip(), str(e).split(" at position")[0]))
            continue
        good.append(line)
    return pathspec.GitIgnoreSpec.from_lines(good, backend="re2"), malformed


def _ignored(path: str, ignores: dict[str, pathspec.PathSpec]) -> bool:
    """Whether the .gitignore of any folder above `path` matches it."""
    path = encodable(path)
    parts = path.rstrip("/").split("/")
    for depth in range(len(parts)):
        folder = "/".join(parts[:depth]) or "."
        spec = ignores.get(folder)
        if spec is not None and spec.match_file(path[len(folder) + 1:] if depth else path):
            return True
    return False
