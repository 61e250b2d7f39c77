"""The project as plain data: targets, their Dockerfiles, cache policy. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class BakegenError(Exception):
    """Bad input: reported as one line on stderr, exit code 2."""

    exit_code = 2


class Kind(StrEnum):
    BASE = "base"
    SERVICE = "service"


class Compression(StrEnum):
    ZSTD = "zstd"
    GZIP = "gzip"
    UNCOMPRESSED = "uncompressed"


class CacheBackend(StrEnum):
    REGISTRY = "registry"
    LOCAL = "local"
    GHA = "gha"
    INLINE = "inline"
    NONE = "none"


@dataclass(frozen=True)
class Stage:
    """One `FROM image [AS name]` of a Dockerfile."""

    image: str
    name: str | None
    line: int


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    stages: tuple[Stage, ...]
    syntax: str | None = None  # a `# syntax=` directive: a frontend image pulled at every build

    def stage_names(self) -> set[str]:
        return {s.name for s in self.stages if s.name}

    def external_images(self) -> list[str]:
        """Images named in FROM that are not a stage defined earlier in the same file."""
        seen: set[str] = set()
        images = []
        for stage in self.stages:
            if stage.image.lower() not in seen:
                images.append(stage.image)
            if stage.name:
                seen.add(stage.name.lower())
        return images


@dataclass
class Target:
    name: str
    kind: Kind
    context: str  # relative to the project root, posix, "." for the root
    dockerfile: str = "Dockerfile"  # relative to the context, as bake wants it
    stage: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    contexts: dict[str, str] = field(default_factory=dict)  # extra named contexts
    groups: list[str] = field(default_factory=list)  # groups beyond bases/services/default
    parsed: Dockerfile | None = None  # None when the Dockerfile could not be found


@dataclass
class CacheSettings:
    backend: CacheBackend = CacheBackend.REGISTRY
    repository: str | None = None  # registry: default "${REGISTRY}/build-cache"
    directory: str = ".buildx-cache"  # local
    mode: str = "max"
    default_branch: str = "main"
    export: bool = False  # default of CACHE_EXPORT: CI turns it on for default-branch pushes
    compression: Compression = Compression.ZSTD  # of exported cache and pushed images
    compression_level: int | None = None  # None: BuildKit's default for the algorithm


@dataclass
class Project:
    root: Path
    targets: dict[str, Target]
    registry: str
    tag: str = "latest"
    source: str = ""
    cache: CacheSettings = field(default_factory=CacheSettings)
    image_replacements: dict[str, str] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # extra groups from the config
