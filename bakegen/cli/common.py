"""What every command of the CLI shares: output for a person (always through the escapers of
bakegen/sinks.py), exit codes, and the one factory that makes a click command from the options
a command takes (bakegen/options.py). Nothing of bakegen is imported here before a command
runs: `bakegen --version` loads click and this package only."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

import click

EXIT_CHECK_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_BUG = 3


def echo(message: str, err: bool = False) -> None:
    """Every message for a person goes out here, as one line: names, paths and Dockerfile text
    from the repository with newlines and escape sequences shown escaped (sinks.visible)."""
    from bakegen.sinks import visible

    click.echo(visible(message), err=err)


def echo_lines(lines: Iterable[str], err: bool = False) -> None:
    for line in lines:
        echo(line, err=err)


def echo_text(text: str) -> None:
    """Text of many lines for a person (a diff, a graph, JSON): its lines kept, every other
    control character shown escaped (sinks.terminal)."""
    from bakegen.sinks import terminal

    click.echo(terminal(text), nl=False)


def say(message: str) -> None:
    echo(f"bakegen: {message}", err=True)


def fail_unless(ok: bool) -> None:
    """A failed check or build: exit 1 (what failed is said before)."""
    if not ok:
        sys.exit(EXIT_CHECK_FAILED)


def told(result: Any, fix: str) -> None:
    """A file bakegen wrote, printed (`-o -`: the file itself, for a pipe; its text escaped by
    bakegen/hcl.py) or checked (one line, a stale file's diff before it; exit 1 unless current)."""
    path, outcome = result.path, result.outcome
    if outcome == "printed":
        return click.echo(result.text, nl=False)
    if outcome == "stale":
        echo_text(result.diff)
    echo(f"wrote {path}" + (f" ({result.targets} target{'s' * (result.targets != 1)})" if result.targets else "")
         if outcome == "written" else f"{path}: missing; run `{fix}`" if outcome == "missing" else
         f"{path} is out of date; run `{fix}`" if outcome == "stale" else f"{path} is current", err=True)
    fail_unless(not outcome.failed)


def _param(f: Field) -> click.Parameter:
    """The click parameter a field of an options class declares (its kind from the field's type)."""
    cli, kind = f.metadata["cli"], str(f.type)
    many = kind.startswith("tuple")
    value_type: Any = None
    if "Path" in kind:
        value_type = click.Path(path_type=Path, file_okay=cli.path != "dir", dir_okay=cli.path != "file")
    if cli.choices:
        value_type = click.Choice(tuple(cli.choices() if callable(cli.choices) else cli.choices))
    if cli.range:
        value_type = click.IntRange(*cli.range)
    if not cli.flags:
        return click.Argument([f.name], type=value_type, nargs=-1 if many else 1, required=False,
                              default=None if many else f.default, metavar=cli.metavar)
    given = {"required": True} if f.default is MISSING else {"default": None if cli.split else f.default}
    given |= {"flag_value": cli.given_alone, "is_flag": False} if cli.given_alone else {"is_flag": kind == "bool"}
    return click.Option([*cli.flags, f.name], type=value_type, help=cli.help, metavar=cli.metavar,
                        multiple=many and not cli.split, hidden=cli.hidden,
                        show_default=cli.show_default, **given)


def command(name: str, options: Callable[[], type], show: Callable[[Any], None]) -> Callable[[], click.Command]:
    """A command made when it is first asked for: its flags and help from the options class
    `options()` returns (bakegen/options); `show` calls the library with an instance and prints."""

    def make() -> click.Command:
        cls = options()
        declared = [f for f in fields(cls) if "cli" in f.metadata]
        splits = {f.name: f.metadata["cli"].split for f in declared if f.metadata["cli"].split}

        def run(**given: Any) -> None:
            for key, sep in splits.items():  # one text on the command line, a tuple in the options
                given[key] = tuple(p.strip() for p in (given[key] or "").split(sep) if p.strip())
            show(cls(**given))

        return click.Command(name, params=[_param(f) for f in declared], callback=run, help=cls.__doc__,
                             context_settings={"help_option_names": ["-h", "--help"]})

    return make


class LazyGroup(click.Group):
    """A group whose commands are made when one is asked for (`--version` makes none); `lazy`
    maps each name to what makes it (or is a function that returns that map)."""

    def __init__(self, *args: Any, lazy: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy if callable(lazy) else lambda: lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        make = self.lazy().get(name)
        return make() if make else None
