"""Which targets a change affects: those whose build input changed, and everything built on them."""

from __future__ import annotations

import posixpath

from bakegen import dockerignore
from bakegen.git import changed_paths
from bakegen.model import Project
from bakegen.paths import join_path, relative_to
from bakegen.plan import dependents, target_links, with_platform_caches

# A change to these changes what every target's build is told to do.
PROJECT_WIDE_FILES = ("bakegen.toml", "docker-bake.hcl")


def affected_targets(
    project: Project,
    links: dict[str, dict[str, str]],
    changed: list[str],
    ignore_rules: dict[str, list[dockerignore.Rule]],
) -> list[str]:
    """Targets whose build input changed, plus every target built on them.

    `changed` holds posix paths relative to the project root; `ignore_rules` maps each target to
    its ignore file's rules (files they leave out do not reach the build).
    """
    if any(path in PROJECT_WIDE_FILES for path in changed):
        return with_platform_caches(project, sorted(project.targets))
    hit = set()
    for name, target in project.targets.items():
        dockerfile = posixpath.normpath(join_path(target.context, target.dockerfile))
        local_contexts = [target.context] + [
            posixpath.normpath(v) for v in target.contexts.values() if "://" not in v
            and not v.startswith("target:")
        ]
        for path in changed:
            if path == dockerfile:
                hit.add(name)
                break
            inside = relative_to(path, target.context)
            rules = ignore_rules.get(name, [])
            if inside is not None and not dockerignore.is_ignored(rules, inside):
                hit.add(name)
                break
            if any(relative_to(path, folder) is not None for folder in local_contexts[1:]):
                hit.add(name)
                break
    return with_platform_caches(project, sorted(dependents(links, hit)))


def affected_since(project: Project, since: str) -> list[str]:
    """`affected_targets` for the changes in the work tree since the git revision `since`."""
    return affected_targets(project, target_links(project), changed_paths(project.root, since),
                            dockerignore.rules_by_target(project))
