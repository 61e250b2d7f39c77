"""bakegen on skeletons of public monorepos it was not built against (tests/fixtures/real/<name>/,
README.md there cites the repository and commit). Each `expected.json` is written from the
repository's own build files (compose, Makefiles, scripts, workflows; its `source` says which
line), never from bakegen's output: per image, the Dockerfile, context, stage and the images it
builds on. The share of those fields met is measured with no configuration and with the
configuration the same files imply (`bakegen.implied.toml`), read back through the real
`docker buildx bake --print`. Run with `-s` to see the table."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bakegen.generate import generate
from bakegen.render import BAKE_FILE

from .helpers import bake_print
from .test_real_monorepos import FIXTURES, compose_config, copy_fixture

UNSEEN = ("hoppscotch", "kubeflow-notebook-servers", "loki", "powersync-self-host-demo", "pycroft", "ramalama", "sentry-self-hosted")
IMPLIED_CONFIG = "bakegen.implied.toml"
FIELDS = ("found", "context", "stage", "links")


@dataclass
class Score:
    met: int
    total: int
    misses: list[str]

    @property
    def share(self) -> float:
        return self.met / self.total if self.total else 1.0


def score(name: str, tmp_path: Path, with_config: bool) -> Score:
    """Fields of `expected.json` met by what bake reads from the emitted file; every target
    bakegen makes that the build files do not state (a vendored Dockerfile, say) costs one field."""
    root = copy_fixture(name, tmp_path / ("config" if with_config else "none"))
    (root / "bakegen.toml").unlink(missing_ok=True)
    if with_config:
        shutil.copy(root / IMPLIED_CONFIG, root / "bakegen.toml")
    (root / BAKE_FILE).write_text(generate(root), encoding="utf-8")
    targets = {n: t for n, t in bake_print(root)["target"].items() if n != "_common"}
    file_of = {n: posixpath.normpath(posixpath.join(t["context"], t.get("dockerfile", "Dockerfile")))
               for n, t in targets.items()}
    expected = json.loads((FIXTURES / name / "expected.json").read_text())["images"]
    met, misses, taken = 0, [], set()
    for image in expected:
        same_file = [n for n in sorted(targets) if file_of[n] == image["dockerfile"] and n not in taken]
        chosen = next((n for n in same_file if targets[n].get("target") == image["stage"]), None)
        chosen = chosen or (same_file[0] if same_file else None)
        label = f"{name}: {image['dockerfile']}" + (f" ({image['stage']})" if image["stage"] else "")
        if chosen is None:
            misses.append(f"{label}: no target")
            continue
        taken.add(chosen)
        target = targets[chosen]
        links = sorted(file_of[v.removeprefix("target:")] for v in target.get("contexts", {}).values()
                       if v.startswith("target:"))
        got = {"found": True, "context": posixpath.normpath(target["context"]) == image["context"],
               "stage": target.get("target") == image["stage"], "links": links == sorted(image["links"])}
        met += sum(got.values())
        misses += [f"{label}: {field} (bake reads {_shown(field, target, links)})" for field in FIELDS
                   if not got[field]]
    extra = sorted(set(targets) - taken)
    misses += [f"{name}: {n} ({file_of[n]}): a target no build file states" for n in extra]
    return Score(met, len(FIELDS) * len(expected) + len(extra), misses)


def _shown(field: str, target: dict, links: list[str]) -> str:
    return {"context": target["context"], "stage": target.get("target"), "links": links}.get(field, "")


def test_every_unseen_fixture_states_its_expectations_and_its_source():
    for name in UNSEEN:
        folder = FIXTURES / name
        assert (folder / IMPLIED_CONFIG).is_file(), name
        readme = (folder / "README.md").read_text()
        assert "github.com/" in readme and "commit" in readme, name
        for image in json.loads((folder / "expected.json").read_text())["images"]:
            assert image["source"], (name, image["dockerfile"])  # which build file says so
            assert (folder / image["dockerfile"]).is_file(), (name, image["dockerfile"])


def test_unseen_repositories_are_met_without_and_with_configuration(tmp_path):
    pytest.importorskip("yaml")
    rows, totals = [], {False: [0, 0], True: [0, 0]}
    misses: list[str] = []
    for name in UNSEEN:
        row = [name]
        for with_config in (False, True):
            result = score(name, tmp_path / name, with_config)
            totals[with_config][0] += result.met
            totals[with_config][1] += result.total
            row.append(f"{result.met}/{result.total} {result.share:.0%}")
            misses += [f"{'config' if with_config else 'none'}: {m}" for m in result.misses]
        rows.append(row)
    none = totals[False][0] / totals[False][1]
    configured = totals[True][0] / totals[True][1]
    rows.append(["all", f"{totals[False][0]}/{totals[False][1]} {none:.1%}",
                 f"{totals[True][0]}/{totals[True][1]} {configured:.1%}"])
    print("\n| repository | no config | implied config |\n| --- | --- | --- |")
    print("\n".join(f"| {' | '.join(r)} |" for r in rows))
    print("\n".join(misses))
    assert none >= 0.90, misses
    assert configured >= 0.97, misses


# Compose projects of the fixtures whose builds come through `include`/`extends`: (project folder, file).
COMPOSE_PROJECTS = {
    "pycroft": [(".", "docker-compose.yml"), (".", "docker-compose.prod.yml"), (".", "docker-compose.test.yml")],
    "powersync-self-host-demo": [(f"demos/{demo}", "docker-compose.yaml") for demo in (
        "django", "nodejs", "nodejs-custom-checkpoints", "nodejs-mongodb", "nodejs-mssql", "nodejs-mysql",
        "nodejs-postgres-bucket-storage", "supabase")],
}


def test_each_local_build_of_an_include_or_extends_stack_is_a_target_as_docker_compose_resolves_it(tmp_path):
    """Beyond the score: every service with a local build, as the real `docker compose config`
    resolves it in its own project (included files, extended services, .env), is a target with its
    Dockerfile, context and args."""
    pytest.importorskip("yaml")
    for name, projects in COMPOSE_PROJECTS.items():
        root = copy_fixture(name, tmp_path)
        (root / BAKE_FILE).write_text(generate(root), encoding="utf-8")
        ours = {(posixpath.normpath(posixpath.join(t["context"], t.get("dockerfile", "Dockerfile"))),
                 posixpath.normpath(t["context"]), tuple(sorted(t.get("args", {}).items())))
                for n, t in bake_print(root)["target"].items() if n != "_common"}
        for folder, file in projects:
            for service, spec in compose_config(root / folder, file).items():
                build = spec.get("build")
                if not build or "://" in build["context"]:  # a git URL: nothing of the repository's
                    continue
                context = os.path.relpath(build["context"], root)
                theirs = (posixpath.normpath(posixpath.join(context, build["dockerfile"])), context,
                          tuple(sorted(build.get("args", {}).items())))
                assert theirs in ours, (name, folder, file, service, sorted(ours))
