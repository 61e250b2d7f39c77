"""What CI does for one GitHub event: which targets to bake, whether to push images and write
the cache, and the bake variables that say so. Pure: the event comes in as plain data.

The rules (design.md, "CI facts"): every event reads the cache; only a push to the default
branch writes it (a pull request cannot poison it); images are pushed from the default branch
and from tags only; a pull request bakes only what its changes affect, and nothing when that
is empty. After a push, each image also gets the commit's tag, by its digest, and the digests
are reported (the job summary, a compose env file, the scan job's matrix).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bakegen.model import BakegenError, Project, TagScheme
from bakegen.plan import OVERLAY_PREFIX
from bakegen.sinks import visible

DEFAULT_RUNNER_LABELS = ("self-hosted", "linux", "x64", "gpu")
CI_BUILDER = "bakegen-ci"  # the persistent builder on the self-hosted runner


@dataclass(frozen=True)
class CiEvent:
    """The parts of GitHub's context a build decision needs (GITHUB_* environment variables)."""

    event_name: str  # push, pull_request, workflow_dispatch
    ref: str  # refs/heads/main, refs/tags/v1.0, refs/pull/7/merge
    sha: str
    repository: str  # owner/name
    repository_owner: str
    server_url: str = "https://github.com"
    head_ref: str = ""  # pull request: its branch
    base_ref: str = ""  # pull request: the branch it goes into

    @classmethod
    def from_environment(cls, env: dict[str, str]) -> CiEvent:
        missing = [k for k in ("GITHUB_EVENT_NAME", "GITHUB_REF", "GITHUB_SHA", "GITHUB_REPOSITORY") if not env.get(k)]
        if missing:
            raise BakegenError(f"not in a GitHub Actions job: {', '.join(missing)} not set")
        return cls(
            event_name=env["GITHUB_EVENT_NAME"], ref=env["GITHUB_REF"], sha=env["GITHUB_SHA"],
            repository=env["GITHUB_REPOSITORY"],
            repository_owner=env.get("GITHUB_REPOSITORY_OWNER") or env["GITHUB_REPOSITORY"].split("/")[0],
            server_url=env.get("GITHUB_SERVER_URL", "https://github.com"),
            head_ref=env.get("GITHUB_HEAD_REF", ""), base_ref=env.get("GITHUB_BASE_REF", ""),
        )

    @property
    def is_pull_request(self) -> bool:
        return self.event_name in ("pull_request", "pull_request_target")

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None

    @property
    def branch(self) -> str:
        if self.is_pull_request:
            return self.head_ref
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""


@dataclass
class CiPlan:
    build: bool
    targets: list[str]  # empty: everything
    push: bool
    cache_export: bool
    variables: dict[str, str] = field(default_factory=dict)  # bake variables for the environment
    reason: str = ""


def image_tag(event: CiEvent, default_branch: str) -> str:
    """`v1.2.0` for a tag, `latest` for the default branch, else `sha-<short>` (never pushed)."""
    if event.tag:
        return _valid_tag(event.tag)
    if not event.is_pull_request and event.branch == default_branch:
        return "latest"
    return f"sha-{event.sha[:12]}"


def _valid_tag(text: str) -> str:
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:128]
    return tag if re.match(r"^[A-Za-z0-9_]", tag) else f"v{tag}"[:128]


_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?\Z")


def metadata_variables(event: CiEvent, on_default: bool) -> dict[str, str]:
    """The tag scheme of docker/metadata-action, as values of the bake file's variables
    (plan_cache.METADATA_TAGS): `sha-<7 hex>` always, the branch (or `pr-<n>`), `1.2.3`, `1.2`
    and `1` for a git tag `v1.2.3` (no `1.2`/`1` for a pre-release or 0.x), `latest` on the
    default branch. TAG is emptied: the scheme's tags replace it."""
    pull = re.match(r"^refs/pull/(\d+)/", event.ref)
    branch = f"pr-{pull.group(1)}" if event.is_pull_request and pull else (
        "" if event.is_pull_request else event.branch)
    version = _SEMVER.match(event.tag or "")
    stable = bool(version and not version.group(4) and version.group(1) != "0")
    return {
        "TAG": "", "SHA": event.sha[:7], "BRANCH_TAG": _valid_tag(branch) if branch else "",
        "VERSION": (event.tag or "").removeprefix("v") if version else "",
        "VERSION_MINOR": f"{version.group(1)}.{version.group(2)}" if version and stable else "",
        "VERSION_MAJOR": version.group(1) if version and stable else "",
        "LATEST": "true" if on_default else "false",
    }


def plan_ci(project: Project, event: CiEvent, affected: list[str] | None) -> CiPlan:
    """`affected`: for a pull request, the targets its changes affect (None for other events)."""
    default_branch = project.cache.default_branch
    on_default = not event.is_pull_request and event.branch == default_branch
    push = on_default or event.tag is not None
    variables = {
        "REGISTRY": project.ci.registry.replace("{owner}", event.repository_owner.lower()),
        "TAG": image_tag(event, default_branch),
        "SOURCE": f"{event.server_url}/{event.repository}",
        "REVISION": event.sha,
        "BRANCH": event.branch or default_branch,
        "CACHE_EXPORT": "true" if on_default else "false",
        "PUSH": "true" if push else "false",
    }
    if project.tag_scheme == TagScheme.METADATA:
        variables.update(metadata_variables(event, on_default))
    if project.ci.overlay:  # bakegen.hcl's variables are prefixed (never one of the hand-written file's)
        variables.update({OVERLAY_PREFIX + name: value for name, value in list(variables.items())})
    if event.is_pull_request:
        targets = sorted(affected or [])
        if not targets:
            return CiPlan(False, [], False, False, variables, "no target is affected by this pull request")
        return CiPlan(True, targets, False, False, variables,
                      f"pull request: {len(targets)} affected target(s); cache read, nothing written or pushed")
    what = "default branch: images pushed, cache written" if on_default else (
        "tag: images pushed, cache read" if event.tag else "cache read, nothing written or pushed")
    return CiPlan(True, [], push, on_default, variables, what)


def split_by_kind(project: Project, plan: CiPlan) -> tuple[str, str]:
    """What the two bake steps get: bases first, in their own call, then the services;
    everything is the `bases` and `services` groups."""
    if not plan.build:
        return "", ""
    if not plan.targets:
        has_bases = any(t.kind == "base" for t in project.targets.values())
        has_services = any(t.kind == "service" for t in project.targets.values())
        return ("bases" if has_bases else ""), ("services" if has_services else "")
    known = set(project.targets)
    bases = [t for t in plan.targets if t in known and project.targets[t].kind == "base"]
    rest = [t for t in plan.targets if t not in bases]  # services and per-platform cache targets
    return ",".join(bases), ",".join(rest)


# --- after the push: immutable tags and digests ---------------------------------------------------

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
# An image repository as registries name them: host[:port]/path, lowercase path components.
_REPOSITORY = r"[A-Za-z0-9.-]+(?::\d+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
_IMAGE_NAME = re.compile(rf"(?P<repository>{_REPOSITORY})(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?\Z")


@dataclass(frozen=True)
class PushedImage:
    target: str
    repository: str  # ghcr.io/acme/api: no tag
    digest: str  # sha256:...

    @property
    def ref(self) -> str:
        """The image by digest: what a deployment or a scan pins."""
        return f"{self.repository}@{self.digest}"

    @property
    def variable(self) -> str:
        """The compose variable that runs this image by digest (`POSE_SERVICE_IMAGE`)."""
        return re.sub(r"[^A-Za-z0-9]", "_", self.target).upper() + "_IMAGE"


def commit_tag(sha: str) -> str:
    """The immutable tag of a commit's images, beside `latest` or the release tag."""
    return f"sha-{sha[:12]}"


def pushed_images(metadata: list[str]) -> list[PushedImage]:
    """Each image bake pushed, from its `--metadata-file` JSON (docker/bake-action's `metadata`
    output; an empty text is a bake step that did not run): per target, `image.name` (the tags,
    comma-separated) and `containerimage.digest`. Cache-only targets have neither and are left out.
    A name or digest that is not one is refused: these values reach the workflow's matrix."""
    found: dict[tuple[str, str], PushedImage] = {}
    for text in metadata:
        if not text.strip():
            continue
        try:
            targets = json.loads(text)
        except json.JSONDecodeError as e:
            raise BakegenError(f"bake metadata: not JSON ({e})") from None
        if not isinstance(targets, dict):
            raise BakegenError("bake metadata: expected an object of targets")
        for target, result in sorted(targets.items()):
            if not isinstance(result, dict) or "containerimage.digest" not in result or not result.get("image.name"):
                continue  # buildx.build.warnings, a cache-only target
            digest = str(result["containerimage.digest"])
            if not _DIGEST.match(digest):
                raise BakegenError(f"bake metadata: {target}: not a digest: '{visible(digest)}'")
            for name in str(result["image.name"]).split(","):
                m = _IMAGE_NAME.match(name.strip())
                if not m:
                    raise BakegenError(f"bake metadata: {target}: not an image name: '{visible(name)}'")
                found[(m["repository"], digest)] = PushedImage(target, m["repository"], digest)
    return sorted(found.values(), key=lambda image: (image.target, image.repository))


def digests_summary(images: list[PushedImage], tag: str) -> str:
    """The job summary's table of what was pushed (Markdown)."""
    rows = [f"| {image.target} | `{image.repository}` | `{image.digest}` |" for image in images]
    return "\n".join([f"### Images pushed (also tagged `{tag}`)", "", "| target | image | digest |",
                      "| --- | --- | --- |", *rows, ""]) + "\n"


def compose_env(images: list[PushedImage]) -> str:
    """`docker compose --env-file` lines that run each image by its digest."""
    return "".join(f"{image.variable}={image.ref}\n" for image in images)


def scan_matrix(images: list[PushedImage]) -> str:
    """The scan job's matrix (one entry per pushed image), as compact JSON for `fromJSON`."""
    return json.dumps([{"target": image.target, "ref": image.ref} for image in images], separators=(",", ":"))
