"""What a bench run found: one Measure per bake, a ScenarioResult per scenario, the images'
figures and the machine. Plain data (made by bench.runner, shown by bench.report)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Measure:
    """One bake, as BuildKit reported it."""

    seconds: float
    steps_total: int
    steps_cached: int  # BuildKit's own flag
    steps_ran: int  # not cached and did work (see run.progress.Step.ran)
    bytes_pulled: int  # as BuildKit reported its downloads (cache imports, base images)
    bytes_pushed: int | None = None  # pushed images: what landed in their repositories (None: nothing pushed)


@dataclass
class ScenarioResult:
    name: str
    measures: list[Measure] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # files the scenario changed (then restored)
    skipped: str = ""  # why it did not run
    cache_bytes: int | None = None  # cold: size of the cache written, read where it landed
    # The same scenario built as a team without bakegen would (bench.baseline), by baseline name.
    baselines: dict[str, ScenarioResult] = field(default_factory=dict)

    @property
    def wall_s(self) -> float | None:
        return round(statistics.median(m.seconds for m in self.measures), 3) if self.measures else None

    @property
    def spread_s(self) -> tuple[float, float] | None:
        seconds = [m.seconds for m in self.measures]
        return (min(seconds), max(seconds)) if seconds else None

    def speedup(self, baseline: str) -> float | None:
        """How many times faster than `baseline` (its median over bakegen's)."""
        other = self.baselines.get(baseline)
        if other is None or other.wall_s is None or not self.wall_s:
            return None
        return round(other.wall_s / self.wall_s, 2)

    def last(self) -> Measure | None:
        return self.measures[-1] if self.measures else None


@dataclass
class ServiceFigures:
    image: str
    size_bytes: int | None
    healthy_s: float | None
    note: str = ""  # why healthy_s is missing ("no healthcheck", "not measured here: no GPU")


@dataclass
class BenchRun:
    scenarios: list[ScenarioResult]
    services: dict[str, ServiceFigures]
    machine: dict[str, str | int]
