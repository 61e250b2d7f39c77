"""The error every reader raises for bad input (one line, exit 2): a module of its own, so the
lightest modules (the terminal's escapers, the CLI's fast paths) can name it without the model."""


class BakegenError(Exception):
    """Bad input: reported as one line on stderr, exit code 2."""

    exit_code = 2
