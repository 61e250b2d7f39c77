"""Bench budgets: how fast each scenario must be, in seconds or as a share of the cold build.

Pure: parsing (`code-change=30`, `fresh-runner=15%`) and checking measured figures against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bakegen.bench.scenarios import NAMES, SCENARIOS
from bakegen.model import BakegenError, Budget

HEALTHY = "healthy"  # not a scenario: each service's time from container start to healthy
BUDGET_NAMES = (*NAMES, HEALTHY)
_VALUE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|s)?\s*$")

# Each scenario's own (bench.scenarios), then the original design's promise of a service healthy in 60 s.
DEFAULT_BUDGETS = (*(b for s in SCENARIOS for b in s.default_budgets), Budget(HEALTHY, seconds=60))


def budget_from(name: str, value: object) -> Budget:
    """A budget from a name and `30`, `"30s"` or `"5%"`; ValueError says what is wrong."""
    if name not in BUDGET_NAMES:
        raise ValueError(f"unknown budget '{name}' (known: {', '.join(BUDGET_NAMES)})")
    m = _VALUE.match(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    if not m:
        raise ValueError(f"{value!r} is not a budget (seconds such as 30, or a share of cold such as \"5%\")")
    number = float(m.group(1))
    if m.group(2) == "%":
        if name in ("cold", HEALTHY):
            raise ValueError(f"a share of cold makes no sense for '{name}'; give seconds")
        return Budget(name, percent_of_cold=number)
    return Budget(name, seconds=number)


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
    measured: str  # as a person reads it: "41.2 s", "7.1 % of cold", "not measured"
    breached: bool
    detail: str = ""  # by how much, when breached


def check(budgets: list[Budget], wall: dict[str, float], healthy: dict[str, float]) -> list[Verdict]:
    """Each budget against the figures: `wall` by scenario (median seconds), `healthy` by service."""
    verdicts = []
    cold = wall.get("cold")
    for budget in budgets:
        if budget.name == HEALTHY:
            for service, seconds in sorted(healthy.items()):
                verdicts.append(_seconds(Budget(f"{HEALTHY} {service}", seconds=budget.seconds), seconds))
            if not healthy:
                verdicts.append(Verdict(budget, "not measured", False))
            continue
        seconds = wall.get(budget.name)
        if seconds is None:
            verdicts.append(Verdict(budget, "not measured", False))
        elif budget.relative:
            assert budget.percent_of_cold is not None
            if not cold:
                verdicts.append(Verdict(budget, "not measured (no cold build)", False))
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
