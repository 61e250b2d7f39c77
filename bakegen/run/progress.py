"""BuildKit's own account of a build: which steps ran and which came from the cache.

Reads the `--progress=rawjson` stream (one JSON object after another, each pretty-printed
with its closing brace alone at column 0), so cache hits are known from BuildKit, not guessed
from timings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

# "[pose-service deps 2/3] RUN pip install ...", "[base 1/2] RUN ...", "[1/2] COPY ..." (bake names
# no target when it builds one, and the stage has no name); BuildKit pads the step number to the
# width of the count: "[base runtime  9/12]".
_STEP = re.compile(r"^\[(?:(?P<target>[^\]\s]+)\s+)?(?:(?P<stage>[^\]\s]+)\s+)?(?P<n>\d+)/(?P<of>\d+)\] (?P<text>.*)$",
                   re.S)


NO_WORK_SECONDS = 0.001


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction as BuildKit ran it (or found it in the cache)."""

    target: str
    stage: str | None
    instruction: str
    cached: bool
    seconds: float

    @property
    def ran(self) -> bool:
        """Did work. BuildKit 0.26 marks some steps on top of a `target:`-linked base as not
        cached although they complete within microseconds, doing nothing (seen in no-op builds,
        1-10 µs). Real work (a RUN starts a container; a COPY makes a snapshot) takes far longer
        than a millisecond, so below that a step did not run."""
        return not self.cached and self.seconds >= NO_WORK_SECONDS


@dataclass
class Vertex:
    name: str
    cached: bool = False
    started: str | None = None
    completed: str | None = None
    error: str = ""
    transfers: dict[str, int] = field(default_factory=dict)  # status id (a blob) -> bytes moved

    @property
    def seconds(self) -> float:
        return _seconds(self.started, self.completed)


class ProgressReader:
    """Feeds on rawjson lines; calls `on_vertex` once for each vertex as it completes."""

    def __init__(self, on_vertex: Callable[[Vertex], None] | None = None):
        self.vertices: dict[str, Vertex] = {}
        self._buffer: list[str] = []
        self._on_vertex = on_vertex
        self._reported: set[str] = set()
        self.other_lines: list[str] = []

    def feed_line(self, line: str) -> None:
        if not self._buffer and not line.startswith("{"):
            if line.strip():
                self.other_lines.append(line.rstrip("\n"))
            return
        self._buffer.append(line)
        if line.rstrip("\r\n") == "}":
            text = "".join(self._buffer)
            self._buffer = []
            try:
                self._take(json.loads(text))
            except json.JSONDecodeError:
                self.other_lines.extend(text.splitlines())

    def feed(self, lines: Iterable[str]) -> ProgressReader:
        for line in lines:
            self.feed_line(line)
        return self

    def _take(self, message: dict) -> None:
        for raw in message.get("vertexes") or []:
            vertex = self.vertices.setdefault(raw["digest"], Vertex(name=raw.get("name", "")))
            vertex.cached = vertex.cached or bool(raw.get("cached"))
            vertex.started = raw.get("started", vertex.started)
            vertex.completed = raw.get("completed", vertex.completed)
            vertex.error = raw.get("error", vertex.error)
            if vertex.completed and raw["digest"] not in self._reported:
                self._report(raw["digest"], vertex)
        for status in message.get("statuses") or []:
            vertex = self.vertices.get(status.get("vertex", ""))
            size = max(status.get("total") or 0, status.get("current") or 0)
            if vertex is not None and size:
                key = status.get("id", "")
                vertex.transfers[key] = max(vertex.transfers.get(key, 0), size)

    def _report(self, digest: str, vertex: Vertex) -> None:
        self._reported.add(digest)
        if self._on_vertex:
            self._on_vertex(vertex)

    def steps(self) -> list[Step]:
        return [s for v in self.vertices.values() if (s := as_step(v)) is not None]


def as_step(vertex: Vertex) -> Step | None:
    m = _STEP.match(vertex.name)
    if not m:
        return None
    return Step(
        target=m.group("target") or "", stage=m.group("stage"), instruction=m.group("text"),
        cached=vertex.cached, seconds=vertex.seconds,
    )


def _seconds(started: str | None, completed: str | None) -> float:
    if not started or not completed:
        return 0.0
    return max(0.0, (_time(completed) - _time(started)).total_seconds())


def _time(stamp: str) -> datetime:
    # BuildKit writes nanoseconds; Python reads at most microseconds.
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp)
