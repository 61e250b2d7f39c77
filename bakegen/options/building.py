"""What the commands that build or reach the engine take: build, cache rotate, doctor, builder, bench."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bakegen.flags import arg, opt
from bakegen.options.common import DEFAULT_BUILDER, DEFAULT_MAX_STORAGE, ProjectOptions, builder_option


@dataclass(frozen=True, kw_only=True)
class BuildOptions(ProjectOptions):
    """Run `docker buildx bake` on PATH/docker-bake.hcl and say what came from the cache.

    `bakegen build web` in a repository reads `web` as a target when PATH/docker-bake.hcl does
    not exist but ./docker-bake.hcl does and names that target (a folder `web/` is no project).
    Prints each step as BuildKit finishes it (cached or executed, with its time), then a
    summary. With the local cache backend, the cache written by the build replaces the one it
    read (`bakegen cache rotate`), so the cache folder does not grow. Exit 1 if the build fails.
    """

    targets: tuple[str, ...] = arg((), "[TARGETS]...")
    bases_first: bool = opt(False, "--bases-first", help="Bake the `bases` group in its own call, then the rest.")
    quiet: bool = opt(False, "--quiet", "-q", help="No line per step, only the summary.")
    builder: str | None = builder_option()
    push: bool = opt(False, "--push", help="Push the images to REGISTRY (sets PUSH=true in the bake file).")
    load: bool = opt(False, "--load", help="Load the images into the Docker engine (LOAD=true): a builder of its "
                                           "own keeps results in its cache otherwise.")
    reuse: bool = opt(False, "--reuse", help="Build only what no `<image>:in-<digest>` exists for (`bakegen digest`); "
                                             "say per target reused or built, and why.")
    overlay: Path | None = None  # a bake file laid over docker-bake.hcl (`-f` after it), e.g. build --reuse's


@dataclass(frozen=True, kw_only=True)
class RotateOptions(ProjectOptions):
    """Swap each <target>.next folder of the local cache in for <target>.

    A local cache exported over itself keeps every blob it ever held; bakegen's bake file
    writes beside the cache it reads, and this swap keeps only the newest. `bakegen build`
    does it after every build; run it yourself after a plain `docker buildx bake`.
    """


@dataclass(frozen=True, kw_only=True)
class DoctorOptions:
    """Report what this machine can build with, and how to fix what is missing.

    Reports the machine (cores, memory, the WSL2 cap) and the MAX_JOBS the pose base's CUDA
    compiles get there; under WSL, a repository on the Windows drive and whether nvidia-smi sees
    the GPU; Docker Desktop's image store setting. Checks the docker CLI, a running engine, buildx
    (0.13+), the builder (driver, BuildKit version, whether it can use GitHub's gha cache), the
    image store, that named contexts and cache export really work on that builder (two tiny
    builds, nothing pulled, nothing kept), a GPU runtime and the registry. Exit 1 when something
    bake needs is missing.
    """

    registry: str = opt("127.0.0.1:5000", "--registry", show_default=True,
                        help="Registry (host:port) to check; GHCR is ghcr.io.")
    builder: str | None = builder_option()


_STATE_HELP = ("Folder of the builder's state (default: $XDG_STATE_HOME/bakegen/builders/NAME, "
               "else ~/.local/state/bakegen/builders/NAME).")


@dataclass(frozen=True, kw_only=True)
class BuilderOptions:
    """Driver, BuildKit version, endpoint, disk used; exit 1 when the builder does not run."""

    name: str = opt(DEFAULT_BUILDER, "--name", metavar="NAME", show_default=True, help="Name of the buildx builder.")
    state_dir: Path | None = opt(None, "--state", metavar="DIR", path="dir", help=_STATE_HELP)


@dataclass(frozen=True, kw_only=True)
class BuilderUpOptions(BuilderOptions):
    """Make or reuse builder NAME; prints its name as the last line of stdout.

    Idempotent: running it again reuses the builder (and restarts a buildkitd that stopped).
    Loopback registries (127.0.0.1:5000, localhost:5000) are plain HTTP to it. Use it as
    `docker buildx bake --builder "$(bakegen builder up)"`.
    """

    driver: str | None = opt(None, "--driver", choices=("docker-container", "remote"),
                             help="docker-container: buildx runs the moby/buildkit image; remote: bakegen starts a "
                                  "local buildkitd. Default: docker-container when the image is in the engine, else "
                                  "remote when a buildkitd binary is found, else docker-container.")
    buildkitd: str | None = opt(None, "--buildkitd", metavar="PATH",
                                help="buildkitd binary for the remote driver (default: $BAKEGEN_BUILDKITD, then PATH).")
    image: str | None = opt(None, "--image", metavar="IMAGE",
                            help="BuildKit image for docker-container (default: the one the builder was made with, "
                                 "else moby/buildkit:v0.26.3; name a mirror of it where Docker Hub is out of reach).")
    addr: str | None = opt(None, "--addr", metavar="ADDR",
                           help="Where the local buildkitd listens: unix:///path (default: DIR/buildkitd.sock) or "
                                "tcp://127.0.0.1:PORT.")
    max_storage: str = opt(DEFAULT_MAX_STORAGE, "--max-storage", metavar="SIZE", show_default=True,
                           help="Garbage collection keeps the builder's cache below this size (CUDA images: raise it).")
    insecure_registries: tuple[str, ...] = opt((), "--insecure-registry", metavar="HOST:PORT",
                                               help="Another registry reached over plain HTTP (repeatable); "
                                                    "127.0.0.1:5000 and localhost:5000 always are.")


@dataclass(frozen=True, kw_only=True)
class BuilderDownOptions(BuilderOptions):
    """Remove builder NAME and stop the buildkitd bakegen started for it (by PID).

    Its state (the build cache) is kept for the next `up` unless --purge. A builder bakegen did
    not make is left alone.
    """

    purge: bool = opt(False, "--purge", help="Also delete the builder's state (its whole build cache).")


@dataclass(frozen=True, kw_only=True)
class BenchRequest(ProjectOptions):
    """Build PATH's bake file for real, scenario by scenario, and measure it.

    Scenarios: see --scenarios. Every file changed is restored byte for byte, also on failure,
    Ctrl-C or SIGTERM.

    For each: wall seconds, BuildKit steps cached of total (from BuildKit's progress), bytes
    pushed and pulled; then image sizes and, for images with a HEALTHCHECK, seconds from start
    to healthy (GPU images only where a GPU exists: otherwise said, never faked). Exit 1 when a
    budget is breached (defaults: code-change 30 s and 5 % of cold, noop and noop-fresh-clone
    60 s, fresh-runner 15 % of cold, healthy 60 s), or with --strict-budgets not measured.
    With --baseline, each scenario is also built as compose, a bake file without links, and
    without cache would build it, and the speed-up over each is shown.
    """

    builder: str | None = builder_option(
        "Builder to bench on; it is emptied for cold and fresh-runner (default: bakegen's own `bakegen-bench`, "
        "made with `bakegen builder up`; never the engine's own BuildKit).")
    scenarios: tuple[str, ...] = opt((), "--scenarios", metavar="LIST", split=",", show_default="all, in this order",
                                     help="Comma-separated scenarios to run, in this order: cold, noop, "
                                          "noop-fresh-clone, code-change, deps-change, base-change, fresh-runner, "
                                          "fresh-runner-push (each described in the README's Bench section).")
    targets: tuple[str, ...] = opt((), "--targets", metavar="TARGET",
                                   help="Services whose source changes in code-change and deps-change (repeatable; "
                                        "default all).")
    repeat: int = opt(1, "--repeat", range=(1, 50), show_default=True,
                      help="Runs of each scenario: the table shows the median and the spread.")
    json_file: Path | None = opt(None, "--json", metavar="FILE", path="file", help="Write the figures as JSON.")
    markdown_file: Path | None = opt(None, "--markdown", metavar="FILE", path="file",
                                     help="Write the tables as Markdown (e.g. $GITHUB_STEP_SUMMARY).")
    chart_file: Path | None = opt(None, "--chart", metavar="FILE.svg", path="file",
                                  help="Draw the scenario times (and the baseline's) as a chart (needs "
                                       "bakegen[chart]).")
    budgets: tuple[str, ...] = opt((), "--budget", metavar="SCENARIO=SECONDS|PERCENT%",
                                   help="A budget, e.g. code-change=30 or fresh-runner=15% (of cold); repeatable, "
                                        "over the config's.")
    baselines: tuple[str, ...] = opt(
        (), "--baseline", metavar="[compose,tags,none]", split=",", given_alone="compose,tags,none",
        help="Also build each scenario as a team without bakegen would, in the same run with the same repeats: "
             "compose (a compose file, registry cache per image, bases first by separate commands), tags (a bake file "
             "without links: bases pushed and pulled by tag, registry cache per target), none (no cache). Any subset; "
             "alone: all three. Give PATH before it.")
    strict_budgets: bool = opt(False, "--strict-budgets", help="A budget that could not be measured is a failure "
                                                              "(exit 1).")
    verbose: bool = opt(False, "--verbose", help="Show each baseline's generated file and the commands it runs.")
    load: bool = opt(False, "--load/--no-load", show_default=True,
                     help="Load each build's images into the engine, timed (as a developer who runs them), or leave "
                          "them in the builder (as CI, which pushes them); either way they are loaded once, untimed, "
                          "for their sizes and healthchecks.")
    cache_registry: str | None = opt(None, "--cache-registry", metavar="REGISTRY",
                                     help="registry/namespace for the bench's own repositories: its cache (registry "
                                          "backend), the baselines' images and caches, the pushed images (default: "
                                          "REGISTRY; each run's are deleted afterwards where the registry allows).")

    @property
    def outputs(self) -> tuple[Path, ...]:
        """The report files asked for: refused before the first build when they cannot be written."""
        return tuple(f for f in (self.json_file, self.markdown_file, self.chart_file) if f is not None)
