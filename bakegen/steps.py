"""Which target's Dockerfile holds a step BuildKit ran.

BuildKit names a step shared through a linked base after whichever target asked for it first
(`[report] RUN echo HEAVY` can be base-gamma's step): the step is given back to the target
whose Dockerfile holds that instruction, the nearest base of the named target when several do.
"""

from __future__ import annotations

from bakegen.graph import TargetGraph
from bakegen.model import Project


def instruction_index(project: Project) -> dict[str, set[str]]:
    """Each instruction, as BuildKit names its step, and the targets whose Dockerfile holds it."""
    index: dict[str, set[str]] = {}
    for name, target in project.targets.items():
        for instruction in target.parsed.instructions if target.parsed else ():
            if instruction.keyword != "FROM":
                index.setdefault(instruction.shown(), set()).add(name)
    return index


def owner(named: str, instruction: str, index: dict[str, set[str]], graph: TargetGraph) -> str:
    """The target a step belongs to: `named` (BuildKit's label, "" when bake built one target)
    if its Dockerfile holds `instruction`, else the nearest base of it that does, else the one
    target that does; BuildKit's label when nothing decides."""
    holders = index.get(" ".join(instruction.split()), set())
    if not holders or named in holders:
        return named
    nearest = graph.nearest_base(named, holders)
    if nearest is not None:
        return nearest
    return next(iter(holders)) if len(holders) == 1 else named
