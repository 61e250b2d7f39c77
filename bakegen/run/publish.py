"""After a push: each image tagged with its commit by digest, in the registry itself."""

from __future__ import annotations

from bakegen import command
from bakegen.ci import PushedImage


def tag_by_digest(image: PushedImage, tag: str) -> str:
    """`docker buildx imagetools create`: a new tag on the manifest the digest names, no layer
    moved or rebuilt (and never on whatever `latest` points to by then). Returns the new ref."""
    new = f"{image.repository}:{tag}"
    command.run(["docker", "buildx", "imagetools", "create", "--tag", new, image.ref], timeout=600)
    return new
