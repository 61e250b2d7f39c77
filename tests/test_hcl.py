"""The one HCL escaping function, checked by hand and through the real buildx."""

import unicodedata

import hcl2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakegen import hcl
from bakegen.model import BakegenError
from bakegen.plan_values import BakePlan, Expr, Template
from bakegen.render import render_bake

from .helpers import bake_print, need_buildx


def is_nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


HOSTILE = [
    'quote " and \\ backslash',
    "line\nbreak\r\nand\ttab",
    "${HOME} and $${HOME} and $$ and ${",
    "%{ if true }x%{ endif } and %%{",
    "unicode: é 中文 😀 \u200b zero-width",
    "control \x01\x1f\x7f",
    "trailing backslash \\",
    "",
]


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('a"b', 'a\\"b'),
        ("a\\b", "a\\\\b"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("${HOME}", "$${HOME}"),
        ("%{x}", "%%{x}"),
        ("$x %x $ %", "$x %x $ %"),
        ("\x01", "\\u0001"),
        ("\U000e0001", "\\U000e0001"),
        ("é 😀", "é 😀"),
    ],
)
def test_escape(text, escaped):
    assert hcl.escape(text) == escaped


def test_template_keeps_expressions_and_escapes_literals():
    t = Template(("${not-an-expr}/", Expr("lower(REGISTRY)"), ':"x"'))
    assert hcl.template(t) == '"$${not-an-expr}/${lower(REGISTRY)}:\\"x\\""'


def plan_with_labels(labels: dict[str, str]) -> BakePlan:
    return BakePlan(variables=[], groups={"default": ["t"]},
                    targets={"t": {"context": ".", "labels": labels, "args": labels}})


def test_hostile_strings_survive_buildx_byte_for_byte(tmp_path):
    labels = {f"k{i}-{s[:5]}": s for i, s in enumerate(HOSTILE)}
    (tmp_path / "docker-bake.hcl").write_text(render_bake(plan_with_labels(labels)), encoding="utf-8")
    printed = bake_print(tmp_path)["target"]["t"]
    assert printed["labels"] == labels
    assert printed["args"] == labels


def test_python_hcl2_reads_the_output_too():
    text = render_bake(plan_with_labels({"a": "plain", "b": 'say "hi"'}))
    parsed = hcl2.loads(text)
    (block,) = parsed["target"]
    assert block['"t"']["labels"] == {'"a"': '"plain"', '"b"': '"say \\"hi\\""'}


def test_text_bake_would_normalise_is_refused():
    # HCL turns every string into Unicode NFC, escaped or not: "\uf900" reads back as "\u8c48".
    with pytest.raises(BakegenError, match="not in Unicode NFC form"):
        hcl.escape("e\u0301")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30).filter(is_nfc),
    min_size=1, max_size=8,
))
def test_any_text_round_trips_through_buildx(tmp_path, texts):
    need_buildx()
    labels = {f"k{i}": t for i, t in enumerate(texts)}
    (tmp_path / "docker-bake.hcl").write_text(render_bake(plan_with_labels(labels)), encoding="utf-8")
    assert bake_print(tmp_path)["target"]["t"]["labels"] == labels
