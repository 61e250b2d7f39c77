"""bakegen: docker-bake.hcl for cached multi-image monorepo builds.

    >>> import bakegen
    >>> text = bakegen.generate("path/to/repo", registry="ghcr.io/acme")  # the bake file's text
    >>> project = bakegen.load("path/to/repo")                           # the model it is made from
"""

from bakegen.generate import generate, load
from bakegen.model import BakegenError, Project

__all__ = ["BakegenError", "Project", "generate", "load"]
