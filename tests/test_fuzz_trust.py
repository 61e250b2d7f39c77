"""A repository is input, never code: generated trees with hostile names and values, read back
through the real `docker buildx bake --print`.

Each example is a small monorepo whose folder names, compose service names, build args and
`.env` values carry control characters, quotes, `${`, `%{`, HCL and TOML syntax and unicode,
with symlinks in and out of the tree, and a secret beside the tree. Whatever bakegen does with
it, these hold:
- the run ends in a file (exit 0) or in one line (exit 2), never a traceback or a bug (exit 3);
- no target, secret, ssh, context or arg appears in what bake reads that the inputs did not
  declare, and every context and Dockerfile stays inside the tree;
- nothing outside the tree is read into the file or written;
- nothing raw reaches the terminal (no escape or other control character on stderr).
Bounded (a few dozen examples) so CI stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .helpers import need_buildx

SECRET = "SECRET-7f3a9"
INTERNAL_TARGETS = {"_common"}  # bakegen's shared settings, inherited by every target
PIECES = ["a", "b", "-", "_", ".", " ", "\n", "\r", "\t", "\x1b[31m", "\x07", '"', "'", "\\", "${HOME}", "%{ if",
          "}", "#", "=", "é", "e\u0301", "\u202e", "[x]", ":", "target \"evil\" {", "secret = [\"id=x,src=/etc/shadow\"]"]
hostile = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join)
# what a folder may be called: anything but "/" and NUL, and not "." or ".."
folder_name = hostile.map(lambda s: s.replace("/", "_")).filter(lambda s: s not in (".", "..") and len(s.encode()) < 200)
arg_key = st.sampled_from(["PY", "MODE", "A_B", "x"]) | hostile


@st.composite
def repositories(draw):
    services = draw(st.lists(st.fixed_dictionaries({
        "folder": folder_name,
        "service": hostile,
        "args": st.dictionaries(arg_key, hostile, max_size=3),
        "context": st.sampled_from(["own", "own", "outside", "absolute", "parent"]),
        "compose": st.booleans(),
        "extra": st.sampled_from(["none", "inside", "outside", "absolute"]),  # an additional_contexts entry
        "extra_name": hostile,
    }), min_size=1, max_size=3, unique_by=lambda s: s["folder"]))
    env = draw(st.sampled_from(["none", "hostile", "linked-out"]))
    env_value = draw(hostile)
    linked_folder = draw(st.booleans())
    alias_inside = draw(st.booleans())  # a folder symlinked to another folder of the tree
    return services, env, env_value, linked_folder, alias_inside


def write_repository(base: Path, services, env: str, env_value: str, linked_folder: bool,
                     alias_inside: bool) -> tuple[Path, Path]:
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.env").write_text(f"TOKEN={SECRET}\nPY={SECRET}\n")
    (outside / "Dockerfile").write_text(f"FROM alpine\nRUN echo {SECRET}\n")
    root = base / "repo"
    root.mkdir()
    compose: dict = {"services": {}}
    for s in services:
        folder = root / s["folder"]
        folder.mkdir()
        (folder / "Dockerfile").write_text("FROM alpine\nARG PY\nCOPY . /app\n")
        if s["compose"]:
            context = {"own": s["folder"], "outside": "../outside", "absolute": str(outside),
                       "parent": f"{s['folder']}/../.."}[s["context"]]
            build = {"context": context, "args": {**s["args"], "TOKEN": "${TOKEN:-none}"}}
            extra = {"inside": ".", "outside": "../outside", "absolute": str(outside)}.get(s["extra"])
            if extra is not None:
                build["additional_contexts"] = {s["extra_name"]: extra}
            compose["services"][s["service"]] = {"build": build}
    if compose["services"]:
        (root / "compose.yaml").write_text(yaml.safe_dump(compose, allow_unicode=True))
    if env == "hostile":
        (root / ".env").write_text(f"TOKEN={env_value.replace(chr(10), ' ').replace(chr(13), ' ')}\n")
    elif env == "linked-out":
        (root / ".env").symlink_to(outside / "secret.env")
    if linked_folder:
        (root / "linked").symlink_to(outside, target_is_directory=True)
    if alias_inside:
        (root / "alias").symlink_to(services[0]["folder"], target_is_directory=True)
    return root, outside


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def declared_args(services) -> set[str]:
    return {key for s in services if s["compose"] for key in (*s["args"], "TOKEN")} | {"PY"}


def inside(root: Path, path: str, base: Path) -> bool:
    resolved = (base / path).resolve()
    return resolved == root.resolve() or root.resolve() in resolved.parents


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repositories())
def test_hostile_repositories_never_change_what_the_file_means(repository):
    need_buildx()
    services, env, env_value, linked_folder, alias_inside = repository
    base = Path(tempfile.mkdtemp(prefix="bakegen-fuzz-"))
    try:
        root, outside = write_repository(base, services, env, env_value, linked_folder, alias_inside)
        before = fingerprint(outside)
        done = subprocess.run([sys.executable, "-m", "bakegen", "emit", str(root)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "GIT_CEILING_DIRECTORIES": str(base)})
        assert done.returncode in (0, 2), f"exit {done.returncode}: {done.stderr}"
        event(f"exit {done.returncode}")
        assert "Traceback" not in done.stderr
        raw = [c for c in done.stderr if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 or c == "\u202e"]
        assert not raw, f"raw control characters reached the terminal: {done.stderr!r}"
        assert SECRET not in done.stdout + done.stderr
        assert fingerprint(outside) == before, "something outside the tree was written"
        bake_file = root / "docker-bake.hcl"
        if done.returncode == 2:
            assert done.stderr.count("bakegen: error:") == 1 and done.stderr.endswith("\n")
            assert len([line for line in done.stderr.splitlines() if line.startswith("bakegen: error:")]) == 1
            assert not bake_file.exists(), "a failed emit wrote a file"
            return
        text = bake_file.read_text()
        assert SECRET not in text
        # bake also reads a `.env` where it runs (a hostile one can fail it): read the file alone
        reader = base / "print"
        reader.mkdir()
        shutil.copy(bake_file, reader / "docker-bake.hcl")
        printed = subprocess.run(["docker", "buildx", "bake", "-f", "docker-bake.hcl", "--print"], cwd=reader,
                                 capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        targets = json.loads(printed.stdout)["target"]
        blocks = re.findall(r'^target "([^"]+)" \{$', text, re.M)
        assert len(blocks) == len(set(blocks)), "a target block was injected (bake would merge it)"
        assert set(blocks) - set(targets) <= INTERNAL_TARGETS, "a target block was injected"
        for name, target in targets.items():
            assert not {"secret", "ssh", "entitlements", "network"} & set(target), f"{name}: {target}"
            assert inside(root, target["context"], root), f"{name}: context {target['context']} leaves the tree"
            assert inside(root, target.get("dockerfile", "Dockerfile"), root / target["context"])
            for key, value in target.get("contexts", {}).items():
                if value.startswith("target:"):
                    assert value.removeprefix("target:") in targets, f"{name}: {key}"
                else:  # a local folder compose declared: inside the tree
                    assert "://" not in value and inside(root, value, root), f"{name}: {key}={value}"
            assert set(target.get("args", {})) <= declared_args(services), f"{name}: {target.get('args')}"
            assert SECRET not in json.dumps(target)
    finally:
        shutil.rmtree(base, ignore_errors=True)
