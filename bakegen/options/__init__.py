"""What each command takes, declared once: a frozen dataclass per command whose fields are the
library's keyword arguments and, through `opt`/`arg` metadata, the CLI's flags and their help;
the class's docstring is the command's --help. bakegen/cli builds its commands from these, so a
new option is one field here. Plain data: nothing of bakegen is imported, and the CLI loads this
module only for the command that runs (`bakegen --version` does not)."""

from importlib import import_module

from bakegen.options.common import (
    BAKE_FILE,
    CACHE_BACKENDS,
    DEFAULT_BUILDER,
    DEFAULT_MAX_STORAGE,
    GRAPH_FORMATS,
    OVERLAY_FILE,
    ProjectOptions,
)

# Each options class and the module of its family, imported on first use: a command loads its own.
CLASSES = {
    "repository": ("EmitOptions", "GraphOptions", "AffectedOptions", "ImpactOptions", "InitOptions", "DigestOptions",
                   "LockOptions"),
    "building": ("BuildOptions", "RotateOptions", "DoctorOptions", "BuilderOptions", "BuilderUpOptions",
                 "BuilderDownOptions", "BenchRequest"),
    "github": ("CiOptions", "CiPlanOptions", "CiTagsOptions", "CiLintOptions"),
}
_WHERE = {name: family for family, names in CLASSES.items() for name in names}

__all__ = ["BAKE_FILE", "CACHE_BACKENDS", "COMMANDS", "DEFAULT_BUILDER", "DEFAULT_MAX_STORAGE", "GRAPH_FORMATS",
           "GROUPS", "OVERLAY_FILE", "ProjectOptions", "options_of", *sorted(_WHERE)]


def __getattr__(name: str) -> type:
    if name not in _WHERE:
        raise AttributeError(f"module 'bakegen.options' has no attribute {name!r}")
    return getattr(import_module(f"bakegen.options.{_WHERE[name]}"), name)


def options_of(command: str) -> type:
    """The options class of a command (`emit`, `builder up`)."""
    return __getattr__(COMMANDS[command])


# --- the commands: each one's name (a group's command after its group's name) and what it takes ---

COMMANDS: dict[str, str] = {
    "emit": "EmitOptions", "graph": "GraphOptions", "affected": "AffectedOptions", "impact": "ImpactOptions",
    "init": "InitOptions", "doctor": "DoctorOptions", "build": "BuildOptions", "cache rotate": "RotateOptions",
    "builder up": "BuilderUpOptions", "builder status": "BuilderOptions", "builder down": "BuilderDownOptions",
    "bench": "BenchRequest", "ci": "CiOptions", "ci-plan": "CiPlanOptions", "ci-tags": "CiTagsOptions",
    "ci-lint": "CiLintOptions", "digest": "DigestOptions", "lock": "LockOptions",
}
GROUPS = {  # each group's help; "" is bakegen's own
    "": """Generate docker-bake.hcl for a monorepo of base images and services.

Every compose service with `build:`, and every other Dockerfile (Dockerfile.<x> and
<x>.Dockerfile too), is a target; folders under docker/, and targets others build on, are
base images. A FROM, COPY --from or RUN --mount from= naming another target (by name, or by
the image it is tagged with) links to it through a bake named context, and every target
gets its own build cache. Typical use:

\b
  bakegen emit && docker buildx bake -f docker-bake.hcl

Exit codes: 0 ok, 1 check or build failed (or a bench budget breached), 2 bad input (or no
Docker engine), 3 a bug in bakegen (BAKEGEN_DEBUG=1 shows its traceback), 130 interrupted
(Ctrl-C or SIGTERM; files being changed are put back).
""",
    "cache": "Manage build caches.",
    "builder": """A BuildKit builder of bakegen's own (BuildKit 0.20+), apart from your default builder.

    `up` makes it (or reuses it), `status` says what runs, `down` stops it. Build on it with
    `bakegen build --builder NAME` or `docker buildx bake --builder NAME`: its cache is its own,
    so your default builder's cache is never touched.
    """,
}
