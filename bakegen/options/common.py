"""What many commands take, and the names of the files and formats they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakegen.flags import arg, opt

DEFAULT_BUILDER = "bakegen"
DEFAULT_MAX_STORAGE = "20GB"
BAKE_FILE = "docker-bake.hcl"  # what emit writes in the repository by default
OVERLAY_FILE = "bakegen.hcl"  # `emit --overlay`: beside a hand-written docker-bake.hcl
CACHE_BACKENDS = ("registry", "local", "gha", "inline", "none")  # bakegen/model.py CacheBackend
GRAPH_FORMATS = ("text", "mermaid", "dot")  # what `bakegen graph` draws (bakegen/render.py)




# --- what many commands take ---------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ProjectOptions:
    """A command that reads the monorepo at `root`, with `config` (default: root/bakegen.toml)."""

    root: Path = arg(Path("."), "[PATH]", path="dir")
    config: Path | None = opt(None, "-c", "--config", path="file",
                              help="Config file (default: PATH/bakegen.toml when it exists).")


def builder_option(help: str = "buildx builder to use (default: buildx's current one); see `bakegen builder "
                   "up`.") -> Any:
    return opt(None, "--builder", metavar="NAME", help=help)
