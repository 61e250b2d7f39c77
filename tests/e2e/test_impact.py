"""What a change rebuilds, judged by BuildKit: the repository's own Dockerfiles as stand-ins that
keep every instruction's place and inputs (FROM images remapped to busybox through bakegen's
`images` config; each RUN replaced by a cheap command that keeps its mount flags and changes the
files other stages take from it; COPY, ARG, ENV and stages untouched), built from the generated
bake file, then each input changed in turn. The steps BuildKit ran again must be the steps
`bakegen impact` predicted, and they must follow the layout's rules (a requirements pin reruns
no compile; service code reruns no base step; ...). No CUDA image and no GPU needed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from bakegen import generate, load
from bakegen.dockerfile import copy_flags, external_refs, parse_dockerfile, run_mounts
from bakegen.git import file_at
from bakegen.impact import impact_of
from bakegen.names import normalize_image_ref
from bakegen.paths import join_path
from bakegen.render import BAKE_FILE
from bakegen.run.bake import run_bake
from bakegen.steps import instruction_index, owner

from .conftest import BUSYBOX_IMAGE, PREFIX

ROOT = Path(__file__).resolve().parents[2]
COMPILE_STAGES = {"toolchain", "cuda-toolchain", "detectron2", "pytorch3d", "neural-renderer", "python-wheels"}
pytestmark = [pytest.mark.engine, pytest.mark.exports_cache]  # on the docker driver: containerd store only


def standin(text: str, label: str) -> str:
    """The Dockerfile with each RUN replaced, line for line: its `--mount` flags kept, its command
    a marker that also changes every path other stages take from this stage (`--from`), so a
    rerun changes what they take, as a real rerun may."""
    lines = text.splitlines()
    parsed = parse_dockerfile(text, Path(label), label)
    taken: dict[str, set[str]] = {}  # stage name -> paths other stages take from it
    for instruction in parsed.instructions:
        if instruction.keyword in ("COPY", "ADD"):
            flags, sources = copy_flags(instruction.text)
            if "from" in flags:
                taken.setdefault(flags["from"].lower(), set()).update(f"/{s.lstrip('/')}" for s in sources[:-1])
        elif instruction.keyword == "RUN":
            for mount in run_mounts(instruction.text):
                if "from" in mount:
                    taken.setdefault(mount["from"].lower(), set()).add("/" + mount.get("source", "").lstrip("/"))
    out, stage, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        words = line.strip().split()
        keyword = words[0].upper() if words else ""
        if keyword == "FROM":
            plain = [w for w in words if not w.startswith("--")]
            stage = plain[3].lower() if len(plain) >= 4 and plain[2].upper() == "AS" else ""
        if keyword != "RUN":
            out.append(line)
            i += 1
            continue
        first = i
        joined = line.strip()
        while joined.endswith("\\") and i + 1 < len(lines):
            i += 1
            joined = joined[:-1] + " " + (lines[i].strip() if not lines[i].lstrip().startswith("#") else "")
        flags = []
        for word in joined.split()[1:]:  # the RUN's own flags lead: --mount=...
            if not word.startswith("--"):
                break
            flags.append(word)
        marker = f"standin {label}:{first + 1}"
        paths = " ".join(sorted(taken.get(stage, ())))
        command = (f'for p in {paths}; do if [ -f "$p" ]; then cat /proc/sys/kernel/random/uuid >> "$p"; '
                   f'else mkdir -p "$p" && cat /proc/sys/kernel/random/uuid > "$p/.standin"; fi; done; ' if paths else "")
        out.append(f"RUN {' '.join(flags)} {command}echo '{marker}'".replace("RUN  ", "RUN "))
        out += ["# (stand-in)"] * (i - first)
        i += 1
    return "\n".join(out) + "\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin:/usr/local/bin"})


@pytest.fixture(scope="module")
def repo(engine, docker_builder, tmp_path_factory):
    repo = tmp_path_factory.mktemp("impact") / "pose-app"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "tests", "docs",
                                                              "*.pyc", "__pycache__"))
    project = load(repo)
    links = project.graph.links
    upstream = set()
    for name, target in project.targets.items():
        path = repo / join_path(target.context, target.dockerfile)
        path.write_text(standin(path.read_text(), name))
        refs = {normalize_image_ref(r) for r in external_refs(target.parsed, target.args)}
        upstream |= refs - set(links[name]) - set(target.contexts)  # not bases, not named contexts
    run_id = uuid.uuid4().hex[:8]
    images = "\n".join(f'"{image}" = "docker-image://{BUSYBOX_IMAGE}"' for image in sorted(upstream))
    config = (repo / "bakegen.toml").read_text()
    config = re.sub(r'registry = ".*"', f'registry = "localhost:5000/{PREFIX}/impact-{run_id}"', config, count=1)
    config = re.sub(r'source = ".*"', f'source = "{PREFIX}"', config, count=1)
    (repo / "bakegen.toml").write_text(config + f"\n[images]\n{images}\n")
    # A marker new to this run in every base, so the first build is cold even on a warm engine.
    (repo / "docker/base-python-pose/torch.txt").write_text((repo / "docker/base-python-pose/torch.txt").read_text()
                                                             + f"# run {run_id}\n")
    (repo / BAKE_FILE).write_text(generate(repo))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stand-ins")
    first = run_bake(repo, [], builder=docker_builder.builder)
    assert first.ok, first.error_line()
    return repo, docker_builder.builder, run_id


def rerun_by_buildkit(repo: Path, builder: str) -> set[tuple[str, int]]:
    """(target, Dockerfile line) of every RUN/COPY/ADD BuildKit ran again."""
    (repo / BAKE_FILE).write_text(generate(repo))  # bakegen.toml changes reach the bake file
    project = load(repo)
    index = instruction_index(project)
    result = run_bake(repo, [], builder=builder)
    assert result.ok, result.error_line()
    lines: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for name, target in project.targets.items():
        for i in target.parsed.instructions:
            stage = target.parsed.stages[i.stage].name or f"stage-{i.stage}"
            lines.setdefault((name, i.shown()), []).append((stage, i.line))
    found = set()
    for step in result.executed():
        if step.instruction.split()[0] not in ("RUN", "COPY", "ADD"):
            continue
        name = owner(step.target, step.instruction, index, project.graph)
        candidates = lines[(name, " ".join(step.instruction.split()))]
        line = next((ln for st, ln in candidates if st == step.stage), candidates[0][1])
        found.add((name, line))
    return found


def predicted(repo: Path, path: str) -> tuple[set[tuple[str, int]], set[tuple[str, str]]]:
    project = load(repo)
    steps = impact_of(project, [path], lambda p: file_at(repo, "HEAD", p))[path]
    ran = {(s.target, s.line) for s in steps if s.instruction.split()[0] in ("RUN", "COPY", "ADD")}
    return ran, {(s.target, s.stage) for s in steps}


def edit(repo: Path, path: str, change) -> None:
    file = repo / path
    file.write_text(change(file.read_text()))


# Each change is new to the run (`r`): the targets that do not build on the pose base would
# otherwise find it in the cache of an earlier run.
CHANGES = [
    ("a requirements pin", "docker/base-python-pose/requirements.txt", lambda t, r: t + "tqdm==4.66.4\n"),
    ("the torch pin", "docker/base-python-pose/torch.txt", lambda t, r: t.replace("0.16.2", "0.16.1") + f"# {r}\n"),
    ("a commit arg", "docker/base-python-pose/Dockerfile",
     lambda t, r: re.sub(r"ARG DETECTRON2_COMMIT=\w+", f"ARG DETECTRON2_COMMIT={r}", t)),
    ("the CUDA architectures", "bakegen.toml", lambda t, r: t.replace('"8.6+PTX"', '"8.9"')),
    ("service code", "pose-service/app.py", lambda t, r: t + f"# a change {r}\n"),
    ("package.json", "backend/package.json", lambda t, r: json.dumps({**json.loads(t), "description": r})),
    ("web code", "web/src/main.js", lambda t, r: t + f"// a change {r}\n"),
]


@pytest.mark.parametrize(("what", "path", "change"), CHANGES, ids=[c[0] for c in CHANGES])
def test_buildkit_reruns_exactly_what_impact_predicts(repo, what, path, change):
    root, builder, run_id = repo
    edit(root, path, lambda text: change(text, run_id))
    try:
        expected, stages = predicted(root, path)
        reran = rerun_by_buildkit(root, builder)
    finally:
        git(root, "checkout", "-q", "--", ".")
    assert reran == expected, (what, sorted(reran - expected), sorted(expected - reran))
    base_stages = {stage for target, stage in stages if target == "base-python-pose"}
    if what in ("a requirements pin", "service code", "package.json", "web code"):
        assert not base_stages & COMPILE_STAGES, (what, base_stages)  # no compile runs again
    if what == "a commit arg":
        assert base_stages & COMPILE_STAGES == {"detectron2"}  # that extension alone recompiles
    if what == "the torch pin":  # the one input every compile depends on
        assert base_stages >= {"detectron2", "pytorch3d", "neural-renderer", "python-wheels"}
    if what == "the CUDA architectures":  # the CUDA compiles, not the pure-Python wheels
        assert base_stages & COMPILE_STAGES == {"detectron2", "pytorch3d", "neural-renderer"}
    if what in ("service code", "package.json", "web code"):
        assert {target for target, _ in stages} <= {"pose-service", "backend", "web"}  # no base step


def test_a_copy_run_again_only_for_its_parent_keeps_what_another_stage_takes_cached(engine, docker_builder, tmp_path):
    """BuildKit keys `COPY --from` on the content it takes: a stage that copied its assets again
    (because an earlier step ran again) wrote the same files, so the runtime's copy of them stays
    cached, as impact says."""
    run_id = uuid.uuid4().hex[:8]
    root = tmp_path / "app"
    files = {
        "Dockerfile": "FROM alpine AS build\nWORKDIR /app\nCOPY src/ src/\nCOPY assets/ dist/\n"
                      "FROM alpine AS runtime\nCOPY --from=build /app/dist /srv\nCOPY run.txt /\n",
        "src/a.py": f"# {run_id}\n", "assets/logo.svg": f"<svg>{run_id}</svg>\n", "run.txt": run_id,
        "bakegen.toml": f'[project]\nregistry = "localhost:5000/{PREFIX}/copy-{run_id}"\nsource = "{PREFIX}"\n'
                        f'[images]\n"alpine" = "docker-image://{BUSYBOX_IMAGE}"\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    (root / BAKE_FILE).write_text(generate(root))
    assert run_bake(root, [], builder=docker_builder.builder).ok
    (root / "src/a.py").write_text(f"# {run_id} changed\n")
    expected, _ = predicted(root, "src/a.py")
    assert expected == {("app", 3), ("app", 4)}
    assert rerun_by_buildkit(root, docker_builder.builder) == expected
