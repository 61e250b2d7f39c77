"""Content-addressed images: `digest` (each target's inputs named by one digest), `lock` (upstream
images pinned in bakegen.lock) and `build_reused` (`build --reuse`: build only what no image of
the same inputs exists for). The registry and bake are injectable, so tests swap them."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bakegen.app.building import BuildListener, BuildResult, build, path_or_target
from bakegen.app.common import FileResult, Outcome, Say, load_project, silent, write_or_check
from bakegen.digest import TargetDigest, digests, upstream_images
from bakegen.graph import LoadedProject
from bakegen.lock import LOCK_FILE, LOCK_MARK, render_lock
from bakegen.model import BakegenError, Kind
from bakegen.options import BAKE_FILE, BuildOptions, DigestOptions, LockOptions
from bakegen.reuse import Decision, decide, image_repository, input_tag, overlay
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.registry import ImageName, Registry
from bakegen.writer import Owned

RegistryFor = Callable[[str], Registry]  # a host -> its client (tests give a stand-in)
LOCK_OWNED = Owned(LOCK_MARK, "remove it, or move it aside, for `bakegen lock` to write one")

# --- digest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    digests: dict[str, TargetDigest]  # the targets asked for and every target they build on

    @property
    def unlocked(self) -> list[str]:
        """Upstream images some digest names without a locked digest (bakegen.lock pins them)."""
        return sorted({image for d in self.digests.values() for image in d.unlocked})


def digest(options: DigestOptions, say: Say = silent) -> DigestResult:
    """One digest per target over all its build reads (bakegen.digest says what); the upstream
    images no lock pins told to `say`."""
    result = DigestResult(digests(load_project(options, say), options.targets))
    if result.unlocked:
        count = f"{len(result.unlocked)} upstream image{'s' * (len(result.unlocked) != 1)}"
        say(f"{count} not locked, digests use the name only (`bakegen lock` pins them): {', '.join(result.unlocked)}")
    return result


# --- lock ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockResult:
    file: FileResult
    locked: dict[str, str]  # what the lock holds after (or, with check, would hold)
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)  # image: (locked digest, registry's now)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # locked, but no Dockerfile names it now

    @property
    def failed(self) -> bool:
        return self.file.outcome.failed


def resolve(image: str, registry_for: RegistryFor) -> str:
    """The digest `image`'s tag names now, as its registry answers (anonymously for a public one)."""
    name = ImageName.parse(image)
    found = registry_for(name.host).digest_of(name.repository, name.reference)
    if found is None:
        raise BakegenError(f"upstream image {image}: {name.host} has no {name.repository}:{name.reference}")
    return found


def lock(options: LockOptions, say: Say = silent, registry_for: RegistryFor = Registry.for_host) -> LockResult:
    """bakegen.lock for every upstream image: a new image resolved, a locked one kept (`update`
    and `check` ask the registry about every one)."""
    project = load_project(options, say)
    wanted = upstream_images(project)
    old = dict(project.locked)
    locked, moved = {}, {}
    for key, image in wanted.items():
        if key in old and not (options.update or options.check):
            locked[key] = old[key]
            continue
        locked[key] = resolve(image, registry_for)
        if key in old and old[key] != locked[key]:
            moved[key] = (old[key], locked[key])
    added = sorted(set(locked) - set(old))
    dropped = sorted(set(old) - set(locked))
    if options.check:
        exists = (project.root / LOCK_FILE).exists()
        if old == locked and (exists or not locked):  # nothing to lock needs no file
            outcome = Outcome.CURRENT
        else:
            outcome = Outcome.STALE if exists else Outcome.MISSING
        file = FileResult(project.root / LOCK_FILE, render_lock(locked), outcome)
    else:
        file = write_or_check(project.root, project.root / LOCK_FILE, render_lock(locked), check=False,
                              owned=LOCK_OWNED, targets=len(locked))
    return LockResult(file, locked, moved, added, dropped)


# --- build --reuse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReuseResult:
    decisions: list[Decision]
    build: BuildResult | None  # None: nothing to build
    retagged: list[str] = field(default_factory=list)  # images given this run's tag by a manifest copy

    @property
    def ok(self) -> bool:
        return self.build is None or self.build.ok


def build_reused(options: BuildOptions, listener: BuildListener | None = None, say: Say = silent,
                 registry_for: RegistryFor = Registry.for_host,
                 bake: Callable[..., BakeResult] = run_bake) -> ReuseResult:
    """`build --reuse`: each target whose `<image>:in-<digest>` the registry holds is not built
    (with `push`, its manifest is copied to this run's tag: no layer moves); the rest are built
    by one bake call that tags each with its input tag too, the reused images given to the
    targets built on them as named contexts."""
    root, targets, _ = path_or_target(options)  # `bakegen build --reuse web`: the target, as build reads it
    options = replace(options, root=root, targets=targets)
    if not (root / BAKE_FILE).is_file():
        raise BakegenError(f"{root / BAKE_FILE}: missing; run `bakegen emit` first")
    project = load_project(options, say)
    found_digests = digests(project, options.targets)
    registry = os.environ.get("REGISTRY") or project.registry
    tag = os.environ.get("TAG") or project.tag
    host = registry.split("/", 1)[0].lower()
    client = registry_for(host)
    found = _found(project, found_digests, registry, client)
    decisions = decide(project, found_digests, registry, found, _previous(project, found, registry, tag, client), tag)
    retagged = []
    wanted = set(options.targets) or set(project.targets)
    if options.push:
        for decision in decisions:
            if decision.reused and decision.target in wanted:
                repository = _path(decision.repository)
                manifest = client.manifest(repository, input_tag(decision.digest))
                if manifest is None:
                    raise BakegenError(f"{decision.input_ref}: gone from the registry while this build ran")
                client.put_manifest(repository, tag, manifest)
                retagged.append(f"{decision.repository}:{tag}")
    to_build = [d.target for d in decisions if not d.reused]
    if not to_build:
        return ReuseResult(decisions, None, retagged)
    with tempfile.TemporaryDirectory(prefix="bakegen-reuse-") as folder:
        path = Path(folder) / "reuse.json"
        path.write_text(json.dumps(overlay(project, decisions, tag), indent=2, sort_keys=True), encoding="utf-8")
        # --bases-first: the bases still to build in their own call (the `bases` group would build reused ones too)
        bases = [n for n in to_build if project.targets[n].kind == Kind.BASE] if options.bases_first else []
        rest = [n for n in to_build if n not in bases]
        calls: list = []
        for names in filter(None, (bases, rest)):
            result = build(replace(options, targets=tuple(names), overlay=path, bases_first=False), listener, bake)
            calls += result.calls
            if not result.ok:
                break
    return ReuseResult(decisions, BuildResult(calls, result.rotation), retagged)


def _found(project: LoadedProject, found_digests: dict[str, TargetDigest], registry: str,
           client: Registry) -> dict[str, str | None]:
    """Each target's manifest digest under its input tag, None where the registry has none."""
    found: dict[str, str | None] = {}
    for name, target_digest in found_digests.items():
        manifest = client.manifest(_path(image_repository(project, registry, name)), input_tag(target_digest))
        found[name] = manifest.digest if manifest else None
    return found


def _previous(project: LoadedProject, found: dict[str, str | None], registry: str, tag: str,
              client: Registry) -> dict[str, dict[str, str] | None]:
    """The labels of the image under `tag` of each target to build (they say which inputs it was
    built from); nothing where they cannot be read: they only explain, they decide nothing."""
    previous: dict[str, dict[str, str] | None] = {}
    for name in (n for n, manifest in found.items() if manifest is None):
        try:
            previous[name] = client.labels(_path(image_repository(project, registry, name)), tag)
        except (BakegenError, ValueError, KeyError, TypeError, AttributeError):
            previous[name] = None
    return previous


# --- CI: what ci-plan hands the bake steps ------------------------------------------------------

OVERLAY_FILE = "bakegen-reuse.json"


@dataclass(frozen=True)
class CiReuse:
    decisions: list[Decision]
    to_build: list[str]  # bases first
    overlay: Path  # the bake file laid over docker-bake.hcl by the bake steps
    reused_metadata: str  # the reused images in bake's metadata form, for `ci-tags` (its commit tag)
    note: str = ""  # why nothing could be reused (the registry did not answer), if so

    @property
    def reused(self) -> list[str]:
        return [d.target for d in self.decisions if d.reused]

    def summary(self) -> str:
        """The job summary's table: each target reused or built, and why (Markdown)."""
        rows = [f"| {d.target} | {'reused' if d.reused else 'built'} | {d.why} |" for d in self.decisions]
        return "\n".join(["### Reused and built", "", "| target | | why |", "| --- | --- | --- |", *rows,
                          *(["", self.note] if self.note else []), ""]) + "\n"


def reuse_for_ci(project: LoadedProject, targets: list[str], registry: str, tag: str, folder: Path,
                 registry_for: RegistryFor = Registry.for_host) -> CiReuse:
    """ci-plan's reuse: the targets of this event (all when empty) whose input image exists are
    not built; the overlay (written to `folder`) gives the rest their input tags and the reused
    bases by digest. A registry that cannot be asked (not reachable, private without a login
    yet) reuses nothing: everything is built, never a missed rebuild."""
    found_digests = digests(project, targets)
    note = ""
    try:
        client = registry_for(registry.split("/", 1)[0].lower())
        found = _found(project, found_digests, registry, client)
        previous = _previous(project, found, registry, tag, client)
    except (BakegenError, ValueError) as e:  # ValueError: a REGISTRY no URL can hold
        note, found, previous = f"nothing reused: the registry could not be asked ({str(e)[:200]})", {}, {}
    decisions = decide(project, found_digests, registry, found, previous, tag)
    path = folder / OVERLAY_FILE
    path.write_text(json.dumps(overlay(project, decisions, tag), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    metadata = {d.target: {"image.name": f"{d.repository}:{tag}", "containerimage.digest": d.reused}
                for d in decisions if d.reused}
    return CiReuse(decisions, [d.target for d in decisions if not d.reused], path,
                   json.dumps(metadata, sort_keys=True) if metadata else "", note)


def _path(repository: str) -> str:
    """A repository without its registry host (`127.0.0.1:5000/acme/api` -> `acme/api`)."""
    return repository.split("/", 1)[1]
