"""What every command of the CLI shares: output for a person (always through the escapers of
bakegen/sinks.py), exit codes, the options that name a repository. Nothing of bakegen is
imported here before a command runs: `bakegen --version` loads click and this package only."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click

EXIT_CHECK_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_BUG = 3


def echo(message: str, err: bool = False) -> None:
    """Every message for a person goes out here, as one line: names, paths and Dockerfile text
    from the repository with newlines and escape sequences shown escaped (sinks.visible)."""
    from bakegen.sinks import visible

    click.echo(visible(message), err=err)


def echo_text(text: str) -> None:
    """Text of many lines for a person (a diff, a graph, JSON): its lines kept, every other
    control character shown escaped (sinks.terminal)."""
    from bakegen.sinks import terminal

    click.echo(terminal(text), nl=False)


def say(message: str) -> None:
    echo(f"bakegen: {message}", err=True)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class LateChoice(click.Choice):
    """A click.Choice whose values are read from the layers below when first shown or checked,
    not when the CLI starts (`--version` imports none of them)."""

    def __init__(self, values: Callable[[], Iterable[str]]) -> None:
        self.values, self.case_sensitive = values, True

    def __getattr__(self, name: str) -> object:
        if name != "choices":
            raise AttributeError(name)
        self.choices = tuple(self.values())
        return self.choices


def cache_backends() -> list[str]:
    from bakegen.model import CacheBackend

    return [b.value for b in CacheBackend]


def graph_formats() -> tuple[str, ...]:
    from bakegen.render import GRAPH_FORMATS

    return GRAPH_FORMATS


project_root = click.argument("root", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[PATH]")
config_option = click.option("-c", "--config", type=click.Path(dir_okay=False, path_type=Path),
                             help="Config file (default: PATH/bakegen.toml when it exists).")
builder_option = click.option("--builder", metavar="NAME", help="buildx builder to use (default: buildx's current "
                              "one); see `bakegen builder up`.")


def checked(result, fix: str) -> None:
    """A --check's verdict: said in one line (a stale file's diff before it); exit 1 unless current."""
    path, outcome = result.path, result.outcome
    if outcome == "missing":
        echo(f"{path}: missing; run `{fix}`", err=True)
    elif outcome == "stale":
        echo_text(result.diff)
        echo(f"{path} is out of date; run `{fix}`", err=True)
    else:
        echo(f"{path} is current", err=True)
    if outcome.failed:
        sys.exit(EXIT_CHECK_FAILED)


