"""A compose `.env` file and compose's `${...}` interpolation: the values a compose file's
variables take (never the process environment: the bake file must not depend on who runs bakegen)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from bakegen import variables
from bakegen.paths import Unreadable, exists, read_text, within

ENV_NOT_READ = ".env files not read (the compose files' own defaults are used)"
ENV_UNTRACKED = (".env values ignored: the file is not tracked by git, so a clean clone builds without it (the "
                 "compose files' own defaults are used)")


def after_name(reason: str, shown: str) -> str:
    return reason.removeprefix(f"{shown}: ")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation; an unset variable without a default is empty, as compose makes it."""
    try:
        return variables.expand(text, env, escape="$", missing=lambda _: "")
    except variables.Required as e:
        raise ValueError(f"variable {e.name} is required: {e.message or 'not set'}") from None
    except variables.Unsupported as e:
        raise ValueError(f"invalid interpolation of {e.name!r} (compose refuses it)") from None


class EnvValues(Mapping[str, str]):
    """The values interpolation may use; notes which names it looked up in an ignored `.env`."""

    def __init__(self, values: dict[str, str], ignored: dict[str, str]):
        self.values, self.ignored = values, ignored
        self.ignored_used: set[str] = set()

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        if name in self.ignored:
            self.ignored_used.add(str(name))
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def read_env(root: Path, shown: str, tracked: frozenset[str] | None,
             warnings: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """The `.env` at root/shown as (values to use, values ignored): none to use when it leaves the
    repository, is no regular file or grows past the bounds (a warning says so), and all ignored
    when git does not track it (the committed bake file must not depend on it)."""
    if not exists(root / shown) and not (root / shown).is_symlink():
        return {}, {}
    try:
        within(root, shown)
        values = parse_env(read_text(root / shown, shown), shown)
    except (ValueError, Unreadable, variables.ExpansionError) as e:  # Outside is a ValueError
        warnings.append((ENV_NOT_READ, f"{shown} ({after_name(str(e), shown)})"))
        return {}, {}
    if tracked is not None and shown not in tracked:
        return {}, values
    return values, {}


def parse_env(text: str, shown: str) -> dict[str, str]:
    """A compose `.env`: KEY=VALUE lines, `#` comments, quotes; values may use earlier keys."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        try:
            if len(value) >= 2 and value[0] == value[-1] == "'":
                env[key] = value[1:-1]
            elif len(value) >= 2 and value[0] == value[-1] == '"':
                env[key] = interpolate(value[1:-1], env)
            else:
                env[key] = interpolate(_without_comment(value), env)
        except variables.ExpansionError as e:
            raise variables.ExpansionError(key, e.reason) from None
        except ValueError as e:
            raise ValueError(f"{shown}: {key}: {e}") from None
    return env


def _without_comment(value: str) -> str:
    """An unquoted value up to ` #` (a `#` after whitespace starts a comment); a scan, not a regex:
    whitespace-then-`#` searched over a long run of spaces is quadratic."""
    i = value.find("#")
    while i != -1:
        if i > 0 and value[i - 1] in " \t":
            return value[:i].rstrip()
        i = value.find("#", i + 1)
    return value
