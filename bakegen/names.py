"""Names bake and registries accept: target names, image repositories, tags."""

from __future__ import annotations

import re

TARGET_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_NOT_IN_TARGET_NAME = re.compile(r"[^a-zA-Z0-9_-]")
# One path component of an OCI repository name (distribution's reference grammar).
_REPOSITORY_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
TAG_RULE = "letters, digits, _ . -, at most 128"


def target_name(folder_name: str) -> str:
    """A folder name made valid for bake: every other character becomes `_`."""
    return _NOT_IN_TARGET_NAME.sub("_", folder_name) or "_"


def repository_name(name: str) -> str:
    """The image repository for a target: lowercase, and valid for a registry."""
    lowered = name.lower()
    if _REPOSITORY_COMPONENT.match(lowered):
        return lowered
    return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-") or "image"
