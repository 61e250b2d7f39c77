"""Plan decisions as tables over hand-built models (buildx's `File{Data}` tables): no file
system, each row a project in a few lines and what bakegen must decide for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakegen.dockerfile import parse_dockerfile
from bakegen.graph import TargetGraph
from bakegen.model import BakegenError, Kind, Project, Target
from bakegen.plan import plan_groups
from bakegen.steps import instruction_index, owner


def project(dockerfiles: dict[str, str], registry: str = "ghcr.io/acme/shop", **targets: dict) -> Project:
    """Targets named as the keys, each with that Dockerfile text; `targets` sets fields."""
    built = {}
    for name, text in dockerfiles.items():
        fields = targets.get(name.replace("-", "_"), {})
        kind = Kind.BASE if name.startswith("base") else Kind.SERVICE
        built[name] = Target(name=name, kind=kind, context=name,
                             parsed=parse_dockerfile(text, Path(name), f"{name}/Dockerfile"), **fields)
    return Project(root=Path("/nonexistent"), targets=built, registry=registry)


LINKS = [
    ("FROM by name", {"base": "FROM alpine\n", "app": "FROM base\n"}, {}, {"app": {"base": "base"}}),
    ("FROM by the tagged image, any tag", {"base": "FROM alpine\n", "app": "FROM ghcr.io/acme/shop/base:v2\n"}, {},
     {"app": {"ghcr.io/acme/shop/base:v2": "base"}}),
    ("an image of another registry is upstream", {"base": "FROM alpine\n", "app": "FROM quay.io/acme/base\n"}, {},
     {"app": {}}),
    ("a digest is never a link", {"base": "FROM alpine\n", "app": "FROM base@sha256:" + "0" * 64 + "\n"}, {},
     {"app": {}}),
    ("an earlier stage is no link", {"base": "FROM alpine\n", "app": "FROM alpine AS base\nFROM base\n"}, {},
     {"app": {}}),
    ("COPY --from a target", {"base": "FROM alpine\n", "app": "FROM alpine\nCOPY --from=base /a /a\n"}, {},
     {"app": {"base": "base"}}),
    ("COPY --from a stage index", {"base": "FROM alpine\n", "app": "FROM alpine\nFROM alpine\nCOPY --from=0 /a /a\n"},
     {}, {"app": {}}),
    ("a build arg picks the base", {"base_a": "FROM alpine\n", "base_b": "FROM alpine\n",
                                    "app": "ARG BASE=base_a\nFROM $BASE\n"},
     {"app": {"args": {"BASE": "base_b"}}}, {"app": {"base_b": "base_b"}}),
    ("a compose image", {"base": "FROM alpine\n", "app": "FROM acme/base-image:7\n"},
     {"base": {"image": "acme/base-image:7"}}, {"app": {"acme/base-image:7": "base"}}),
    ("a configured target: context", {"base": "FROM alpine\n", "app": "FROM alpine\n"},
     {"app": {"contexts": {"shared": "target:base"}}}, {"app": {"shared": "base"}}),
    ("a configured docker-image context of a target's image", {"base": "FROM alpine\n", "app": "FROM alpine\n"},
     {"app": {"contexts": {"b": "docker-image://ghcr.io/acme/shop/base:latest"}}}, {"app": {"b": "base"}}),
]


@pytest.mark.parametrize(("dockerfiles", "fields", "expected"), [row[1:] for row in LINKS], ids=[r[0] for r in LINKS])
def test_links(dockerfiles, fields, expected):
    links = TargetGraph.of(project(dockerfiles, **fields)).links
    assert {name: found for name, found in links.items() if name in expected} == expected


def test_a_cycle_through_a_configured_context_is_named():
    with pytest.raises(BakegenError, match="cycle between targets: a -> b -> a"):
        TargetGraph.of(project({"a": "FROM b\n", "b": "FROM alpine\n"}, b={"contexts": {"x": "target:a"}}))


GROUPS = [
    ("bases and services", {}, {"bases": ["base"], "services": ["app"]}),
    ("a target's own group", {"app": {"groups": ["web"]}}, {"web": ["app"]}),
]


@pytest.mark.parametrize(("fields", "expected"), [row[1:] for row in GROUPS], ids=[r[0] for r in GROUPS])
def test_groups(fields, expected):
    groups = plan_groups(project({"base": "FROM alpine\n", "app": "FROM base\n"}, **fields))
    assert {g: m for g, m in groups.items() if g in expected} == expected


STEPS = [
    # BuildKit's label, the step's text, who should own it
    ("report", "RUN echo HEAVY_GAMMA", "base-gamma"),  # the base's step, asked for first by report
    ("report", "RUN echo report", "report"),
    ("", "COPY app.py /app/", "report"),  # bake built one target: no label; one Dockerfile holds it
    ("report", "RUN   echo   HEAVY_GAMMA", "base-gamma"),  # whitespace as BuildKit may join lines
    ("other", "RUN echo unknown", "other"),  # nothing decides: BuildKit's label stays
]


@pytest.mark.parametrize(("named", "text", "expected"), STEPS)
def test_steps_belong_to_the_target_whose_dockerfile_holds_them(named, text, expected):
    shop = project({
        "base-gamma": "FROM alpine\nRUN echo HEAVY_GAMMA\n",
        "report": "FROM base-gamma\nRUN echo report\nCOPY app.py /app/\n",
        "other": "FROM base-gamma\n",
    })
    assert owner(named, text, instruction_index(shop), TargetGraph.of(shop)) == expected
