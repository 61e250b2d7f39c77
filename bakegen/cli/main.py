"""The `bakegen` group: the one place errors become exit codes, and every command on it."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import click

import bakegen
from bakegen.cli.common import EXIT_BUG, EXIT_INTERRUPTED, LazyGroup, command, echo


class BakegenGroup(LazyGroup):
    """The one place errors become exit codes: bad input (BakegenError, a file that cannot be
    read or written, bad options) is one line on stderr and exit 2, never a traceback; a failed
    check or build is exit 1 (the commands say so themselves); an interrupt is exit 130."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from bakegen.options import GROUPS

        self.help = GROUPS[""]  # read here: --version and every command start without it
        super().format_help_text(ctx, formatter)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except BaseException as e:
            told = _told(e)
            if told is None:
                raise
            echo(f"bakegen: {told[0][:2000]}", err=True)  # one line a person can read, whatever a name holds
            sys.exit(told[1])


def _told(e: BaseException) -> tuple[str, int] | None:
    """The line and exit code an error ends the command with; None: let it through (a traceback)."""
    from bakegen.model import BakegenError

    bad = BakegenError.exit_code
    if isinstance(e, BakegenError):
        return f"error: {e}", e.exit_code
    if isinstance(e, click.UsageError):
        where = " ".join(["bakegen", *(e.ctx.command_path.split()[1:] if e.ctx else [])])
        return f"error: {e.format_message()} (see `{where} --help`)", bad
    if isinstance(e, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(e, OSError):  # a file or folder the command could not read or write
        return f"error: {f'{e.filename}: ' if e.filename else ''}{e.strerror or e}", bad
    if isinstance(e, UnicodeDecodeError):
        return f"error: not UTF-8 text ({e.reason} at byte {e.start})", bad
    if isinstance(e, RecursionError):  # input nested deeper than any reader here was bounded for
        return "error: input nested too deeply to read", bad
    if isinstance(e, MemoryError):
        return "error: out of memory reading the input", bad
    if os.environ.get("BAKEGEN_DEBUG") == "1" or not isinstance(e, Exception):
        return None
    return (f"internal error (a bug in bakegen, please report it): {type(e).__name__}: {str(e)[:300]}; "
            "BAKEGEN_DEBUG=1 shows the traceback", EXIT_BUG)  # a bug of ours: one line, the traceback on request


def commands() -> dict[str, Callable[[], click.Command]]:
    """Every command, from bakegen/options.py; each made when it runs (or for --help)."""
    from bakegen.cli import show
    from bakegen.options import COMMANDS, GROUPS, options_of

    made: dict[str, Any] = {name: {} for name in GROUPS if name}
    for name in COMMANDS:
        group_name, _, own = name.rpartition(" ")
        body = getattr(show, name.replace(" ", "_").replace("-", "_"))
        (made[group_name] if group_name else made)[own] = command(own, partial(options_of, name), body)
    return {name: partial(LazyGroup, name, help=GROUPS[name], lazy=make) if name in GROUPS else make
            for name, make in made.items()}


@click.group(cls=BakegenGroup, lazy=commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(bakegen.__version__, prog_name="bakegen")
def main() -> None:
    """Generate docker-bake.hcl for a monorepo (its help: bakegen/options.py, GROUPS[""])."""
    # SIGTERM unwinds like Ctrl-C, so every `finally` runs: no temp file or changed file is left.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

