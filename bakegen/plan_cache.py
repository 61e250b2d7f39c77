"""Where each target reads and writes its build cache, per backend, and the cache-only targets
of a target built for several platforms."""

from __future__ import annotations

import re
from collections.abc import Callable

from bakegen.keys import BAKE_EXPRESSION, is_reference
from bakegen.model import BakegenError, CacheBackend, CacheSettings, Project, TagScheme, Target
from bakegen.names import repository_name
from bakegen.plan_values import Concat, Conditional, Expr, Template, Value, bake_text

# Backends whose writes the CACHE_EXPORT variable switches (inline and none write nothing to switch).
EXPORT_SWITCHED = (CacheBackend.REGISTRY, CacheBackend.LOCAL, CacheBackend.GHA)
LOCAL_NEXT_SUFFIX = ".next"  # local cache: written here, then swapped in by `bakegen cache rotate`

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
        lambda target, project, name: [Template(("type=registry,ref=", *image_tag(target, project).parts))],
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


def image_has_tag(image: str) -> bool:
    """`ghcr.io/acme/web:1.2` names its tag; `localhost:5000/web` does not (the port is the host's)."""
    return ":" in BAKE_EXPRESSION.sub("x", image).rsplit("/", 1)[-1]


def own_image(target: Target, project: Project) -> str | None:
    """The target's image when it is its own: not the one bakegen names it anyway. A compose
    file's `${REGISTRY:-ghcr.io/acme}/web:${TAG:-latest}`, read with its defaults, is bakegen's
    own naming: it stays `${REGISTRY}/web:${TAG}`, which CI sets."""
    if not target.image:
        return None
    default = f"{project.registry}/{repository_name(target.name)}".lower()
    return None if target.image.lower() in (default, f"{default}:{project.tag.lower()}") else target.image


def image_repository(target: Target, project: Project) -> Template:
    """The image the target's tags name: its own (`targets.<name>.image`, compose `image:`), or
    `<REGISTRY>/<name>`."""
    if image := own_image(target, project):
        return bake_text(image)
    return Template((Expr("lower(REGISTRY)"), f"/{repository_name(target.name)}"))


def _tagged(repository: Template, tag: str) -> Template:
    return Template((*repository.parts, ":", *bake_text(tag).parts))


def image_tag(target: Target, project: Project) -> Template:
    """The target's first (main) image reference: what inline cache reads."""
    image = own_image(target, project)
    if target.tags:  # (none: inline cache reads the scheme's tag, which no build writes)
        first = target.tags[0]
        return bake_text(first) if is_reference(first) else _tagged(image_repository(target, project), first)
    if image and image_has_tag(image):
        return bake_text(image)
    return Template((*image_repository(target, project).parts, ":", Expr("TAG")))


# The metadata scheme: each tag, and the (string) variable whose value it needs, in the order
# docker/metadata-action lists them. `ci-plan` sets the variables (bakegen.ci.metadata_variables).
METADATA_TAGS = (("TAG", "${TAG}"), ("SHA", "sha-${SHA}"), ("BRANCH_TAG", "${BRANCH_TAG}"),
                 ("VERSION", "${VERSION}"), ("VERSION_MINOR", "${VERSION_MINOR}"),
                 ("VERSION_MAJOR", "${VERSION_MAJOR}"))


def image_tags(target: Target, project: Project) -> Value:
    """Every reference the target's image is tagged with: its own `tags`, a compose `image:`
    that names its tag, or the project's tag scheme on its image."""
    repository = image_repository(target, project)
    image = own_image(target, project)
    if target.tags is not None:
        return [bake_text(t) if is_reference(t) else _tagged(repository, t) for t in target.tags]
    if (image and image_has_tag(image)) or project.tag_scheme == TagScheme.TAG:
        return [image_tag(target, project)]
    parts = [Conditional(f'{var} != ""', [_tagged(repository, tag)]) for var, tag in METADATA_TAGS]
    return Concat((*parts, Conditional("LATEST", [_tagged(repository, "latest")])))


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

