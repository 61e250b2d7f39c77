"""The package's layers flow one way (model -> readers -> plan -> render -> run -> app -> cli): a
module imports its own layer or a lower one, and no modules import each other in a circle.
Read from the source with ast (imports inside functions count too: a lazy import is still a
dependency), so a new module must be given its layer here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bakegen"

# Lowest first. A module named here is bakegen.<name>; a package stands for all its modules.
LAYERS: list[tuple[str, set[str]]] = [
    ("model", {"errors", "keys", "flags", "options", "reads", "model", "names", "paths", "sinks", "command", "writer", "machine"}),
    ("readers", {"dockerfile", "dockerignore", "compose", "contexts", "dotenv", "evidence", "git", "discover", "schema", "config", "variables", "lock"}),
    ("plan", {"graph", "plan", "plan_values", "plan_cache", "affected", "impact", "impact_rules", "steps", "advice", "ci", "digest", "reuse"}),
    ("render", {"render", "hcl", "workflow", "report", "generate", "adopt"}),
    ("run", {"run", "bench"}),
    ("app", {"app"}),
    ("cli", {"cli", "__main__", "__init__"}),  # __init__: the library API, lazily over app
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    if key not in RANK:
        pytest.fail(f"{module}: in no layer; add it to LAYERS in {Path(__file__).name}")
    return RANK[key]


def imports_of(module: str) -> set[str]:
    """The bakegen modules `module` imports (`from bakegen import x` is bakegen.x when that is a
    module, else the package's face)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_imports_its_own_layer_or_a_lower_one():
    upside_down = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {i} ({LAYERS[layer_of(i)][0]})"
                   for m, found in GRAPH.items() for i in sorted(found) if layer_of(i) > layer_of(m)]
    assert upside_down == []


def test_no_import_cycle():
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for other in sorted(GRAPH[module]):
            if state.get(other) == "open":
                cycles.append([*path[path.index(other):], other])
            elif other not in state:
                visit(other, [*path, other])
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_check_sees_an_upside_down_import_and_a_cycle(monkeypatch):
    """The two rules fail where they should (so a green run means something)."""
    assert "bakegen.model" in GRAPH["bakegen.plan"] and "bakegen" in GRAPH["bakegen.cli.show"]
    assert "bakegen.sinks" in GRAPH["bakegen.cli.common"]  # an import inside a function counts
    monkeypatch.setitem(GRAPH, "bakegen.model", {"bakegen.plan"})
    with pytest.raises(AssertionError):
        test_every_module_imports_its_own_layer_or_a_lower_one()
    with pytest.raises(AssertionError):
        test_no_import_cycle()


def test_no_module_is_over_400_lines_and_the_cli_over_300():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 400} == {}
    assert sum(n for m, n in sizes.items() if m.startswith("bakegen.cli")) <= 300


def test_every_command_is_made_from_its_options_and_has_a_body():
    """Each entry of options.COMMANDS becomes a click command whose flags are its class's fields."""
    from dataclasses import fields

    from click.testing import CliRunner

    from bakegen.cli import main
    from bakegen.options import COMMANDS, options_of

    for name in COMMANDS:
        cls = options_of(name)
        done = CliRunner().invoke(main, [*name.split(), "--help"])
        assert done.exit_code == 0, (name, done.output)
        for f in fields(cls):
            cli = f.metadata.get("cli")
            if cli and cli.flags and not cli.hidden:
                assert cli.flags[-1].split("/")[0] in done.output, (name, f.name)


def test_the_readme_names_every_flag_of_every_command():
    """The README's command table is checked against the one declaration of each option."""
    from dataclasses import fields

    from bakegen.options import COMMANDS, options_of

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.split("\n## CLI\n", 1)[1].split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    for name in COMMANDS:
        group, _, own = name.rpartition(" ")
        row = next((line for line in table if f"`bakegen {name} " in line or f"`bakegen {name}`" in line
                    or (group and f"`bakegen {group} " in line and f"`{own} " in line)), None)
        assert row is not None, f"no README row for `bakegen {name}`"
        for f in fields(options_of(name)):
            cli = f.metadata.get("cli")
            if cli and cli.flags and not cli.hidden:
                named = [re.search(rf"(?<![\w-]){re.escape(flag.split('/')[0])}(?![\w-])", row) for flag in cli.flags]
                assert any(named), f"`bakegen {name}`: {cli.flags[-1]} is not in its README row"
