"""How a field of an options class (bakegen/options.py) is given on the command line: `opt` for
an option, `arg` for the positional argument(s). Plain data; bakegen/cli reads it to make click
parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cli:
    """How a field is given on the command line: an option (flags) or, without flags, an argument.
    Its kind (flag, repeatable, path, number) follows the field's type."""

    flags: tuple[str, ...] = ()
    help: str = ""
    metavar: str | None = None
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None  # a callable is read when shown
    show_default: bool | str = False
    hidden: bool = False
    path: str = ""  # "dir" or "file": a Path that must be (or become) that kind
    range: tuple[int, int] | None = None
    split: str = ""  # one text on the command line, a tuple here (split on this)
    given_alone: str | None = None  # the value of the option given without one (`--baseline`)


REQUIRED: Any = MISSING  # a field without a default: a required option


def opt(default: Any, *flags: str, help: str, **how: Any) -> Any:
    """A field given as a command-line option."""
    return field(default=default, metadata={"cli": Cli(flags, help, **how)})


def arg(default: Any, metavar: str, **how: Any) -> Any:
    """A field given as the command's positional argument(s)."""
    return field(default=default, metadata={"cli": Cli((), "", metavar, **how)})
