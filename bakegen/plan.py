"""Pure decisions over the loaded project: groups, variables, each target's attributes, the
whole `BakePlan` the renderer writes (its values: plan_values; cache refs: plan_cache)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bakegen.dockerfile import external_refs
from bakegen.graph import IMAGE_PREFIX, LoadedProject, bases_first
from bakegen.model import OWN_LABELS, BakegenError, CacheBackend, Kind, Project, TagScheme, Target
from bakegen.names import RESERVED_NAMES, normalize_image_ref, repository_name
from bakegen.paths import bake_path, is_local_context
from bakegen.plan_cache import (
    EXPORT_SWITCHED,
    METADATA_TAGS,
    compression_params,
    image_tags,
    own_image,
    plan_cache,
    split_cache_by_platform,
    with_platform_caches,
)
from bakegen.plan_values import BakePlan, Concat, Conditional, Expr, Template, Value, Variable

COMMON_TARGET = "_common"
PLATFORMS_LIST = 'compact(split(",", PLATFORMS))'  # an empty PLATFORMS: the builder's own platform
ATTESTATIONS = ("type=sbom", "type=provenance,mode=max")
BUILTIN_GROUPS = ("default", "bases", "services")


# --- groups ------------------------------------------------------------------------------------


def plan_groups(project: Project) -> dict[str, list[str]]:
    names = sorted(project.targets)
    groups: dict[str, list[str]] = {
        "default": names,
        "bases": [n for n in names if project.targets[n].kind == "base"],
        "services": [n for n in names if project.targets[n].kind == "service"],
    }
    for group, members in project.groups.items():
        if group in BUILTIN_GROUPS:
            raise BakegenError(f"group '{group}' is made by bakegen; choose another name")
        groups[group] = list(members)
    for name in names:
        for group in project.targets[name].groups:
            if group in BUILTIN_GROUPS:
                raise BakegenError(f"targets.{name}.groups: '{group}' is made by bakegen")
            groups.setdefault(group, [])
            if name not in groups[group]:
                groups[group].append(name)
    for group, members in groups.items():
        if group in project.targets or group == COMMON_TARGET:
            raise BakegenError(f"'{group}' names both a group and a target; rename one")
        for member in members:
            if member not in project.targets and member not in groups:
                raise BakegenError(f"groups.{group}: no target or group named '{member}'")
    bases_first({g: [m for m in members if m in groups] for g, members in groups.items()}, "groups")
    return {g: sorted(set(m)) for g, m in sorted(groups.items())}


def plan_outputs(project: Project) -> Concat:
    """Where results go: pushed when PUSH, loaded into the engine when LOAD, else the driver's
    default (the docker driver loads; a container or remote builder keeps them in its cache)."""
    push = f"type=registry,oci-mediatypes=true,{compression_params(project.cache, force=True)}"
    return Concat((Conditional("PUSH", [Template((push,))]), Conditional("LOAD", [Template(("type=docker",))])))


def plan_variables(project: Project) -> list[Variable]:
    variables = [
        Variable("REGISTRY", project.registry, "Registry and namespace the images are tagged for."),
        Variable("TAG", project.tag, "Tag of every image."),
        Variable("SOURCE", project.source, "org.opencontainers.image.source label."),
        Variable("REVISION", "", "org.opencontainers.image.revision label (the commit)."),
        Variable("PUSH", False, "Push every image built to REGISTRY (compressed as the cache is)."),
        Variable("LOAD", False, "Load every image built into the Docker engine (needed with a builder of "
                                "its own; the docker driver loads by default)."),
    ]
    if project.tag_scheme == TagScheme.METADATA:
        variables += [Variable(var, "", f"Tag `{tag}` when set (`bakegen ci-plan` sets it).")
                      for var, tag in METADATA_TAGS if var != "TAG"]
        variables.append(Variable("LATEST", False, "Tag `latest` too (`bakegen ci-plan`: on the default branch)."))
    if project.defaults.platforms:
        variables.append(Variable("PLATFORMS", ",".join(project.defaults.platforms),
                                  "Platforms of every target without its own, comma-separated ([defaults])."))
    backend = project.cache.backend
    if backend == CacheBackend.REGISTRY:
        repo = project.cache.repository
        variables.append(Variable(
            "CACHE_REPO",
            repo if repo is not None else Template((Expr("REGISTRY"), "/build-cache")),
            "Repository whose tags hold the build cache, one tag per target and branch.",
        ))
        variables.append(Variable(
            "BRANCH", project.cache.default_branch,
            "Branch whose cache is written; the default branch's cache is read too.",
        ))
    if backend == CacheBackend.LOCAL:
        variables.append(Variable("CACHE_DIR", project.cache.directory,
                                  "Folder of the local build cache, one folder per target."))
    if backend in EXPORT_SWITCHED:
        variables.append(Variable(
            "CACHE_EXPORT", project.cache.export,
            "Write the cache: true only where the cache should be updated (CI, default branch).",
        ))
    return variables


def replacement_contexts(target: Target, project: Project) -> dict[str, str]:
    """Configured stand-ins for the upstream images this target's Dockerfile names.

    Keys are written normalised, as buildx compares them: `docker.io/library/python:latest`
    would otherwise never match `FROM python` (buildx issue 2328).
    """
    if not project.image_replacements or target.parsed is None:
        return {}
    wanted = {normalize_image_ref(image) for image in external_refs(target.parsed, target.args, target.stage)}
    return {
        normalize_image_ref(image): replacement
        for image, replacement in sorted(project.image_replacements.items())
        if normalize_image_ref(image) in wanted
    }


def locked_contexts(target: Target, project: Project) -> dict[str, str]:
    """The upstream images this target names by tag, pinned to their digest in bakegen.lock: a
    named context `docker-image://<image>@<digest>` replaces the FROM (bake supports no other
    way to pin a FROM from outside the Dockerfile)."""
    if not project.locked or target.parsed is None:
        return {}
    pins = {}
    for image in external_refs(target.parsed, target.args):
        key = normalize_image_ref(image)
        if "@" not in image and key in project.locked and key not in target.contexts:
            pins[key] = f"{IMAGE_PREFIX}{image}@{project.locked[key]}"
    return pins


def plan_target(target: Target, project: Project, links: Mapping[str, str]) -> dict[str, Value]:
    attrs: dict[str, Value] = {"inherits": [COMMON_TARGET], "context": bake_path(target.context)}
    if target.dockerfile != "Dockerfile":
        attrs["dockerfile"] = target.dockerfile
    if target.stage:
        attrs["target"] = target.stage
    contexts: dict[str, Value] = {key: bake_path(value) if is_local_context(value) else value
                                  for key, value in sorted(target.contexts.items())}
    contexts.update(locked_contexts(target, project))
    contexts.update(replacement_contexts(target, project))
    contexts.update({key: f"target:{base}" for key, base in sorted(links.items())})
    if contexts:
        attrs["contexts"] = dict(sorted(contexts.items()))
    if target.args:
        attrs["args"] = dict(sorted(target.args.items()))
    if target.labels:
        attrs["labels"] = dict(sorted(target.labels.items()))
    if target.platforms_from_defaults:
        attrs["platforms"] = Expr(PLATFORMS_LIST)
    elif target.platforms:
        attrs["platforms"] = list(target.platforms)
    if target.secrets:
        attrs["secret"] = list(target.secrets)
    attrs["tags"] = image_tags(target, project)
    attrs.update(plan_cache(target, project))
    return attrs


# --- the whole plan ----------------------------------------------------------------------------


def check_names(project: Project) -> None:
    """What bake or a registry would refuse, said before any file is written, by every command."""
    repos: dict[str, str] = {}
    for name, target in sorted(project.targets.items()):
        where = f" (from {target.origin})" if target.origin else ""
        if name in RESERVED_NAMES:
            raise BakegenError(f"target '{name}'{where}: the name is bakegen's own; choose another in "
                               "bakegen.toml [names]")
        if own_image(target, project) or target.tags is not None:  # its own image: a team may share one
            continue
        repo = repository_name(name)
        if repo in repos:
            raise BakegenError(f"targets '{repos[repo]}' and '{name}'{where} share image repository '{repo}'; "
                               "rename one in bakegen.toml [names]")
        repos[repo] = name


def origin_comment(target: Target) -> str:
    if not target.origin:
        return ""
    if target.renamed:
        return f"{target.origin}, named '{target.name}' (another name: bakegen.toml [names])"
    return target.origin


def make_plan(project: LoadedProject) -> BakePlan:
    check_names(project)
    links = project.graph.links
    common: dict[str, Value] = {
        # project.labels on every image; bake merges each target's own labels over these (inherits)
        "labels": {**dict(sorted(project.labels.items())), **{k: Expr(v) for k, v in OWN_LABELS.items()}},
        "output": plan_outputs(project),
    }
    if project.attestations:  # on pushed images only: a local build would spend its time on them
        common["attest"] = Conditional("PUSH", [Template((a,)) for a in ATTESTATIONS])
    targets: dict[str, dict[str, Value]] = {COMMON_TARGET: common}
    groups = plan_groups(project)
    for name in sorted(project.targets):
        targets[name] = plan_target(project.targets[name], project, links[name])
        for extra, attrs in split_cache_by_platform(project.targets[name], project, targets[name]).items():
            if extra in project.targets or extra in groups:
                raise BakegenError(f"'{extra}' would name the {name} cache of one platform; rename that target")
            targets[extra] = attrs
    groups = {g: with_platform_caches(project, members) for g, members in groups.items()}
    comments = {name: origin_comment(t) for name, t in project.targets.items() if t.origin}
    return BakePlan(variables=plan_variables(project), groups=groups, targets=targets, comments=comments)


# --- the overlay beside a hand-written bake file -------------------------------------------------

OVERLAY_PREFIX = "BAKEGEN_"  # bakegen's variables in an overlay: never a variable of theirs
OVERLAY_ONLY_COMMENT = "not built by bakegen (project.overlay_only): only its cache"


def make_overlay_plan(project: LoadedProject) -> BakePlan:
    """Only what bakegen adds to a hand-written bake file with the same target names, merged by
    `docker buildx bake -f theirs.hcl -f bakegen.hcl` (a later file's attributes win, key by key):
    each target's cache-from/cache-to and its named-context links, and the cache of each target
    of theirs bakegen does not build (project.overlay_only). No `_common`, no groups, and
    bakegen's variables prefixed, so nothing of theirs is replaced but those attributes."""
    check_names(project)
    links = project.graph.links
    targets: dict[str, dict[str, Value]] = {}
    for name in sorted(project.targets):
        target = project.targets[name]
        attrs: dict[str, Value] = {}
        contexts: dict[str, Value] = dict(replacement_contexts(target, project))
        contexts.update({key: f"target:{base}" for key, base in sorted(links[name].items())})
        if contexts:
            attrs["contexts"] = dict(sorted(contexts.items()))
        attrs.update(plan_cache(target, project))
        targets[name] = attrs
    for name in sorted(project.overlay_only):
        targets[name] = overlay_only_cache(name, project)
    used = {v.name for v in plan_variables(project)}
    referenced = _referenced(list(targets.values()), used)
    variables = [v for v in plan_variables(project) if v.name in referenced]
    while extra := _referenced([v.default for v in variables], used) - {v.name for v in variables}:
        variables += [v for v in plan_variables(project) if v.name in extra]  # CACHE_REPO's REGISTRY
    names = {v.name for v in variables}
    return BakePlan(
        variables=[Variable(OVERLAY_PREFIX + v.name, _prefixed(v.default, names), v.description) for v in variables],
        groups={}, targets={n: _prefixed(a, names) for n, a in targets.items()},  # type: ignore[misc]
        comments={**{name: origin_comment(t) for name, t in project.targets.items() if t.origin},
                  **{name: OVERLAY_ONLY_COMMENT for name in project.overlay_only}})


def overlay_only_cache(name: str, project: Project) -> dict[str, Value]:
    """The cache of a target of theirs bakegen does not build: its refs are named by the target's
    name alone, whatever its context. Inline cache is read from the target's image, which bakegen
    does not know here: such a target writes it and reads none."""
    attrs = plan_cache(Target(name=name, kind=Kind.SERVICE, context="."), project)
    if project.cache.backend == CacheBackend.INLINE:
        attrs.pop("cache-from", None)
    return attrs


def _words(names: set[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b") if names else re.compile(r"(?!)")


def _referenced(values: list[Value], names: set[str]) -> set[str]:
    """The variables among `names` that `values` use in their expressions."""
    found: set[str] = set()
    _prefixed(values, names, found)
    return found


def _prefixed(value: Value, names: set[str], seen: set[str] | None = None) -> Value:
    """`value` with each of the variables `names` renamed `BAKEGEN_<name>` in its expressions
    (collected in `seen` when given)."""
    pattern = _words(names)

    def rename(code: str) -> str:
        if seen is not None:
            seen.update(pattern.findall(code))
        return pattern.sub(lambda m: OVERLAY_PREFIX + m.group(1), code)

    def walk(v: Value) -> Value:
        if isinstance(v, Expr):
            return Expr(rename(v.code))
        if isinstance(v, Template):
            return Template(tuple(walk(p) if isinstance(p, Expr) else p for p in v.parts))  # type: ignore[misc]
        if isinstance(v, Conditional):
            return Conditional(rename(v.condition), [walk(t) for t in v.value])  # type: ignore[misc]
        if isinstance(v, Concat):
            return Concat(tuple(walk(p) for p in v.parts))  # type: ignore[misc]
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value)
