"""Names bake and registries accept: target names, image repositories, tags."""

from __future__ import annotations

import re

# bake's rule, minus a leading "-": `docker buildx bake -dash` would read the name as a flag.
TARGET_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*$")
_NOT_IN_TARGET_NAME = re.compile(r"[^a-zA-Z0-9_-]")
# One path component of an OCI repository name (distribution's reference grammar).
_REPOSITORY_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ASCII only: Python's \w is Unicode
TAG_RULE = "letters, digits, _ . -, at most 128"
# A registry host (optional port) and namespace, as images are tagged `<registry>/<target>:<tag>`.
REGISTRY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?(/[A-Za-z0-9]+([._-]+[A-Za-z0-9]+)*)*$")
REGISTRY_RULE = "HOST[:PORT][/NAMESPACE...], no scheme, no spaces, no trailing /, e.g. ghcr.io/acme"
HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")


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
