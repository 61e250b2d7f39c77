from pathlib import Path

import pytest

from bakegen.dockerfile import parse_dockerfile
from bakegen.model import BakegenError
from bakegen.names import normalize_image_ref


def stages(text: str) -> list[tuple[str, str | None, int]]:
    parsed = parse_dockerfile(text, Path("Dockerfile"), "x/Dockerfile")
    return [(s.image, s.name, s.line) for s in parsed.stages]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a\n", [("a", None, 1)]),
        ("from a as B\n", [("a", "B", 1)]),
        ("FROM --platform=$BUILDPLATFORM a AS b\n", [("a", "b", 1)]),
        ("# comment\n\nFROM \\\n  base \\\n  AS deps\n", [("base", "deps", 3)]),
        ("FROM a \\\n# comment inside\n  AS b\n", [("a", "b", 1)]),
        ("ARG BASE=base-python\nFROM ${BASE} AS x\n", [("base-python", "x", 2)]),
        ("ARG BASE\nFROM ${BASE:-fallback}\n", [("fallback", None, 2)]),
        ("ARG V=1\nFROM img:$V\n", [("img:1", None, 2)]),
        ("FROM ${UNSET}\n", [("${UNSET}", None, 1)]),
        ("# escape=`\nFROM a `\n  AS b\n", [("a", "b", 2)]),
        ("# syntax=docker/dockerfile:1\n# escape=`\nFROM a `\n  AS b\n", [("a", "b", 3)]),
        (
            "FROM a\nRUN <<EOF\nFROM not-a-stage\nEOF\nFROM c\n",
            [("a", None, 1), ("c", None, 5)],
        ),
        (
            "FROM a\nCOPY <<-'EOT' /x\n\tFROM nope\n\tEOT\nFROM d AS e\n",
            [("a", None, 1), ("d", "e", 5)],
        ),
    ],
)
def test_stages(text, expected):
    assert stages(text) == expected


def test_stage_after_global_arg_does_not_take_later_args():
    # ARG after the first FROM belongs to that stage, not to later FROM lines.
    assert stages("FROM a\nARG X=y\nFROM $X\n")[1][0] == "$X"


def test_external_images_skip_earlier_stages_only():
    parsed = parse_dockerfile(
        "FROM base AS deps\nFROM deps AS build\nFROM build2\nFROM base AS build2\n",
        Path("D"), "D",
    )
    # `build2` is used before it is defined, so it names an image, as BuildKit reads it.
    assert parsed.external_images() == ["base", "build2", "base"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN echo\n", "x/Dockerfile: no FROM instruction"),
        ("", "x/Dockerfile: no FROM instruction"),
        ("FROM\n", "x/Dockerfile:1: FROM without an image"),
        ("FROM a b c d\n", "x/Dockerfile:1: cannot read 'FROM a b c d'"),
    ],
)
def test_errors_name_file_and_line(text, message):
    with pytest.raises(BakegenError, match="^" + message.replace(".", r"\.")):
        stages(text)


@pytest.mark.parametrize(
    ("ref", "normal"),
    [
        ("Base-Python", "base-python"),
        ("docker.io/library/python:latest", "python"),
        ("library/python:3.11", "python:3.11"),
        ("ghcr.io/x/base:latest", "ghcr.io/x/base"),
    ],
)
def test_normalize(ref, normal):
    assert normalize_image_ref(ref) == normal
