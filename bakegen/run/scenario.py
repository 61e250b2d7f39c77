"""The moves of a build scenario: change a file and put it back, forget all cache (a fresh runner)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import docker
import docker.errors

from bakegen.model import BakegenError


@contextmanager
def appended(path: Path, text: str) -> Iterator[None]:
    """`text` appended to the file for the duration; the original bytes come back whatever happens."""
    original = path.read_bytes()
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(text)
        yield
    finally:
        path.write_bytes(original)


def forget_everything(client: docker.DockerClient, images: Iterable[str]) -> None:
    """What a fresh CI runner has: no build cache and none of these images."""
    done = subprocess.run(["docker", "buildx", "prune", "--all", "--force"], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BakegenError(f"docker buildx prune failed: {last}")
    remove_images(client, images)


def remove_images(client: docker.DockerClient, images: Iterable[str]) -> None:
    for ref in images:
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(ref, force=True)
