"""Commands that build or reach the engine: build, cache rotate, doctor, builder up/status/down."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import bakegen
from bakegen.cli.common import EXIT_CHECK_FAILED, builder_option, config_option, echo, plural, project_root, say


@click.command()
@click.option("--registry", default="127.0.0.1:5000", show_default=True,
              help="Registry (host:port) to check; GHCR is ghcr.io.")
@builder_option
def doctor(registry: str, builder: str | None) -> None:
    """Report what this machine can build with, and how to fix what is missing.

    Reports the machine (cores, memory, the WSL2 cap) and the MAX_JOBS the pose base's CUDA
    compiles get there; under WSL, a repository on the Windows drive and whether nvidia-smi sees
    the GPU; Docker Desktop's image store setting. Checks the docker CLI, a running engine, buildx
    (0.13+), the builder (driver, BuildKit version, whether it can use GitHub's gha cache), the
    image store, that named contexts and cache export really work on that builder (two tiny
    builds, nothing pulled, nothing kept), a GPU runtime and the registry. Exit 1 when something
    bake needs is missing.
    """
    result = bakegen.doctor(bakegen.DoctorOptions(registry=registry, builder=builder))
    for check in result.checks:
        echo(f"{'ok  ' if check.ok else 'MISS'} {check.name}: {check.detail}")
        if not check.ok and check.advice:
            echo(f"     -> {check.advice}")
    if not result.ok:
        sys.exit(EXIT_CHECK_FAILED)


class _ShowBuild:
    """A build as it runs: each step as BuildKit finishes it (unless quiet), each bake call's summary."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def bake_started(self, targets: list[str]) -> None:
        echo(f"bake {' '.join(targets) or 'default'}", err=True)

    def step(self, step) -> None:
        if not self.quiet:
            state = "cached" if step.cached else f"{step.seconds:5.1f}s"
            echo(f"  {state:>7}  [{step.target}{' ' + step.stage if step.stage else ''}] "
                  f"{step.instruction[:100]}", err=True)

    def retry(self, why: str) -> None:
        say(f"build failed on {why}; running it once more")

    def bake_finished(self, call) -> None:
        result, missing = call.result, call.result.caches_not_there_yet()
        if missing:
            say(f"no cache yet at {plural(len(missing), 'ref')} (normal on a branch's first build): "
                 + ", ".join(missing))
        for problem in result.cache_problems():
            if not any(ref in problem and "not found" in problem for ref in missing):
                say(f"warning: {problem}")
        echo(f"{len(result.steps)} steps: {len(result.cached())} cached, "
              f"{len(result.executed())} executed, {result.seconds:.1f}s", err=True)
        echo("  " + "; ".join(f"{t}: {ran} executed, {kept} cached"
                               for t, (ran, kept) in sorted(call.per_target.items())), err=True)


@click.command()
@project_root
@click.argument("targets", nargs=-1)
@config_option
@click.option("--bases-first", is_flag=True, help="Bake the `bases` group in its own call, then the rest.")
@click.option("--quiet", "-q", is_flag=True, help="No line per step, only the summary.")
@builder_option
@click.option("--push", is_flag=True, help="Push the images to REGISTRY (sets PUSH=true in the bake file).")
@click.option("--load", is_flag=True,
              help="Load the images into the Docker engine (LOAD=true): a builder of its own keeps "
                   "results in its cache otherwise.")
@click.option("--reuse", is_flag=True, help="Build only what no `<image>:in-<digest>` exists for (`bakegen digest`).")
def build(root: Path, targets: tuple[str, ...], config: Path | None, bases_first: bool, quiet: bool,
          builder: str | None, push: bool, load: bool, reuse: bool) -> None:
    """Run `docker buildx bake` on PATH/docker-bake.hcl and say what came from the cache.

    `bakegen build web` in a repository reads `web` as a target when PATH/docker-bake.hcl does
    not exist but ./docker-bake.hcl does and names that target (a folder `web/` is no project).
    Prints each step as BuildKit finishes it (cached or executed, with its time), then a
    summary. With the local cache backend, the cache written by the build replaces the one it
    read (`bakegen cache rotate`), so the cache folder does not grow. Exit 1 if the build fails.
    """
    options = bakegen.BuildOptions(root=root, targets=targets, config=config, bases_first=bases_first,
                                   builder=builder, push=push, load=load)
    if reuse:
        reused = bakegen.build_reused(options, _ShowBuild(quiet), say)
        for decision in reused.decisions:
            echo(f"{'reused' if decision.reused else 'built ':6}  {decision.target}: {decision.why}", err=True)
        if reused.build is None:
            echo(f"nothing to build: {plural(len(reused.decisions), 'target')} reused", err=True)
            return
        result = reused.build
    else:
        result = bakegen.build(options, _ShowBuild(quiet))
    if not result.ok:
        say(f"build failed: {result.calls[-1].result.error_line()}")
        sys.exit(EXIT_CHECK_FAILED)
    if result.rotation is not None:
        echo(f"local cache rotated for {len(result.rotation.rotated)} targets", err=True)
        _warn_refused(result.rotation)


@click.group()
def cache() -> None:
    """Manage build caches."""


@cache.command()
@project_root
@config_option
def rotate(root: Path, config: Path | None) -> None:
    """Swap each <target>.next folder of the local cache in for <target>.

    A local cache exported over itself keeps every blob it ever held; bakegen's bake file
    writes beside the cache it reads, and this swap keeps only the newest. `bakegen build`
    does it after every build; run it yourself after a plain `docker buildx bake`.
    """
    rotation = bakegen.rotate_cache(bakegen.RotateOptions(root=root, config=config))
    rotated = rotation.rotated
    echo(f"{rotation.folder}: rotated {len(rotated)} target caches" + (f" ({', '.join(rotated)})" if rotated else ""))
    _warn_refused(rotation)


def _warn_refused(rotation) -> None:
    for name in rotation.refused:
        say(f"warning: {rotation.folder / name}: not a build cache, left as it is (and {name}.next beside it); "
             "point [cache] directory at a folder of its own")


builder_name = click.option("--name", default="bakegen", show_default=True, metavar="NAME",
                            help="Name of the buildx builder.")
state_option = click.option(
    "--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
    help="Folder of the builder's state (default: $XDG_STATE_HOME/bakegen/builders/NAME, "
         "else ~/.local/state/bakegen/builders/NAME).",
)


@click.group()
def builder() -> None:
    """A BuildKit builder of bakegen's own (BuildKit 0.20+), apart from your default builder.

    `up` makes it (or reuses it), `status` says what runs, `down` stops it. Build on it with
    `bakegen build --builder NAME` or `docker buildx bake --builder NAME`: its cache is its own,
    so your default builder's cache is never touched.
    """


@builder.command("up")
@builder_name
@click.option("--driver", type=click.Choice(["docker-container", "remote"]),
              help="docker-container: buildx runs the moby/buildkit image; remote: bakegen starts a local "
                   "buildkitd. Default: docker-container when the image is in the engine, else remote when a "
                   "buildkitd binary is found, else docker-container.")
@click.option("--buildkitd", metavar="PATH",
              help="buildkitd binary for the remote driver (default: $BAKEGEN_BUILDKITD, then PATH).")
@state_option
@click.option("--image", default=None, metavar="IMAGE",
              help="BuildKit image for docker-container (default: the one the builder was made with, else "
                   "moby/buildkit:v0.26.3; name a mirror of it where Docker Hub is out of reach).")
@click.option("--addr", metavar="ADDR",
              help="Where the local buildkitd listens: unix:///path (default: DIR/buildkitd.sock) or "
                   "tcp://127.0.0.1:PORT.")
@click.option("--max-storage", default="20GB", show_default=True, metavar="SIZE",
              help="Garbage collection keeps the builder's cache below this size (CUDA images: raise it).")
@click.option("--insecure-registry", "insecure_registries", multiple=True, metavar="HOST:PORT",
              help="Another registry reached over plain HTTP (repeatable); 127.0.0.1:5000 and "
                   "localhost:5000 always are.")
def builder_up(name: str, driver: str | None, buildkitd: str | None, state_dir: Path | None,
               image: str | None, addr: str | None, max_storage: str, insecure_registries: tuple[str, ...]) -> None:
    """Make or reuse builder NAME; prints its name as the last line of stdout.

    Idempotent: running it again reuses the builder (and restarts a buildkitd that stopped).
    Loopback registries (127.0.0.1:5000, localhost:5000) are plain HTTP to it. Use it as
    `docker buildx bake --builder "$(bakegen builder up)"`.
    """
    options = bakegen.BuilderUpOptions(name=name, driver=driver, buildkitd=buildkitd, state_dir=state_dir,
                                       image=image, addr=addr, max_storage=max_storage,
                                       insecure_registries=insecure_registries)
    echo(bakegen.builder_up(options, say).name)


@builder.command("status")
@builder_name
@state_option
def builder_status(name: str, state_dir: Path | None) -> None:
    """Driver, BuildKit version, endpoint, disk used; exit 1 when the builder does not run."""
    found = bakegen.builder_status(bakegen.BuilderOptions(name=name, state_dir=state_dir))
    info = found.info
    echo(f"name:      {info.name}")
    echo(f"driver:    {info.driver}")
    echo(f"endpoint:  {info.endpoint or '-'}")
    echo(f"status:    {', '.join(n.status for n in info.nodes) or 'no nodes'}")
    echo(f"buildkit:  {info.buildkit}")
    echo(f"disk used: {found.disk}")
    if found.state is not None:
        pid = f", buildkitd pid {found.pid}" if found.pid else ""
        echo(f"state:     {found.state_dir} (made by bakegen{pid})")
    else:
        echo("state:     none (not made by `bakegen builder up`)")
    if not info.running:
        sys.exit(EXIT_CHECK_FAILED)


@builder.command("down")
@builder_name
@state_option
@click.option("--purge", is_flag=True, help="Also delete the builder's state (its whole build cache).")
def builder_down(name: str, state_dir: Path | None, purge: bool) -> None:
    """Remove builder NAME and stop the buildkitd bakegen started for it (by PID).

    Its state (the build cache) is kept for the next `up` unless --purge. A builder bakegen did
    not make is left alone.
    """
    bakegen.builder_down(bakegen.BuilderDownOptions(name=name, state_dir=state_dir, purge=purge), say)


