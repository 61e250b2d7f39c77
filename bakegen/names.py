"""Names bake and registries accept: target names, image repositories, tags."""

from __future__ import annotations

import re

# bake's rule, minus a leading "-": `docker buildx bake -dash` would read the name as a flag.
TARGET_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*\Z")
_NOT_IN_TARGET_NAME = re.compile(r"[^a-zA-Z0-9_-]")
# One path component of an OCI repository name (distribution's reference grammar).
_REPOSITORY_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # ASCII only: Python's \w is Unicode
TAG_RULE = "letters, digits, _ . -, at most 128"
# A registry host (optional port) and namespace, as images are tagged `<registry>/<target>:<tag>`.
REGISTRY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?(/[A-Za-z0-9]+([._-]+[A-Za-z0-9]+)*)*\Z")
REGISTRY_RULE = "HOST[:PORT][/NAMESPACE...], no scheme, no spaces, no trailing /, e.g. ghcr.io/acme"
HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?\Z")


def target_name(folder_name: str) -> str:
    """A folder name made valid for bake: every other character, and a leading `-`, becomes `_`."""
    name = _NOT_IN_TARGET_NAME.sub("_", folder_name) or "_"
    return "_" + name[1:] if name.startswith("-") else name


def repository_name(name: str) -> str:
    """The image repository for a target: lowercase, and valid for a registry."""
    lowered = name.lower()
    if _REPOSITORY_COMPONENT.match(lowered):
        return lowered
    return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-") or "image"


# --- names a person recognises ----------------------------------------------------------------

# Folders whose name says nothing of the image: the image takes its parent's name.
GENERIC_FOLDERS = frozenset({
    "src", "source", "sources", "docker", "dockerfiles", ".docker", "deploy", "deployment",
    "deployments", "image", "images", "container", "containers",
})
# Folders that qualify their parent's image (a CUDA, a version, a flavour): the image is
# `<parent>-<folder>`.
_QUALIFIER = re.compile(
    r"^((cuda|cu|rocm|py|python|v|jdk|node)?\d+([._-]?\d+)*|cpu|gpu|cuda|rocm|slim|alpine|debug|dev|prod|"
    r"production|local|test|testing|staging|full|minimal)$", re.IGNORECASE)
RESERVED_NAMES = frozenset({"default", "bases", "services", "_common"})
# Compose service names that say nothing of the product: in a repository with compose files in
# several folders, the image takes its compose folder's name in front (`logql-analyzer-backend`).
GENERIC_SERVICES = frozenset({"app", "api", "backend", "frontend", "web", "server", "client", "worker", "service",
                              "main"})


def path_name(folder: str, variant: str, root_name: str) -> tuple[str, list[str]]:
    """The name of the image built from `folder` (posix, "." for the root), and the folders above
    it, nearest first, that can lengthen the name when it collides."""
    above = [] if folder in (".", "") else list(reversed(folder.split("/")))
    while above and above[0].lower() in GENERIC_FOLDERS:
        above.pop(0)
    base = above.pop(0) if above else ""
    if base and above and _QUALIFIER.match(base):
        base = f"{above.pop(0)}-{base}"
    if variant:
        base = f"{base}-{variant}" if base else variant
    return base or root_name, above


def first_collision(chosen: dict[str, str]) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """The first two (key, name) pairs of `chosen` giving the same name, or None. (Names that
    differ only in case share an image repository: the plan refuses those, naming the targets.)"""
    seen: dict[str, str] = {}
    for key, name in chosen.items():
        if name in seen:
            return (seen[name], name), (key, name)
        seen[name] = key
    return None


def unique_names(wanted: dict[str, tuple[str, list[str]]], taken: frozenset[str] = RESERVED_NAMES) -> dict[str, str]:
    """A bake target name for each key, from its (name, qualifiers) in `wanted`: where names
    collide (or would share an image repository, `Web` and `web`), each colliding name takes one
    more qualifier in front (`local-django`, `production-django`) until all differ; names that
    cannot grow get a number. Never fails."""
    level = dict.fromkeys(wanted, 0)
    taken_repositories = {repository_name(t) for t in taken}

    def name_at(key: str) -> str:
        name, qualifiers = wanted[key]
        return target_name("-".join([*reversed(qualifiers[:level[key]]), name]))

    while True:
        by_repository: dict[str, list[str]] = {}
        for key in sorted(wanted):
            by_repository.setdefault(repository_name(name_at(key)), []).append(key)
        grew = False
        for repository, keys in by_repository.items():
            if len(keys) > 1 or repository in taken_repositories:
                for key in keys:
                    if level[key] < len(wanted[key][1]):
                        level[key] += 1
                        grew = True
        if not grew:
            break
    names: dict[str, str] = {}
    used = set(taken_repositories)
    for _, keys in sorted(by_repository.items()):
        for key in keys:
            name = candidate = name_at(key)
            n = 1
            while repository_name(candidate) in used:
                n += 1
                candidate = f"{name}-{n}"
            names[key] = candidate
            used.add(repository_name(candidate))
    return names


def normalize_image_ref(ref: str) -> str:
    """The form buildx matches `contexts` keys against: lowercase, no docker.io/library/, no :latest."""
    ref = ref.lower()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if ref.endswith(":latest"):
        ref = ref[: -len(":latest")]
    return ref


def repository_of(ref: str) -> str:
    """A normalised reference without its tag (`host:5000/a/b:1` -> `host:5000/a/b`)."""
    last_slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > last_slash else ref
