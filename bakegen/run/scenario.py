"""The engine's side of a build scenario, shared by the tests and `bench`: list a builder's cache
records, forget a builder's whole cache and images (a fresh runner). (Changing a file and putting
it back is bench.changes.appended.)

Only a builder of one's own may be pruned. Pruning even one record of the engine's own BuildKit
(docker driver, dockerd 26) made an unrelated cached step run again on the next build (seen
here): a selective prune of a shared builder is not harmless, so there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import docker
import docker.errors

from bakegen import command


def cache_records(builder: str) -> dict[str, str]:
    """Every build cache record of the builder: {id: description}."""
    done = command.run(["docker", "buildx", "du", "--verbose", "--builder", builder], timeout=120)
    records: dict[str, str] = {}
    current = None
    for line in done.stdout.splitlines():
        key, _, value = line.partition(":")
        if key == "ID":
            current = value.strip()
            records[current] = ""
        elif key == "Description" and current is not None:
            records[current] = value.strip()
    return records


def prune(builder: str) -> None:
    """Empty the builder's whole build cache: call it on a builder of your own only."""
    command.run(["docker", "buildx", "prune", "--builder", builder, "--all", "--force"], timeout=600)


def forget_everything(client: docker.DockerClient, builder: str, images: Iterable[str]) -> None:
    """What a fresh CI runner has: none of these images and no build cache."""
    remove_images(client, images)
    prune(builder)


def remove_images(client: docker.DockerClient, images: Iterable[str]) -> None:
    for ref in images:
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(ref, force=True)
