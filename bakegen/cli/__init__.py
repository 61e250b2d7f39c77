"""The `bakegen` command: parse, call the application layer through the library API
(`bakegen.emit(...)`, bakegen.app), print. Nothing below the CLI is imported before a command
runs, so `bakegen --version` and `--help` start in tens of milliseconds."""

from bakegen.cli.main import main as main  # the entry point (pyproject.toml, __main__)
