"""bakegen: docker-bake.hcl for cached multi-image monorepo builds.

    >>> import bakegen
    >>> text = bakegen.generate("path/to/repo", registry="ghcr.io/acme")  # the bake file's text
    >>> project = bakegen.load("path/to/repo")                           # the model it is made from
    >>> bakegen.emit(bakegen.EmitOptions(root=Path("path/to/repo"), check=True)).outcome
    >>> bakegen.impact(bakegen.ImpactOptions(root=Path("repo"), paths=(Path("repo/web/src/a.js"),))).steps

Every command of the CLI is a function here (bakegen.app): typed options in, a result out.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

from bakegen.app import WHERE as _APP_WHERE

__version__ = "0.1.0"  # pyproject.toml reads it: `bakegen --version` needs no package metadata

# Each public name and the module that holds it, imported on first use: `import bakegen` (and so
# `bakegen --version`) loads none of them. The application layer's names: bakegen/app/__init__.py.
_FROM = {"generate": "bakegen.generate", "load": "bakegen.generate",
         "BakegenError": "bakegen.model", "Project": "bakegen.model", **_APP_WHERE}

__all__ = ["__version__", *sorted(_FROM)]


def __getattr__(name: str) -> object:
    if name not in _FROM:
        raise AttributeError(f"module 'bakegen' has no attribute {name!r}")
    return getattr(import_module(_FROM[name]), name)


class _Library(types.ModuleType):
    """Some functions share their name with a module of the package (`bakegen.impact()` and
    bakegen/impact.py, `generate`, `affected`, `ci`, `graph`). Python binds a submodule on its
    package when it is first imported, which would hide the function: here the function keeps
    the name, and the module stays where imports find it (sys.modules, `from bakegen.impact import`)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FROM and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Library
