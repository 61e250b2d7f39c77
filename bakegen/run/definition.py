"""A hand-written bake (or compose) file read by bake itself: `docker buildx bake --print`, so
its variables, functions, `inherits` and `matrix` mean exactly what they mean to bake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bakegen import command
from bakegen.adopt import Blocks, Definition, declared_blocks
from bakegen.model import BakegenError
from bakegen.paths import Outside, read_text, within

PRINT_TIMEOUT = 120  # seconds: bake evaluates the files and prints, nothing is built


def read_definition(root: Path, files: list[str], run: command.Runner = command.run) -> Definition:
    """Every target the files declare (templates too: `adopt` tells them apart), bake's default
    group, and each group as bake resolves it. `files` are relative to `root`, where bake runs."""
    texts = []
    for name in files:
        try:
            within(root, name)
        except Outside as e:
            raise BakegenError(f"--from {name}: {e}") from None
        if not (root / name).is_file():
            raise BakegenError(f"--from {name}: no such file")
        texts.append(read_text(root / name, name))
    blocks = declared_blocks(texts)
    try:
        default = _print(root, files, [], run)
    except command.CommandError as e:
        if "find target default" not in e.reason or not blocks.targets:  # no default group: a file may have none
            raise
        default = {}
    everything = _print(root, files, list(blocks.targets), run) if blocks.targets else default
    targets = {**default.get("target", {}), **everything.get("target", {})}
    groups: dict[str, list[str]] = {}
    broken: dict[str, str] = {}
    for group in blocks.groups:
        try:
            printed = _print(root, files, [group], run)
        except command.CommandError as e:
            broken[group] = e.reason
            continue
        groups.update({g: list(v.get("targets", [])) for g, v in printed.get("group", {}).items() if g != "default"})
    # a matrix block asked by its name comes back as a group of its variants
    groups.update({g: list(v.get("targets", [])) for g, v in everything.get("group", {}).items()
                   if g != "default" and g not in groups})
    return Definition(targets=dict(sorted(targets.items())),
                      default=list(default.get("group", {}).get("default", {}).get("targets", [])),
                      groups=groups, broken=broken, blocks=blocks)


def _print(root: Path, files: list[str], targets: list[str], run: command.Runner) -> dict[str, Any]:
    args = ["docker", "buildx", "bake", *(a for f in files for a in ("-f", f)), "--print", *targets]
    done = run(args, cwd=root, timeout=PRINT_TIMEOUT)
    try:
        printed = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise BakegenError(f"`docker buildx bake --print` did not answer JSON ({e})") from None
    if not isinstance(printed, dict):
        raise BakegenError("`docker buildx bake --print` did not answer an object")
    return printed


__all__ = ["Blocks", "Definition", "read_definition"]
