"""One digest per target over every input of its build: the inputs' digest names the output.

What a target's digest covers (`inputs_of`): its Dockerfile's instructions as BuildKit reads them
(the `# syntax=` frontend, the global ARGs, each instruction's text and heredocs, never line
numbers or comments), its build args, platforms, stage, labels and secret ids, every file its
context sends after the ignore file (path, content, executable bit; a symlink as the link it is,
never followed), every named context (a local folder's files, a linked target's digest, anything
else as written), and each upstream image's digest from bakegen.lock (without one, its name, and
the digest says so: `unlocked`).

Nothing that differs between clones or machines enters it: no mtime, no owner, no absolute path,
no `.git` folder (its packs and index differ in every clone; an image that copies it is no more
reproducible than that), entries sorted by their bytes. A file's content is hashed as a stream,
so a file of any size costs memory of one buffer. The digest may move when BuildKit would rerun
nothing (a change to a stage the target does not build, a sent file no step copies): it errs
toward building, never toward a missed rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bakegen import dockerignore
from bakegen.dockerfile import external_refs
from bakegen.graph import TARGET_PREFIX, LoadedProject, local_folder
from bakegen.model import BakegenError, Dockerfile, Project, Target
from bakegen.names import normalize_image_ref
from bakegen.plan import replacement_contexts

FORMAT = "bakegen-digest-1"  # changes when what a digest covers changes: every digest moves with it
_CHUNK = 1 << 20  # bytes read at a time from a context file
_SKIPPED_FOLDERS = frozenset({b".git"})
SCRATCH = "scratch"  # BuildKit's empty base: no image, nothing to lock
UNLOCKED = "unlocked:"  # an upstream image that bakegen.lock does not pin, as the digest names it


@dataclass(frozen=True)
class TargetDigest:
    name: str
    digest: str  # sha256:<hex>
    unlocked: tuple[str, ...] = ()  # upstream images it names that bakegen.lock does not pin
    parts: Mapping[str, str] = field(default_factory=dict)  # each kind of input: 16 hex of its own digest

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


def digests(project: LoadedProject, names: Iterable[str] = ()) -> dict[str, TargetDigest]:
    """The digest of each target of `names` (all when empty) and of every target it builds on."""
    wanted = set(names) or set(project.targets)
    unknown = sorted(wanted - set(project.targets))
    if unknown:
        raise BakegenError(f"no target named {', '.join(repr(n) for n in unknown)} "
                           f"(targets: {', '.join(sorted(project.targets))})")
    needed = _with_bases(project, wanted)
    files = ContextFiles(project.root)
    found: dict[str, TargetDigest] = {}
    for name in project.graph.order:  # bases first: a target's digest holds its bases'
        if name in needed:
            document, unlocked = inputs_of(project.targets[name], project, found, files)
            parts = {key: _sha256_json({key: value})[:16] for key, value in sorted(document.items()) if key != "format"}
            found[name] = TargetDigest(name, "sha256:" + _sha256_json(document), tuple(unlocked), parts)
    return {name: found[name] for name in sorted(needed)}


def _with_bases(project: LoadedProject, names: set[str]) -> set[str]:
    result, todo = set(names), list(names)
    while todo:
        for base in project.graph.bases(todo.pop()):
            if base not in result:
                result.add(base)
                todo.append(base)
    return result


def inputs_of(target: Target, project: LoadedProject, bases: Mapping[str, TargetDigest],
              files: ContextFiles) -> tuple[dict, list[str]]:
    """The document a target's digest is the hash of, and the upstream images it names unpinned."""
    if target.parsed is None:
        raise BakegenError(f"target '{target.name}': its Dockerfile {target.dockerfile} was not found in "
                           f"{target.context}; no digest without it")
    links = project.graph.links[target.name]
    contexts: dict[str, str] = {}
    for key, value in sorted(target.contexts.items()):
        folder = local_folder(value)
        contexts[key] = ("files:" + files.digest(folder, dockerignore.read(project.root / folder, root=project.root))
                         if folder is not None and not value.startswith(TARGET_PREFIX) else value)
    contexts.update(replacement_contexts(target, project))
    contexts.update({key: bases[base].digest for key, base in links.items()})
    upstream, unlocked = {}, []
    for ref in external_refs(target.parsed, target.args):
        key = normalize_image_ref(ref)
        if key in contexts or key in upstream or key == SCRATCH:  # a context replaces it; scratch is no image
            continue
        if "@" in ref:  # pinned by its digest where it is named
            upstream[key] = ref
            continue
        pinned = project.locked.get(key)
        upstream[key] = pinned or UNLOCKED + key
        if pinned is None:
            unlocked.append(ref)
    rules = dockerignore.read_for(project.root, target.context, target.dockerfile)
    document = {
        "format": FORMAT,
        "dockerfile": dockerfile_inputs(target.parsed),
        "stage": target.stage,
        "args": dict(sorted(target.args.items())),
        "platforms": sorted(target.platforms),
        "labels": dict(sorted({**project.labels, **target.labels}.items())),
        "secrets": sorted(s.split(",", 1)[0] for s in target.secrets),  # ids: the values are never known
        "context": files.digest(target.context, rules),
        "contexts": dict(sorted(contexts.items())),
        "upstream": dict(sorted(upstream.items())),
    }
    return document, sorted(set(unlocked))


# What each part of a digest's document is, for a person (`build --reuse` says which changed).
PART_NAMES = {"dockerfile": "Dockerfile instructions", "stage": "stage", "args": "build args",
              "platforms": "platforms", "labels": "labels", "secrets": "secret ids", "context": "context files",
              "contexts": "named contexts or a base", "upstream": "upstream images"}


def dockerfile_inputs(parsed: Dockerfile) -> dict:
    """What of a Dockerfile decides its build: the frontend, the global ARGs, and each
    instruction's keyword, text and heredocs in order (line numbers and comments do not)."""
    return {
        "syntax": parsed.syntax,
        "global_args": [list(arg) for arg in parsed.global_args],
        "instructions": [[i.stage, i.keyword, i.text, [[h.name, h.body] for h in i.heredocs]]
                         for i in parsed.instructions],
    }


def upstream_images(project: Project) -> dict[str, str]:
    """Every upstream image a target names by tag that no context replaces and no target is:
    normalised reference -> the reference as written (what `bakegen lock` resolves)."""
    found: dict[str, str] = {}
    links = project.graph.links if isinstance(project, LoadedProject) else {}
    for name, target in sorted(project.targets.items()):
        if target.parsed is None:
            continue
        replaced = set(target.contexts) | set(replacement_contexts(target, project)) | set(links.get(name, {}))
        for ref in external_refs(target.parsed, target.args):
            key = normalize_image_ref(ref)
            if "@" not in ref and key not in replaced and key != SCRATCH:
                found.setdefault(key, ref)
    return dict(sorted(found.items()))


def _sha256_json(document: dict) -> str:
    # surrogateescape: a file name that is no UTF-8 stays its own bytes, never an error
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class ContextFiles:
    """The digest of what a folder sends to a build, each folder and rule set hashed once per run
    (targets sharing the repository root as context walk it once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._done: dict[tuple, str] = {}

    def digest(self, folder: str, rules: list[dockerignore.Rule]) -> str:
        key = (folder, tuple((r.pattern, r.exclusion) for r in rules))
        if key not in self._done:
            self._done[key] = folder_digest(self.root / folder, rules)
        return self._done[key]


def folder_digest(folder: Path, rules: list[dockerignore.Rule]) -> str:
    """sha256 over each entry the folder sends after `rules`, in byte order of its path: a file as
    its content's sha256 and whether it is executable, a symlink as its target text, a folder by
    its name (an empty one is copied too). Records are NUL-separated: no path holds a NUL."""
    hasher = hashlib.sha256()
    can_return = any(rule.exclusion for rule in rules)  # a `!` rule can bring back files under an ignored folder
    stack = [b""]
    while stack:
        relative = stack.pop()
        try:
            with os.scandir(os.path.join(bytes(folder), relative) if relative else bytes(folder)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise BakegenError(f"{folder}: cannot read {os.fsdecode(relative) or '.'} ({e.strerror})") from None
        children = []
        for entry in entries:
            path = relative + b"/" + entry.name if relative else entry.name
            shown = os.fsdecode(path)
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                if entry.name in _SKIPPED_FOLDERS:
                    continue
                ignored = dockerignore.is_ignored(rules, shown)
                if not ignored:
                    hasher.update(b"d\0" + path + b"\0\n")
                if not ignored or can_return:
                    children.append(path)
                continue
            if dockerignore.is_ignored(rules, shown):
                continue
            if stat.S_ISLNK(mode):
                hasher.update(b"l\0" + path + b"\0" + os.readlink(entry.path) + b"\n")
            elif stat.S_ISREG(mode):
                executable = b"x" if mode & 0o111 else b"-"
                hasher.update(b"f\0" + path + b"\0" + executable + _file_sha256(entry.path, shown) + b"\n")
            else:  # a FIFO or socket: never opened (it would block); its presence counts
                hasher.update(b"o\0" + path + b"\0\n")
        stack.extend(reversed(children))  # depth first, in byte order
    return "sha256:" + hasher.hexdigest()


def _file_sha256(path: bytes, shown: str) -> bytes:
    """A regular file's sha256 read in chunks; O_NOFOLLOW: a file swapped for a link meanwhile is
    refused, never followed out of the repository."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise BakegenError(f"{shown}: cannot read ({e.strerror})") from None
    hasher = hashlib.sha256()
    with os.fdopen(fd, "rb", buffering=0) as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BakegenError(f"{shown}: changed while being read (no longer a regular file)")
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest().encode()
