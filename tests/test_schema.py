"""The typed config schema (bakegen.keys, bakegen.schema): one declaration per key, read by
validation, the README's table, `init` and the command-line overrides."""

import tomllib
from pathlib import Path

import pytest

from bakegen.generate import generate, load, starter_config
from bakegen.keys import Invalid
from bakegen.model import BakegenError, Project
from bakegen.schema import FIELDS, KEYS, SECTIONS, TABLE_END, TABLE_START, key_table, parse_config

from .helpers import bake_print, write_tree

README = Path(__file__).parent.parent / "README.md"
TREE = {"web/Dockerfile": "FROM alpine\n", "api/Dockerfile": "FROM alpine\n"}


def test_the_readme_key_table_is_the_schema_s():
    text = README.read_text(encoding="utf-8")
    between = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    assert between.strip() == key_table().strip(), "README key table is stale: run scripts/config-table --write"


def test_every_key_is_declared_once_with_a_doc_and_a_section():
    assert len(KEYS) == len(FIELDS)  # no path declared twice
    for f in FIELDS:
        assert f.key.doc and f.key.check.shows, f.key.path
        assert f.key.path.split(".")[0] in SECTIONS, f.key.path
        assert f"`{f.key.path}" in key_table()


@pytest.mark.parametrize(("key", "value"), [
    ("project.registry", "https://ghcr.io/acme"), ("project.registry", "ghcr.io/a b"), ("project.registry", ""),
    ("project.tag", "bad tag"), ("project.tag", "a\nb"), ("project.tag", "é" * 3),
    ("cache.backend", "s3"), ("cache.backend", "e\u0301"),
])
def test_overrides_are_refused_with_the_config_s_own_reason(tmp_path, key, value):
    """`emit --cache/--registry/--tag` (generate.load) and bakegen.toml go through one check."""
    section, name = key.split(".")
    with pytest.raises(BakegenError) as in_config:
        parse_config(f"[{section}]\n{name} = {_toml(value)}\n", "bakegen.toml")
    write_tree(tmp_path, TREE)
    option = {"project.registry": "registry", "project.tag": "tag", "cache.backend": "cache"}[key]
    with pytest.raises(BakegenError) as as_override:
        load(tmp_path, **{option: value})
    reason = str(in_config.value).removeprefix(f"bakegen.toml: {key}: ")
    assert str(as_override.value) == f"{option}: {reason}"
    assert "\n" not in str(as_override.value)


def test_overrides_that_pass_are_typed_as_the_config_s(tmp_path):
    write_tree(tmp_path, TREE)
    project = load(tmp_path, cache="local", registry="reg.local:5000/x", tag="v1.2")
    assert (project.cache.backend.value, project.registry, project.tag) == ("local", "reg.local:5000/x", "v1.2")


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- project.labels: the key added in one place -----------------------------------------------------

HOSTILE = 'a "quote" ${HOME} %{x} \\ back\nnewline'


def test_project_labels_reach_every_image_under_each_target_s_own(tmp_path):
    write_tree(tmp_path, {**TREE, "bakegen.toml": f"""
[project]
labels = {{ "org.opencontainers.image.vendor" = "Acme", team = "ml", "x.hostile" = {_toml(HOSTILE)}, n = 3 }}

[targets.web]
labels = {{ team = "web" }}
"""})
    (tmp_path / "docker-bake.hcl").write_text(generate(tmp_path))
    printed = bake_print(tmp_path, "web", "api")["target"]
    for name, team in (("web", "web"), ("api", "ml")):
        labels = printed[name]["labels"]
        assert labels["org.opencontainers.image.vendor"] == "Acme" and labels["n"] == "3"
        assert labels["team"] == team  # the target's own wins
        assert labels["x.hostile"] == HOSTILE  # read back exactly: escaped, not interpolated
        assert "org.opencontainers.image.source" in labels  # bakegen's own still there


def test_project_labels_unset_change_nothing(tmp_path):
    write_tree(tmp_path, TREE)
    before = generate(tmp_path)
    (tmp_path / "bakegen.toml").write_text("[project]\nlabels = {}\n")
    assert generate(tmp_path) == before


@pytest.mark.parametrize(("toml", "said"), [
    ('[project]\nlabels = { "org.opencontainers.image.source" = "x" }\n',
     "project.labels.org.opencontainers.image.source: bakegen sets this label"),
    ("[project]\nlabels = { a = [1] }\n", "project.labels.a: expected a string or number, got array"),
    ('[project]\nlabels = "x"\n', "project.labels: expected a table, got string"),
    ("[project]\nlabelz = {}\n", "project.labelz: unknown key (known: attestations, default_branch, discover, exclude, labels, overlay_only, registry"),
])
def test_bad_project_labels_name_the_key(said, toml):
    with pytest.raises(BakegenError, match=f"^bakegen.toml: {said}".replace("(", r"\(").replace(".", r"\.")):
        parse_config(toml, "bakegen.toml")


# --- init: written from the schema, read back by it -------------------------------------------------


def test_init_writes_the_keys_the_schema_marks_and_they_load_back_unchanged(tmp_path):
    write_tree(tmp_path, TREE)
    text, count, _ = starter_config(tmp_path, ["tests/"], {})
    assert count == 2
    config = tomllib.loads(text)
    marked = {f.key.path for f in FIELDS if f.key.init == "value" and "<name>" not in f.key.path}
    written = {f"{section}.{k}" for section in ("project", "cache") for k in config[section]}
    assert written == marked
    assert "# labels = " in text  # an example, commented out
    before = load(tmp_path)
    (tmp_path / "bakegen.toml").write_text(text)
    after = load(tmp_path)
    assert after.exclude == ["tests/"]
    for f in FIELDS:  # every value init wrote reads back as discovery had it
        if f.key.init in ("value", "set") and f.key.path != "project.exclude":
            owner = {"Project": lambda p: p, "CacheSettings": lambda p: p.cache}.get(f.owner.__name__)
            if owner:
                assert getattr(owner(after), f.name) == getattr(owner(before), f.name), f.key.path
    assert {n: (t.kind, t.context, t.stage) for n, t in after.targets.items()} == {
        n: (t.kind, t.context, t.stage) for n, t in before.targets.items()}


def test_a_check_says_what_it_expected():
    from bakegen import keys

    with pytest.raises(Invalid, match="expected a whole number from 0 to 22"):
        keys.whole_number(0, 22)(23)
    with pytest.raises(Invalid) as e:
        keys.table_of(keys.scalar, "arg")({"ok": 1, "bad": [1]})
    assert (e.value.at, e.value.reason) == (".bad", "expected a string or number, got array")
    assert Project.__dataclass_fields__["labels"].metadata["key"].path == "project.labels"
