"""Bench budgets: how fast each scenario must be, in seconds or as a share of the cold build.

Pure: parsing (`code-change=30`, `fresh-runner=15%`) and checking measured figures against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bakegen.bench.scenarios import NAMES, SCENARIOS
from bakegen.keys import Invalid, budget_form
from bakegen.model import BakegenError, Budget, Project

HEALTHY = "healthy"  # not a scenario: each service's time from container start to healthy
BUDGET_NAMES = (*NAMES, HEALTHY)

# Each scenario's own (bench.scenarios), then the original design's promise of a service healthy in 60 s.
DEFAULT_BUDGETS = (*(b for s in SCENARIOS for b in s.default_budgets), Budget(HEALTHY, seconds=60))


def budget_from(name: str, value: object) -> Budget:
    """A budget from a name and `30`, `"30s"` or `"5%"`; ValueError says what is wrong."""
    _known(name)
    try:
        kind, number = budget_form(value)  # the value's form is the config schema's (bakegen.keys)
    except Invalid as e:
        raise ValueError(e.reason) from None
    return named(Budget(name, **{kind: number}))


def named(budget: Budget) -> Budget:
    """`budget` if its name is a scenario's (or `healthy`) and its kind fits; else ValueError."""
    _known(budget.name)
    if budget.relative and budget.name in ("cold", HEALTHY):
        raise ValueError(f"a share of cold makes no sense for '{budget.name}'; give seconds")
    return budget


def _known(name: str) -> None:
    if name not in BUDGET_NAMES:
        raise ValueError(f"unknown budget '{name}' (known: {', '.join(BUDGET_NAMES)})")


def from_config(project: Project) -> list[Budget]:
    """The config's `[bench.budgets]`, names checked here: the schema checks their values only, as
    the scenarios are the bench's (and the config layer imports nothing of the bench)."""
    for budget in project.bench_budgets:
        try:
            named(budget)
        except ValueError as e:
            raise BakegenError(f"{project.config_file}: bench.budgets.{budget.name}: {e}") from None
    return project.bench_budgets


def parse_option(text: str) -> Budget:
    """`--budget SCENARIO=SECONDS` or `--budget SCENARIO=PERCENT%`."""
    name, eq, value = text.partition("=")
    try:
        if not eq:
            raise ValueError("expected SCENARIO=SECONDS or SCENARIO=PERCENT%")
        return budget_from(name.strip(), value)
    except ValueError as e:
        raise BakegenError(f"--budget {text}: {e}") from None


def merge(defaults: tuple[Budget, ...], *overrides: list[Budget]) -> list[Budget]:
    """Later budgets replace earlier ones of the same name and kind (seconds or share of cold)."""
    chosen: dict[tuple[str, bool], Budget] = {(b.name, b.relative): b for b in defaults}
    for layer in overrides:
        for budget in layer:
            chosen[(budget.name, budget.relative)] = budget
    return sorted(chosen.values(), key=lambda b: (BUDGET_NAMES.index(b.name), b.relative))


@dataclass(frozen=True)
class Verdict:
    budget: Budget
    measured: str  # as a person reads it: "41.2 s", "7.1 % of cold", "not measured (why)"
    breached: bool  # a failure: over the budget, or (--strict-budgets) not measured
    detail: str = ""  # by how much, when breached
    missing: bool = False  # nothing measured to hold it to: never "ok"

    @property
    def status(self) -> str:
        if self.missing:
            return "NOT MEASURED (--strict-budgets: a failure)" if self.breached else "not measured"
        return f"BREACHED {self.detail}" if self.breached else "ok"


def check(budgets: list[Budget], wall: dict[str, float], healthy: dict[str, float], *,
          asked: tuple[str, ...] | None = None, skipped: dict[str, str] | None = None,
          strict: bool = False) -> list[Verdict]:
    """Each budget against the figures: `wall` by scenario (median seconds), `healthy` by service.
    Budgets of scenarios not `asked` for are left out; one whose scenario was `skipped` (its
    reason) or not measured is "not measured", a failure when `strict`."""
    skipped = skipped or {}

    def missing(budget: Budget, why: str) -> Verdict:
        return Verdict(budget, f"not measured ({why})" if why else "not measured", strict,
                       "not measured" if strict else "", missing=True)

    verdicts = []
    cold = wall.get("cold")
    for budget in budgets:
        if budget.name == HEALTHY:
            for service, seconds in sorted(healthy.items()):
                verdicts.append(_seconds(Budget(f"{HEALTHY} {service}", seconds=budget.seconds), seconds))
            if not healthy:
                verdicts.append(missing(budget, "no image with a HEALTHCHECK became healthy"))
            continue
        if asked is not None and budget.name not in asked:
            continue
        seconds = wall.get(budget.name)
        if seconds is None:
            verdicts.append(missing(budget, skipped.get(budget.name, "")))
        elif budget.relative:
            assert budget.percent_of_cold is not None
            if not cold:
                verdicts.append(missing(budget, "no cold build"))
                continue
            share = 100 * seconds / cold
            over = share - budget.percent_of_cold
            verdicts.append(Verdict(budget, f"{share:.1f} % of cold", over > 0,
                                    f"over by {over:.1f} points" if over > 0 else ""))
        else:
            verdicts.append(_seconds(budget, seconds))
    return verdicts


def _seconds(budget: Budget, seconds: float) -> Verdict:
    assert budget.seconds is not None
    over = seconds - budget.seconds
    return Verdict(budget, f"{seconds:.2f} s", over > 0, f"over by {over:.2f} s" if over > 0 else "")
