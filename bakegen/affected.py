"""Which targets a change affects: those whose build input changed, and everything built on them."""

from __future__ import annotations

from bakegen import dockerignore
from bakegen.git import changed_paths
from bakegen.graph import LoadedProject
from bakegen.plan_cache import with_platform_caches

# A change to these changes what every target's build is told to do.
PROJECT_WIDE_FILES = ("bakegen.toml", "docker-bake.hcl")


def affected_targets(project: LoadedProject, changed: list[str],
                     ignore_rules: dict[str, list[dockerignore.Rule]]) -> list[str]:
    """Targets whose build input changed (the graph's `reached`: their Dockerfile, a file of
    their context their ignore file keeps, a local named context), plus every target built on them.

    `changed` holds posix paths relative to the project root; `ignore_rules` maps each target to
    its ignore file's rules.
    """
    if any(path in PROJECT_WIDE_FILES for path in changed):
        return with_platform_caches(project, sorted(project.targets))
    graph = project.graph
    return with_platform_caches(project, sorted(graph.built_on(graph.reached(changed, ignore_rules))))


def affected_since(project: LoadedProject, since: str) -> list[str]:
    """`affected_targets` for the changes in the work tree since the git revision `since`."""
    return affected_targets(project, changed_paths(project.root, since), dockerignore.rules_by_target(project))
