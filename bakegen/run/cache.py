"""Local cache folders: swap each freshly written cache in for the one that was read."""

from __future__ import annotations

import shutil
from pathlib import Path

from bakegen.plan import LOCAL_NEXT_SUFFIX


def rotate_local_cache(cache_dir: Path) -> list[str]:
    """Replace `<target>` by `<target>.next` wherever a build wrote one; returns the targets.

    The folder a build reads is never the one it writes, so a cache holds the blobs of the last
    build only instead of every build's since the folder was made.
    """
    rotated = []
    if not cache_dir.is_dir():
        return rotated
    for fresh in sorted(cache_dir.glob(f"*{LOCAL_NEXT_SUFFIX}")):
        if not (fresh / "index.json").is_file():
            continue  # an export that did not finish: keep the cache that was read
        current = cache_dir / fresh.name[: -len(LOCAL_NEXT_SUFFIX)]
        old = current.with_name(current.name + ".old")
        shutil.rmtree(old, ignore_errors=True)  # left by a rotation that was cut short
        if current.exists():
            current.rename(old)
        fresh.rename(current)
        shutil.rmtree(old, ignore_errors=True)
        rotated.append(current.name)
    return rotated
