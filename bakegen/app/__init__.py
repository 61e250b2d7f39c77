"""The application layer: one function per command, typed options in, a result out. The CLI
parses, calls one of these and prints; library users call the same (`bakegen.emit(...)`)."""

from bakegen.app.building import (
    BakeCall,
    BuilderDownOptions,
    BuilderOptions,
    BuilderUpOptions,
    BuildListener,
    BuildOptions,
    BuildResult,
    DoctorOptions,
    DoctorResult,
    RotateOptions,
    Rotation,
    build,
    builder_down,
    builder_status,
    builder_up,
    doctor,
    rotate_cache,
)
from bakegen.app.common import FileResult, Outcome, ProjectOptions, Say
from bakegen.app.github import CiLintOptions, CiLintResult, CiOptions, CiPlanOptions, CiPlanResult, ci, ci_lint, ci_plan
from bakegen.app.repository import (
    AffectedOptions,
    AffectedResult,
    EmitOptions,
    GraphOptions,
    GraphResult,
    ImpactOptions,
    ImpactResult,
    InitOptions,
    InitResult,
    affected,
    emit,
    graph,
    impact,
    init,
)

__all__ = [
    "AffectedOptions", "AffectedResult", "BakeCall", "BuildListener", "BuildOptions", "BuildResult",
    "BuilderDownOptions", "BuilderOptions", "BuilderUpOptions", "CiLintOptions", "CiLintResult", "CiOptions",
    "CiPlanOptions", "CiPlanResult", "DoctorOptions", "DoctorResult", "EmitOptions", "FileResult", "GraphOptions",
    "GraphResult", "ImpactOptions", "ImpactResult", "InitOptions", "InitResult", "Outcome", "ProjectOptions",
    "RotateOptions", "Rotation", "Say", "affected", "build", "builder_down", "builder_status", "builder_up", "ci",
    "ci_lint", "ci_plan", "doctor", "emit", "graph", "impact", "init", "rotate_cache",
]
