"""The application layer: one function per command, typed options in, a result out. The CLI
parses, calls one of these and prints; library users call the same (`bakegen.emit(...)`).

Each module is imported when one of its names is first used, so `emit` never loads what
`build` needs (the run layer, the docker SDK)."""

from importlib import import_module

MODULES = {
    "bakegen.options": (
        "AffectedOptions", "BenchRequest", "BuildOptions", "BuilderDownOptions", "BuilderOptions", "BuilderUpOptions",
        "CiLintOptions", "CiOptions", "CiPlanOptions", "CiTagsOptions", "DoctorOptions", "EmitOptions", "GraphOptions",
        "ImpactOptions", "InitOptions", "ProjectOptions", "RotateOptions", "DigestOptions", "LockOptions",
    ),
    "bakegen.app.common": ("FileResult", "Outcome", "Say"),
    "bakegen.app.repository": (
        "AffectedResult", "GraphResult",
        "ImpactResult", "InitResult", "affected", "emit", "graph", "impact", "init",
    ),
    "bakegen.app.building": (
        "BakeCall", "BuildListener", "BuildResult",
        "DoctorResult", "Rotation", "build", "builder_down",
        "builder_status", "builder_up", "doctor", "rotate_cache",
    ),
    "bakegen.app.github": (
        "CiLintResult", "CiPlanResult",
        "CiTagsResult", "ci", "ci_lint", "ci_plan", "ci_tags",
    ),
    "bakegen.app.content": ("DigestResult", "LockResult", "ReuseResult", "build_reused", "digest", "lock"),
    "bakegen.bench.api": ("BenchOutcome", "run_bench"),
}
WHERE = {name: module for module, names in MODULES.items() for name in names}  # name -> its module

__all__ = sorted(WHERE)


def __getattr__(name: str) -> object:
    if name not in WHERE:
        raise AttributeError(f"module 'bakegen.app' has no attribute {name!r}")
    return getattr(import_module(WHERE[name]), name)
