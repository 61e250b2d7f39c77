"""The `bakegen` group: the one place errors become exit codes, and every command on it."""

from __future__ import annotations

import os
import signal
import sys

import click

import bakegen
from bakegen.cli import bench, building, digest, github, repository
from bakegen.cli.common import EXIT_BUG, EXIT_INTERRUPTED, echo


class BakegenGroup(click.Group):
    """The one place errors become exit codes: bad input (BakegenError, a file that cannot be
    read or written, bad options) is one line on stderr and exit 2, never a traceback; a failed
    check or build is exit 1 (the commands say so themselves); an interrupt is exit 130."""

    def invoke(self, ctx: click.Context):
        from bakegen.model import BakegenError

        try:
            return super().invoke(ctx)
        except BakegenError as e:
            echo(f"bakegen: error: {e}", err=True)
            sys.exit(e.exit_code)
        except OSError as e:  # a file or folder the command could not read or write
            where = f"{e.filename}: " if e.filename else ""
            echo(f"bakegen: error: {where}{e.strerror or e}", err=True)
            sys.exit(BakegenError.exit_code)
        except UnicodeDecodeError as e:
            echo(f"bakegen: error: not UTF-8 text ({e.reason} at byte {e.start})", err=True)
            sys.exit(BakegenError.exit_code)
        except click.UsageError as e:
            where = " ".join(["bakegen", *(e.ctx.command_path.split()[1:] if e.ctx else [])])
            echo(f"bakegen: error: {e.format_message()} (see `{where} --help`)", err=True)
            sys.exit(BakegenError.exit_code)
        except KeyboardInterrupt:
            echo("bakegen: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except RecursionError:  # input nested deeper than any reader here was bounded for
            echo("bakegen: error: input nested too deeply to read", err=True)
            sys.exit(BakegenError.exit_code)
        except MemoryError:
            echo("bakegen: error: out of memory reading the input", err=True)
            sys.exit(BakegenError.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as e:  # a bug of ours: one line for people, the traceback on request
            if os.environ.get("BAKEGEN_DEBUG") == "1":
                raise
            echo(f"bakegen: internal error (a bug in bakegen, please report it): "
                  f"{type(e).__name__}: {str(e)[:300]}; BAKEGEN_DEBUG=1 shows the traceback", err=True)
            sys.exit(EXIT_BUG)


@click.group(cls=BakegenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(bakegen.__version__, prog_name="bakegen")
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


for command in (repository.emit, repository.graph, repository.affected, repository.impact, repository.init,
                building.doctor, building.build, building.cache, building.builder, bench.bench,
                github.ci, github.ci_plan, github.ci_tags, github.ci_lint, digest.digest, digest.lock):
    main.add_command(command)
