"""Results as lines for a person: what the CLI prints (through its escapers, bakegen/sinks.py)
and what a library user can print the same way. No I/O here, and nothing imported that a
command does not need (the CLI loads this for every command)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakegen.app.building import BakeCall, DoctorResult, Rotation
    from bakegen.app.content import DigestResult, LockResult, ReuseResult
    from bakegen.app.repository import ImpactResult, InitResult
    from bakegen.run.builder import Status
    from bakegen.run.progress import Step


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class TellBuild:
    """A build as it runs, in words (a BuildListener of bakegen/app/building.py): to `tell`, each
    step as BuildKit finishes it (unless quiet) and each bake call's summary; to `say` (a line of
    bakegen's own), warnings and retries."""

    def __init__(self, tell: Callable[[str], None], say: Callable[[str], None], quiet: bool = False) -> None:
        self.tell, self.say, self.quiet = tell, say, quiet

    def bake_started(self, targets: list[str]) -> None:
        self.tell(f"bake {' '.join(targets) or 'default'}")

    def step(self, step: Step) -> None:
        if not self.quiet:
            state = "cached" if step.cached else f"{step.seconds:5.1f}s"
            where = f"{step.target}{' ' + step.stage if step.stage else ''}"
            self.tell(f"  {state:>7}  [{where}] {step.instruction[:100]}")

    def retry(self, why: str) -> None:
        self.say(f"build failed on {why}; running it once more")

    def bake_finished(self, call: BakeCall) -> None:
        result, missing = call.result, call.result.caches_not_there_yet()
        if missing:
            self.say(f"no cache yet at {plural(len(missing), 'ref')} (normal on a branch's first build): "
                     + ", ".join(missing))
        for problem in result.cache_problems():
            if not any(ref in problem and "not found" in problem for ref in missing):
                self.say(f"warning: {problem}")
        self.tell(f"{len(result.steps)} steps: {len(result.cached())} cached, "
                  f"{len(result.executed())} executed, {result.seconds:.1f}s")
        self.tell("  " + "; ".join(f"{t}: {ran} executed, {kept} cached"
                                   for t, (ran, kept) in sorted(call.per_target.items())))


def rotation_lines(rotation: Rotation) -> list[str]:
    """What a cache rotation did; the folders it refused as warnings."""
    rotated = rotation.rotated
    names = f" ({', '.join(rotated)})" if rotated else ""
    return [f"{rotation.folder}: rotated {len(rotated)} target caches{names}",
            *(f"bakegen: warning: {rotation.folder / name}: not a build cache, left as it is (and {name}.next "
              "beside it); point [cache] directory at a folder of its own" for name in rotation.refused)]


def impact_lines(result: ImpactResult, fmt: str = "text") -> list[str]:
    """Each changed path and the steps it runs again: an aligned table per path, or JSON."""
    if fmt == "json":
        return json.dumps({p: [s.as_dict() for s in steps] for p, steps in result.steps.items()}, indent=2).splitlines()
    lines = []
    for path, steps in result.steps.items():
        lines.append(path)
        if not steps:
            lines.append("  nothing runs again (no build takes this file)")
        width = max((len(s.target) for s in steps), default=0)
        where_width = max((len(f"{s.stage}:{s.line}") for s in steps), default=0)
        lines += [f"  {s.target:<{width}}  {f'{s.stage}:{s.line}':<{where_width}}  {s.cost:<8} {s.instruction[:100]}"
                  for s in steps]
    return lines


def doctor_lines(result: DoctorResult) -> list[str]:
    lines = []
    for check in result.checks:
        lines.append(f"{'ok  ' if check.ok else 'MISS'} {check.name}: {check.detail}")
        if not check.ok and check.advice:
            lines.append(f"     -> {check.advice}")
    return lines


def status_lines(found: Status) -> list[str]:
    info = found.info
    pid = f", buildkitd pid {found.pid}" if found.pid else ""
    state = f"{found.state_dir} (made by bakegen{pid})" if found.state is not None else \
        "none (not made by `bakegen builder up`)"
    return [f"{label + ':':<10} {value}" for label, value in (
        ("name", info.name), ("driver", info.driver), ("endpoint", info.endpoint or "-"),
        ("status", ", ".join(n.status for n in info.nodes) or "no nodes"), ("buildkit", info.buildkit),
        ("disk used", found.disk), ("state", state))]


def digest_lines(result: DigestResult, fmt: str = "text") -> list[str]:
    """`<digest>  <target>` lines, or JSON of target -> "sha256:<hex>"."""
    if fmt == "json":
        return json.dumps({name: d.digest for name, d in result.digests.items()}, indent=2).splitlines()
    return [f"{found.digest}  {name}" for name, found in result.digests.items()]


def lock_lines(result: LockResult, check: bool) -> list[str]:
    """What `lock` found moved, added and dropped, then its verdict on bakegen.lock."""
    lines = [f"{image}: moved {before} -> {now}" for image, (before, now) in sorted(result.moved.items())]
    lines += [f"{image}: {'not locked' if check else 'locked'} ({result.locked[image]})" for image in result.added]
    lines += [f"{image}: locked, but no Dockerfile names it{'' if check else ' (dropped)'}" for image in result.dropped]
    images, outcome, path = plural(len(result.locked), "image"), result.file.outcome, result.file.path
    if not check:
        return [*lines, f"wrote {path} ({images})"]
    if outcome.failed:
        return [*lines, f"{path}: {outcome}; run `bakegen lock{' --update' if outcome == 'stale' else ''}`"]
    return [*lines, f"{path} is current ({images})"]


def reuse_lines(result: ReuseResult) -> list[str]:
    """Each target reused or built, and why; a line when nothing is left to build."""
    lines = [f"{'reused' if d.reused else 'built ':6}  {d.target}: {d.why}" for d in result.decisions]
    return lines if result.build is not None else [*lines, f"nothing to build: {plural(len(lines), 'target')} reused"]


def init_lines(result: InitResult) -> list[str]:
    """The file `init` wrote, what `--from` could not carry, and the args a FROM needs that nothing gives."""
    return [f"wrote {result.path} ({plural(result.targets, 'target')})",
            *(f"bakegen: not carried: {note}" for note in result.notes),
            *(f"bakegen: set {', '.join(args)} under [targets.{name}] args: a FROM needs them"
              for name, args in sorted(result.missing_args.items()))]
