"""Build nothing that was built before: each target's image is also tagged `in-<its digest>`, and a
target whose `<image>:in-<digest>` is in the registry is not built again. Pure decisions here: what
the registry holds comes in as data (`found`), and what bake must be told comes out as data (the
overlay bake file: the input tags of what is built, and the reused images as named contexts of
the targets built on them, so bake does not build those either)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from bakegen.digest import PART_NAMES, TargetDigest
from bakegen.graph import IMAGE_PREFIX, LoadedProject
from bakegen.names import repository_name

INPUT_TAG_PREFIX = "in-"
# A label on each image built by reuse: the digest of each kind of its inputs, so a later build
# can say which kind changed since (`digest.PART_NAMES`).
INPUTS_LABEL = "dev.bakegen.inputs"


def input_tag(digest: TargetDigest) -> str:
    """The tag naming an image by its inputs: `in-` and the 64 hex of the digest (67 characters)."""
    return INPUT_TAG_PREFIX + digest.hex


def image_repository(project: LoadedProject, registry: str, name: str) -> str:
    """Where bake pushes the target's image (the bake file's `lower(REGISTRY)/<repository>`)."""
    return f"{registry.lower()}/{repository_name(name)}"


@dataclass(frozen=True)
class Decision:
    target: str
    repository: str  # ghcr.io/acme/api: no tag
    digest: TargetDigest
    reused: str | None  # the manifest digest of the image found under the input tag; None: built
    why: str

    @property
    def input_ref(self) -> str:
        return f"{self.repository}:{input_tag(self.digest)}"

    @property
    def image_ref(self) -> str | None:
        """The reused image by its manifest digest: what targets built on it read."""
        return f"{self.repository}@{self.reused}" if self.reused else None


def inputs_label(digest: TargetDigest) -> str:
    return json.dumps(dict(digest.parts), sort_keys=True, separators=(",", ":"))


def changed_parts(digest: TargetDigest, labels: Mapping[str, str] | None) -> list[str]:
    """The kinds of input that differ from those an earlier image's label records; [] when it has none."""
    try:
        before = json.loads((labels or {}).get(INPUTS_LABEL, ""))
    except ValueError:
        return []
    if not isinstance(before, dict):
        return []
    return [PART_NAMES.get(part, part) for part, value in digest.parts.items() if before.get(part) != value]


def decide(project: LoadedProject, digests: Mapping[str, TargetDigest], registry: str,
           found: Mapping[str, str | None], previous: Mapping[str, Mapping[str, str] | None] | None = None,
           tag: str = "") -> list[Decision]:
    """For each target of `digests` (bases first): reused when `found[name]` (the manifest digest
    under its input tag) is there, else built, each with why; `previous` holds the labels of the
    image under this run's `tag`, where there is one, to say which kind of input changed since."""
    decisions: dict[str, Decision] = {}
    for name in (n for n in project.graph.order if n in digests):
        digest, repository = digests[name], image_repository(project, registry, name)
        short = f"{repository}:{INPUT_TAG_PREFIX}{digest.hex[:12]}…"
        unlocked = f"; upstream not locked: {', '.join(digest.unlocked)}" if digest.unlocked else ""
        if found.get(name):
            why = f"{short} exists: an image was built from exactly these inputs"
            decisions[name] = Decision(name, repository, digest, found[name], why + unlocked)
            continue
        built_bases = sorted(b for b in project.graph.bases(name) if b in decisions and not decisions[b].reused)
        why = (f"builds on {', '.join(built_bases)}, built in this run" if built_bases
               else f"no image from these inputs yet ({short} is not in the registry)")
        changed = changed_parts(digest, (previous or {}).get(name))
        if changed:
            why += f"; changed since {repository}:{tag}: {', '.join(changed)}"
        decisions[name] = Decision(name, repository, digest, None, why + unlocked)
    return list(decisions.values())


def overlay(project: LoadedProject, decisions: list[Decision], tag: str) -> dict:
    """The bake file laid over docker-bake.hcl (`-f docker-bake.hcl -f overlay.json`; bake merges a
    target's attributes key by key, a map entry by entry): each built target tagged with this
    run's tag and its input tag, and each reused base given to the targets built on it as
    `docker-image://<image>@<digest>` in place of `target:<base>`."""
    by_name = {d.target: d for d in decisions}
    targets: dict[str, dict] = {}
    for decision in decisions:
        if decision.reused:
            continue
        attrs: dict = {"tags": [f"{decision.repository}:{tag}", decision.input_ref],
                       "labels": {INPUTS_LABEL: inputs_label(decision.digest)}}
        contexts = {key: IMAGE_PREFIX + by_name[base].image_ref
                    for key, base in sorted(project.graph.links[decision.target].items())
                    if base in by_name and by_name[base].reused}
        if contexts:
            attrs["contexts"] = contexts
        targets[decision.target] = attrs
    return {"target": targets}
