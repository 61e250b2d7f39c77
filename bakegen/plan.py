"""Pure decisions over the model: links between targets, groups, image tags, cache refs.

The result, a `BakePlan`, is what the renderer writes: blocks of attributes whose values are
literal strings, lists, maps, booleans, or `Template`s that mix literal text with bake
expressions (`${REGISTRY}`). Literal text is escaped once, by the renderer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bakegen.dockerfile import external_refs, normalize_image_ref, repository_of
from bakegen.model import OWN_LABELS, BakegenError, CacheBackend, CacheSettings, Project, Target
from bakegen.names import RESERVED_NAMES, repository_name

COMMON_TARGET = "_common"
# Backends whose writes the CACHE_EXPORT variable switches (inline and none write nothing to switch).
EXPORT_SWITCHED = (CacheBackend.REGISTRY, CacheBackend.LOCAL, CacheBackend.GHA)
LOCAL_NEXT_SUFFIX = ".next"  # local cache: written here, then swapped in by `bakegen cache rotate`
BUILTIN_GROUPS = ("default", "bases", "services")


@dataclass(frozen=True)
class Expr:
    """A bake (HCL) expression, written inside `${...}` in a string or bare as a value."""

    code: str


@dataclass(frozen=True)
class Template:
    """A string made of literal parts and expressions."""

    parts: tuple[str | Expr, ...]


@dataclass(frozen=True)
class Conditional:
    """`COND ? value : []` in bake: a list that is empty unless a boolean variable is true."""

    condition: str
    value: list[Template]


@dataclass(frozen=True)
class Concat:
    """`concat(a, b, ...)` of conditional lists in bake."""

    parts: tuple[Conditional, ...]


Value = str | bool | Template | Expr | Conditional | Concat | list["Value"] | dict[str, "Value"]


@dataclass
class Variable:
    name: str
    default: Value
    description: str


@dataclass
class BakePlan:
    variables: list[Variable]
    groups: dict[str, list[str]]
    targets: dict[str, dict[str, Value]]  # name -> attributes in output order
    comments: dict[str, str] = field(default_factory=dict)  # name -> what made the target


# --- links between targets -------------------------------------------------------------------


def target_links(project: Project) -> dict[str, dict[str, str]]:
    """For each target, the references that name another target: {context key: target}.

    A FROM, `COPY --from` or `RUN --mount from=` names a target by its name, by the image bakegen
    tags it with (`<REGISTRY>/<name>`, any tag), or by the image its compose service gives it;
    a digest-pinned reference names a published image and is never a link. Contexts a user
    declares (`target:X`, or `docker-image://` of such an image) count too.
    """
    by_ref: dict[str, str] = {}
    by_repository: dict[str, str] = {}
    registry = normalize_image_ref(project.registry)
    for name, target in sorted(project.targets.items()):
        by_ref.setdefault(normalize_image_ref(name), name)
        by_repository.setdefault(f"{registry}/{repository_name(name)}", name)
        if target.image:
            by_ref.setdefault(normalize_image_ref(target.image), name)

    def linked(ref: str) -> str | None:
        if "@" in ref:
            return None
        key = normalize_image_ref(ref)
        return by_ref.get(key) or by_repository.get(repository_of(key))

    links: dict[str, dict[str, str]] = {}
    for name, target in sorted(project.targets.items()):
        found: dict[str, str] = {}
        for ref in external_refs(target.parsed, target.args) if target.parsed else []:
            base = linked(ref)
            if base is not None and base != name:
                found[normalize_image_ref(ref)] = base
        for key, value in target.contexts.items():
            base = value[len("target:"):] if value.startswith("target:") else (
                linked(value[len("docker-image://"):]) if value.startswith("docker-image://") else None)
            if base in project.targets and base != name:
                found[key] = base
        links[name] = found
    bases_first(links)  # refuses a cycle
    return links


def bases_first(links: dict[str, dict[str, str]], what: str = "targets") -> list[str]:
    """Every name after all it builds on; a cycle is an error naming it. Depth-first with an
    explicit stack: a chain of any depth is fine (no recursion limit)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    order: list[str] = []
    for start in sorted(links):
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(set(links.get(start, {}).values())))]
        while stack:
            base = next(stack[-1], None)
            if base is None:
                done = path.pop()
                state[done] = 2
                order.append(done)
                stack.pop()
            elif state.get(base) == 1:  # on the current path: from there back to it is the cycle
                cycle = [*path[path.index(base):], base]
                raise BakegenError(f"cycle between {what}: {' -> '.join(cycle)}")
            elif base not in state:
                state[base] = 1
                path.append(base)
                stack.append(iter(sorted(set(links.get(base, {}).values()))))
    return order


def dependents(links: dict[str, dict[str, str]], names: set[str]) -> set[str]:
    """`names` plus every target that builds on one of them, transitively."""
    result = set(names)
    changed = True
    while changed:
        changed = False
        for target, bases in links.items():
            if target not in result and result.intersection(bases.values()):
                result.add(target)
                changed = True
    return result


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
    bases_first({g: {m: m for m in members if m in groups} for g, members in groups.items()}, "groups")
    return {g: sorted(set(m)) for g, m in sorted(groups.items())}


# --- cache -------------------------------------------------------------------------------------

_BRANCH_SLUG = 'regex_replace(lower(BRANCH), "[^a-z0-9_.-]+", "-")'


def branch_slug(branch: str) -> str:
    """What the bake file computes from BRANCH, computed here for the default branch.

    Lowercased as Go does (one character for one: Python's "İ".lower() is two characters where
    Go's is "i"), so the slug here is the one bake computes.
    """
    lowered = "".join(ch.lower()[:1] for ch in branch)
    return re.sub(r"[^a-z0-9_.-]+", "-", lowered)


def _cache_tag_prefix(scope: str) -> str:
    prefix = repository_name(scope)
    if len(prefix) > 100:
        raise BakegenError(f"target '{scope}': name too long for a cache tag (over 100)")
    return prefix


def compression_params(cache: CacheSettings, *, force: bool) -> str:
    """`compression=...` options of an export. Forced recompression only where asked: for cache
    exports it would recompress every layer pulled from upstream at every export."""
    params = f"compression={cache.compression.value}"
    if cache.compression_level is not None:
        params += f",compression-level={cache.compression_level}"
    if force:
        params += ",force-compression=true"
    return params


# Each backend's refs: (reads, writes), functions of the target, the project, the scope name that
# names the refs, and (writes) the export options.
Reads = Callable[[Target, Project, str], list[Template]]
Writes = Callable[[Target, Project, str, str], list[Template]]


def _registry_reads(target: Target, project: Project, name: str) -> list[Template]:
    prefix = _cache_tag_prefix(name)
    room = 127 - len(prefix)
    default = f"{prefix}-{branch_slug(project.cache.default_branch)}"[:128]
    return [
        Template(("type=registry,ref=", Expr("lower(CACHE_REPO)"), f":{prefix}-",
                  Expr(f"substr({_BRANCH_SLUG}, 0, {room})"))),
        Template(("type=registry,ref=", Expr("lower(CACHE_REPO)"), f":{default}")),
    ]


def _registry_writes(target: Target, project: Project, name: str, options: str) -> list[Template]:
    branch_ref = _registry_reads(target, project, name)[0].parts
    return [Template((*branch_ref, f",{options},image-manifest=true,oci-mediatypes=true,ignore-error=true"))]


CACHE_REFS: dict[CacheBackend, tuple[Reads, Writes]] = {
    CacheBackend.REGISTRY: (_registry_reads, _registry_writes),
    CacheBackend.LOCAL: (
        lambda target, project, name: [Template(("type=local,src=", Expr("CACHE_DIR"), f"/{name}"))],
        # Written beside the one read, then swapped in by `bakegen cache rotate`: a local cache
        # exported over itself keeps every old blob and grows without bound.
        lambda target, project, name, options: [
            Template(("type=local,dest=", Expr("CACHE_DIR"), f"/{name}{LOCAL_NEXT_SUFFIX},{options}"))],
    ),
    CacheBackend.GHA: (
        lambda target, project, name: [Template((f"type=gha,scope={name}",))],
        lambda target, project, name, options: [Template((f"type=gha,scope={name},{options},ignore-error=true",))],
    ),
    CacheBackend.INLINE: (
        lambda target, project, name: [Template(("type=registry,ref=", *image_tag(target).parts))],
        lambda target, project, name, options: [Template(("type=inline",))],
    ),
    CacheBackend.NONE: (lambda target, project, name: [], lambda target, project, name, options: []),
}


def cache_from(target: Target, project: Project, scope: str | None = None) -> list[Template]:
    """Where the target reads its cache; `scope` (default: the target's name) names its refs."""
    reads, _ = CACHE_REFS[project.cache.backend]
    return reads(target, project, scope or target.name)


def cache_to(target: Target, project: Project, scope: str | None = None) -> list[Template]:
    """Where the target writes its cache (switched by CACHE_EXPORT where the backend writes)."""
    _, writes = CACHE_REFS[project.cache.backend]
    options = f"mode={project.cache.mode},{compression_params(project.cache, force=False)}"
    return writes(target, project, scope or target.name, options)


# --- tags, outputs, variables, targets ----------------------------------------------------------


def image_tag(target: Target) -> Template:
    return Template((Expr("lower(REGISTRY)"), f"/{repository_name(target.name)}:", Expr("TAG")))


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
    wanted = {normalize_image_ref(image) for image in external_refs(target.parsed, target.args)}
    return {
        normalize_image_ref(image): replacement
        for image, replacement in sorted(project.image_replacements.items())
        if normalize_image_ref(image) in wanted
    }


def plan_target(target: Target, project: Project, links: dict[str, str]) -> dict[str, Value]:
    attrs: dict[str, Value] = {"inherits": [COMMON_TARGET], "context": target.context}
    if target.dockerfile != "Dockerfile":
        attrs["dockerfile"] = target.dockerfile
    if target.stage:
        attrs["target"] = target.stage
    contexts: dict[str, Value] = dict(sorted(target.contexts.items()))
    contexts.update(replacement_contexts(target, project))
    contexts.update({key: f"target:{base}" for key, base in sorted(links.items())})
    if contexts:
        attrs["contexts"] = dict(sorted(contexts.items()))
    if target.args:
        attrs["args"] = dict(sorted(target.args.items()))
    if target.labels:
        attrs["labels"] = dict(sorted(target.labels.items()))
    if target.platforms:
        attrs["platforms"] = list(target.platforms)
    if target.secrets:
        attrs["secret"] = list(target.secrets)
    attrs["tags"] = [image_tag(target)]
    attrs.update(plan_cache(target, project))
    return attrs


def plan_cache(target: Target, project: Project, scope: str | None = None) -> dict[str, Value]:
    attrs: dict[str, Value] = {}
    from_refs = cache_from(target, project, scope)
    if from_refs:
        attrs["cache-from"] = from_refs
    to_refs = cache_to(target, project, scope)
    if to_refs:
        if project.cache.backend in EXPORT_SWITCHED:
            attrs["cache-to"] = Conditional("CACHE_EXPORT", to_refs)
        else:
            attrs["cache-to"] = to_refs
    return attrs


# --- one cache per platform ------------------------------------------------------------------

PLATFORM_CACHE_INFIX = "-cache-"


def platform_slug(platform: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", platform.lower()).strip("-")


def platform_cache_targets(target: Target, project: Project) -> list[str]:
    """Names of the cache-only targets, one per platform, of a target built for several."""
    if len(target.platforms) < 2 or project.cache.backend not in EXPORT_SWITCHED:
        return []
    return [f"{target.name}{PLATFORM_CACHE_INFIX}{platform_slug(p)}" for p in target.platforms]


def with_platform_caches(project: Project, names: list[str]) -> list[str]:
    """Target names plus the per-platform cache targets that go with them."""
    extra = [c for n in names if n in project.targets for c in platform_cache_targets(project.targets[n], project)]
    return sorted(set(names) | set(extra))


def split_cache_by_platform(target: Target, project: Project, attrs: dict[str, Value]) -> dict[str, dict[str, Value]]:
    """For a target built for several platforms, one cache-only target per platform.

    A builder of several nodes builds each platform on its own node, and each node exports the
    target's whole cache ref: the last writer wins and the other platforms' cache is lost
    (buildx issue 1044). Each `<target>-cache-<platform>` target builds one platform (on the
    same node as the target's build of it, so BuildKit does the work once) and writes its own
    ref; the target reads them all and writes none. They join every group the target is in,
    and `affected` and `bakegen build` name them with it. (A `target:` link would force them into
    every build of the target, but buildx refuses links between targets on different nodes.)
    """
    names = platform_cache_targets(target, project)
    if not names:
        return {}
    extra: dict[str, dict[str, Value]] = {}
    reads: list[Value] = []
    for name, platform in zip(names, target.platforms, strict=True):
        child = {k: v for k, v in attrs.items() if k not in ("cache-from", "cache-to", "tags")}
        child.update({"platforms": [platform], "output": ["type=cacheonly"]})
        child.update(plan_cache(target, project, name))
        extra[name] = child
        reads += cache_from(target, project, name)
    attrs.pop("cache-to", None)
    attrs["cache-from"] = reads
    return extra


# --- the whole plan ----------------------------------------------------------------------------


def check_names(project: Project) -> None:
    """What bake or a registry would refuse, said before any file is written, by every command."""
    repos: dict[str, str] = {}
    for name, target in sorted(project.targets.items()):
        where = f" (from {target.origin})" if target.origin else ""
        if name in RESERVED_NAMES:
            raise BakegenError(f"target '{name}'{where}: the name is bakegen's own; choose another in "
                               "bakegen.toml [names]")
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


def make_plan(project: Project) -> BakePlan:
    check_names(project)
    links = target_links(project)
    common: dict[str, Value] = {
        # project.labels on every image; bake merges each target's own labels over these (inherits)
        "labels": {**dict(sorted(project.labels.items())), **{k: Expr(v) for k, v in OWN_LABELS.items()}},
        "output": plan_outputs(project),
    }
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
