"""Local cache folders: swap each freshly written cache in for the one that was read."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from bakegen.plan_cache import LOCAL_NEXT_SUFFIX

# What BuildKit writes into a local cache folder (an OCI layout): how a cache is told apart
# from anything else that lives beside it.
CACHE_MARKERS = ("index.json", "oci-layout")


def is_cache_folder(folder: Path) -> bool:
    return folder.is_dir() and all((folder / marker).is_file() for marker in CACHE_MARKERS)


def rotate_local_cache(cache_dir: Path, targets: Iterable[str]) -> tuple[list[str], list[str]]:
    """Replace `<target>` by `<target>.next` wherever a build wrote one; returns (rotated, refused).

    The folder a build reads is never the one it writes, so a cache holds the blobs of the last
    build only instead of every build's since the folder was made. Only folders of these
    targets are touched, and only when both are caches BuildKit wrote (an OCI layout): a
    `<name>.next` beside sources (`[cache] directory = "."`) never replaces anything.
    """
    rotated: list[str] = []
    refused: list[str] = []
    if not cache_dir.is_dir():
        return rotated, refused
    for name in sorted(set(targets)):
        fresh = cache_dir / f"{name}{LOCAL_NEXT_SUFFIX}"
        if not is_cache_folder(fresh):
            continue  # none written, or an export that did not finish: keep the cache that was read
        current = cache_dir / name
        if current.exists() and not is_cache_folder(current):
            refused.append(name)  # not a cache: never replaced
            continue
        old = current.with_name(current.name + ".old")
        if is_cache_folder(old):
            shutil.rmtree(old)  # left by a rotation that was cut short
        if current.exists():
            current.rename(old)
        fresh.rename(current)
        if is_cache_folder(old):
            shutil.rmtree(old)
        rotated.append(name)
    return rotated, refused
