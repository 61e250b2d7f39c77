"""Run `docker buildx bake` on a generated file and read BuildKit's progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakegen import command
from bakegen.render import BAKE_FILE
from bakegen.run.progress import ProgressReader, Step, Vertex

# dockerd's containerd image store sometimes fails a build with "failed to prepare extraction
# snapshot ... parent snapshot ... does not exist" (moby/buildkit#6521, open; GitHub's hosted
# runners hit it too). Running the same build once more is the known workaround.
ENGINE_BUG_6521 = "moby/buildkit#6521"
_6521_SIGNS = ("failed to prepare extraction snapshot", "parent snapshot", "does not exist")


def is_engine_bug_6521(message: str) -> bool:
    return all(sign in message for sign in _6521_SIGNS)


@dataclass
class BakeResult:
    returncode: int
    seconds: float
    steps: list[Step]
    messages: list[str] = field(default_factory=list)  # stderr lines that were not progress
    vertices: list[Vertex] = field(default_factory=list)  # every vertex, steps or not
    retried: str = ""  # why the build was run a second time (the known engine bug), if it was

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def executed(self, target: str | None = None) -> list[Step]:
        """Steps that did work (see `Step.ran`)."""
        return [s for s in self.steps if s.ran and (target is None or s.target == target)]

    def cached(self, target: str | None = None) -> list[Step]:
        return [s for s in self.steps if s.cached and (target is None or s.target == target)]

    def cache_problems(self) -> list[str]:
        """Cache imports and exports that failed without failing the build (ignore-error)."""
        return [f"{v.name}: {v.error}" for v in self.vertices if v.error and "cache" in v.name]

    def caches_not_there_yet(self) -> list[str]:
        """Cache refs an import found missing: normal on a branch's first build, not a failure."""
        return sorted({v.name.split("importing cache manifest from ", 1)[1] for v in self.vertices
                       if v.error and "importing cache manifest from" in v.name and "not found" in v.error})

    @property
    def bytes_pulled(self) -> int:
        """Bytes BuildKit reported fetching: cache imports and base images. (It reports no sizes
        for what it writes: cache exports and pushes are measured where they land instead.)"""
        return sum(sum(v.transfers.values()) for v in self.vertices if "exporting" not in v.name)

    def error_line(self) -> str:
        """The line that says why a failed bake failed."""
        errors = [m for m in self.messages if m.startswith("ERROR")] or self.messages
        return errors[-1] if errors else f"bake exited with {self.returncode}"


def _bake_command(bake_file: str, builder: str | None, *args: str) -> list[str]:
    return ["docker", "buildx", "bake", "-f", bake_file, *(["--builder", builder] if builder else []), *args]


def run_bake(
    root: Path,
    targets: Sequence[str] = (),
    *,
    bake_file: str = BAKE_FILE,
    builder: str | None = None,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    on_vertex: Callable[[Vertex], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> BakeResult:
    """Build `targets` (default group when empty) from `root`, where bake resolves paths, on
    `builder` (default: the current one). A build failed by the engine's known snapshot bug
    (`ENGINE_BUG_6521`) runs once more, after `on_retry` is told why; its result counts a step
    that ran in either attempt as run, and its time is both attempts'."""
    args = _bake_command(bake_file, builder, "--progress=rawjson", *extra_args, *targets)
    first = _bake_once(args, root, env, on_vertex)
    bug = next((m for m in first.messages if is_engine_bug_6521(m)), None)
    if first.ok or bug is None:
        return first
    why = f"the engine's known snapshot bug ({ENGINE_BUG_6521}): {bug}"
    if on_retry:
        on_retry(why)
    second = _bake_once(args, root, env, on_vertex)
    return _after_retry(first, second, why)


def run_build(args: Sequence[str], *, cwd: Path, timeout: float,
              on_retry: Callable[[str], None] | None = None) -> None:
    """A plain `docker buildx build` (bench's baseline), run once more on the engine's known
    snapshot bug as `run_bake` does."""
    try:
        command.run(args, cwd=cwd, timeout=timeout)
    except command.CommandError as e:
        if not is_engine_bug_6521(e.reason):
            raise
        if on_retry:
            on_retry(f"the engine's known snapshot bug ({ENGINE_BUG_6521}): {e.reason}")
        command.run(args, cwd=cwd, timeout=timeout)


def _after_retry(first: BakeResult, second: BakeResult, why: str) -> BakeResult:
    """The second attempt's result, where a step the first attempt completed counts as run
    (the second finds it in the cache because the first did the work)."""
    ran_before = {(s.target, s.stage, s.instruction): s for s in first.steps if s.ran}
    steps = [ran_before.get((s.target, s.stage, s.instruction), s) if s.cached else s for s in second.steps]
    return BakeResult(second.returncode, first.seconds + second.seconds, steps, second.messages,
                      second.vertices, retried=why)


def _bake_once(args: list[str], root: Path, env: dict[str, str] | None,
               on_vertex: Callable[[Vertex], None] | None) -> BakeResult:
    reader = ProgressReader(on_vertex)
    start = time.perf_counter()
    process = command.stream(args, cwd=root, env=env)
    assert process.stderr is not None
    try:
        for line in process.stderr:
            reader.feed_line(line)
        returncode = process.wait()
    except BaseException:  # interrupted: no bake left running behind us
        command.stop(process)
        raise
    seconds = time.perf_counter() - start
    messages = reader.other_lines + [f"{v.name}: {v.error}" for v in reader.vertices.values() if v.error]
    return BakeResult(returncode, seconds, reader.steps(), messages, list(reader.vertices.values()))
