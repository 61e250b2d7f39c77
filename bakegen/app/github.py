"""Commands for GitHub Actions: write the workflow, plan a job's build, lint the workflows."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from bakegen.affected import affected_since
from bakegen.app.common import FileResult, Say, load_project, refuse_early, silent, write_or_check
from bakegen.ci import CiEvent, CiPlan, plan_ci, split_by_kind
from bakegen.graph import LoadedProject
from bakegen.model import BakegenError
from bakegen.options import CiLintOptions, CiOptions, CiPlanOptions, CiTagsOptions
from bakegen.plan import with_platform_caches
from bakegen.run.lint import lint_workflows
from bakegen.sinks import github_file
from bakegen.workflow import WORKFLOW_FILE, WORKFLOW_MARK, render_workflow
from bakegen.writer import Owned

WORKFLOW_OWNED = Owned(WORKFLOW_MARK, "replace it with `bakegen ci --force`")


def ci(options: CiOptions) -> FileResult:
    """.github/workflows/bakegen.yml written (atomically) or checked."""
    path = options.root / WORKFLOW_FILE
    refuse_early(options.root, path, check=options.check, owned=WORKFLOW_OWNED, force=options.force)
    text = render_workflow(load_project(options))
    return write_or_check(options.root, path, text, check=options.check, owned=WORKFLOW_OWNED,
                          force=options.force, make_folder=True)


@dataclass(frozen=True)
class CiPlanResult:
    reason: str
    variables: dict[str, str]  # bake variables, appended to $GITHUB_ENV
    outputs: dict[str, str] = field(default_factory=dict)  # build, push, bases, services: to $GITHUB_OUTPUT


def ci_plan(options: CiPlanOptions) -> CiPlanResult:
    """What this GitHub event builds, pushes and caches, written to $GITHUB_ENV and $GITHUB_OUTPUT."""
    environ = dict(os.environ if options.environ is None else options.environ)
    project = load_project(options)
    event = CiEvent.from_environment(environ)
    affected_names = affected_since(project, f"origin/{event.base_ref}") if event.is_pull_request else None
    plan = plan_ci(project, event, affected_names)
    reuse_outputs = {"reused": "", "reused_metadata": "", "overlay": "", "smoke": "false"}
    if plan.build:  # what an image of the same inputs exists for is not built (build --reuse's rule)
        plan, reuse_outputs = _reuse(project, plan, environ)
    bases, services = split_by_kind(project, plan)
    outputs = {"build": str(plan.build).lower(), "push": str(plan.push).lower(), "bases": bases, "services": services,
               **reuse_outputs}
    _append(environ.get("GITHUB_ENV"), plan.variables)
    _append(environ.get("GITHUB_OUTPUT"), outputs)
    return CiPlanResult(plan.reason, plan.variables, outputs)


def _reuse(project: LoadedProject, plan: CiPlan, environ: dict[str, str]) -> tuple[CiPlan, dict[str, str]]:
    """The plan less the targets whose input image exists, and ci-plan's reuse outputs: the
    overlay for the bake steps, the reused images for ci-tags, and whether the smoke target is built."""
    from bakegen.app.content import reuse_for_ci
    from bakegen.sinks import terminal

    folder = Path(environ.get("RUNNER_TEMP") or tempfile.mkdtemp(prefix="bakegen-"))
    reuse = reuse_for_ci(project, plan.targets, plan.variables["REGISTRY"], plan.variables["TAG"], folder)
    if reuse.reused:
        built = reuse.to_build
        plan = replace(plan, targets=with_platform_caches(project, built), build=bool(built),
                       reason=f"{plan.reason}; {len(reuse.reused)} reused, {len(built)} to build")
    if environ.get("GITHUB_STEP_SUMMARY"):
        with open(environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(terminal(reuse.summary()))
    smoke = project.ci.smoke_target
    return plan, {"reused": ",".join(reuse.reused), "reused_metadata": reuse.reused_metadata,
                  "overlay": str(reuse.overlay), "smoke": str(bool(smoke) and smoke in reuse.to_build).lower()}


def _append(path: str | None, values: dict[str, str]) -> None:
    """Each value set in GitHub's environment or output file (sinks.github_file: a newline in a
    value cannot add a variable)."""
    if not path:
        raise BakegenError("GITHUB_ENV and GITHUB_OUTPUT must name files (this runs inside a GitHub Actions job)")
    with open(path, "a", encoding="utf-8") as f:
        f.write(github_file(values))


@dataclass(frozen=True)
class CiTagsResult:
    tagged: list[tuple[str, str]]  # (image pushed, its commit tag by digest)


def ci_tags(options: CiTagsOptions) -> CiTagsResult:
    """After a push in a GitHub Actions job: each pushed image tagged `sha-<12 hex>` by its digest
    (in the registry), the digests to the job summary, `images` (the scan's matrix) to
    $GITHUB_OUTPUT, and a compose env file of image@digest when asked."""
    import re

    from bakegen.ci import commit_tag, compose_env, digests_summary, pushed_images, scan_matrix
    from bakegen.run.publish import tag_by_digest
    from bakegen.sinks import terminal
    from bakegen.writer import write_file

    environ = dict(os.environ if options.environ is None else options.environ)
    sha = environ.get("GITHUB_SHA", "")
    if not re.fullmatch(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", sha):
        raise BakegenError("GITHUB_SHA must name the commit (40 or 64 hex digits): "
                           "this runs inside a GitHub Actions job")
    reused = pushed_images(list(options.reused))
    images = sorted({*pushed_images(list(options.metadata)), *reused}, key=lambda i: (i.target, i.repository))
    tag = commit_tag(sha)
    # a reused image was pushed by an earlier run: this run's tag (`latest`, `v1.2.0`) moves to it here
    tagged = [(image.ref, tag_by_digest(image, environ["TAG"])) for image in reused if environ.get("TAG")]
    tagged += [(image.ref, tag_by_digest(image, tag)) for image in images]
    if options.env_file is not None:
        write_file(Path.cwd(), options.env_file, compose_env(images), given=True)
    _append(environ.get("GITHUB_OUTPUT"), {"images": scan_matrix(images)})
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(terminal(digests_summary(images, tag)))
    return CiTagsResult(tagged)


@dataclass(frozen=True)
class CiLintResult:
    files: list[Path]
    problems: list[str]


def ci_lint(options: CiLintOptions, say: Say = silent) -> CiLintResult:
    """zizmor, GitHub's workflow schema and actionlint over root/.github/workflows, offline."""
    project = load_project(options)
    folder = options.root / ".github" / "workflows"
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    return CiLintResult(files, lint_workflows(files, project.ci.actionlint_version, project.ci.runner_labels, say))
