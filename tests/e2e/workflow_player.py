"""Play a GitHub Actions workflow here, as GitHub would run it, for the tests.

Jobs run in order of `needs`; `if:` and `${{ }}` are evaluated (the subset of GitHub's
expression language the generated workflow uses: contexts, strings, booleans, ==, !=, &&, ||,
!, parentheses, always()/success()); `run:` steps run in bash with the environment GitHub
gives (GITHUB_*, RUNNER_TEMP, GITHUB_ENV/OUTPUT/PATH/STEP_SUMMARY files, step outputs). Each
`uses:` step is replaced by the command it stands for: checkout by a clone of the repository,
GHCR login by nothing (the loopback registry needs none), bake-action by `docker buildx bake`
with the same inputs (its `metadata` output from `--metadata-file`), upload-artifact by a copy,
trivy-action by `trivy` when it is installed and otherwise by a stand-in that says it scanned
nothing (an empty report, a SARIF file with no results), upload-sarif by a check that the file is
SARIF 2.1.0 and a copy. A job with a `strategy.matrix` runs once per entry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakegen.run.bake import BakeResult, run_bake

# --- expressions ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<word>[A-Za-z_][\w.-]*(?:\(\))?))")


def _tokens(text: str) -> list[str]:
    found, at = [], 0
    while at < len(text.rstrip()):
        m = _TOKEN.match(text, at)
        if not m:
            raise ValueError(f"cannot read expression at {text[at:]!r}")
        found.append(m.group(m.lastgroup))
        at = m.end()
    return found


_FUNCTIONS = {"fromJSON": json.loads}


def evaluate(text: str, context: dict[str, Any]) -> Any:
    tokens = _tokens(text)
    at = 0

    def peek() -> str | None:
        return tokens[at] if at < len(tokens) else None

    def take() -> str:
        nonlocal at
        at += 1
        return tokens[at - 1]

    def chain(operator: str, operand, combine) -> Any:
        """`a OP b OP c`, left to right (every operand read: the grammar, not the values, decides)."""
        value = operand()
        while peek() == operator:
            take()
            value = combine(value, operand())
        return value

    def either() -> Any:
        return chain("||", both, lambda a, b: a or b)

    def both() -> Any:
        return chain("&&", negation, lambda a, b: a and b)

    def negation() -> Any:
        if peek() == "!":
            take()
            return not negation()
        return comparison()

    def comparison() -> Any:
        left = primary()
        if peek() in ("==", "!="):
            op = take()
            right = primary()
            same = str(left).lower() == str(right).lower() if left is not None and right is not None else left == right
            return same if op == "==" else not same
        return left

    def primary() -> Any:
        token = take()
        if token == "(":
            value = either()
            assert take() == ")"
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        if token in ("always()", "success()"):
            return token == "always()" or context.get("__success__", True)
        if token in _FUNCTIONS and peek() == "(":
            take()
            argument = either()
            assert take() == ")"
            return _FUNCTIONS[token](argument)
        value: Any = context
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    result = either()
    assert at == len(tokens), f"unread tokens in {text!r}"
    return result


def substitute(text: str, context: dict[str, Any]) -> str:
    def value(m: re.Match[str]) -> str:
        v = evaluate(m.group(1), context)
        return "true" if v is True else "false" if v is False else "" if v is None else str(v)

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", value, text)


def condition(text: str | None, context: dict[str, Any]) -> bool:
    if not text:
        return bool(context.get("__success__", True))
    text = str(text)
    inner = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text)
    return bool(evaluate(inner.group(1) if inner else text, context))


# --- jobs and steps --------------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    output: str = ""
    bake: BakeResult | None = None


@dataclass
class JobRun:
    name: str
    ran: bool
    ok: bool = True
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    matrix: list[JobRun] = field(default_factory=list)  # one run per matrix entry, when the job has one

    def step(self, name_part: str) -> StepRun:
        return next(s for s in self.steps if name_part in s.name)


@dataclass
class Player:
    workflow: dict[str, Any]
    repository: Path  # the repository being checked out (a git repository)
    checkout_ref: str  # the commit or branch a checkout gives
    github: dict[str, Any]  # the `github` context
    env: dict[str, str]  # GITHUB_* variables and the machine's environment
    home: Path  # where runner temp folders and artifacts go
    assume_jobs: tuple[str, ...] = ()  # jobs not played but taken as succeeded (played by another test)

    def play(self) -> dict[str, JobRun]:
        """Every job: played, or skipped as GitHub would skip it (its `if`, or a need that failed)."""
        runs: dict[str, JobRun] = {}
        for name, job in self.workflow["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            succeeded = {n: (runs[n].ran or n in self.assume_jobs) and runs[n].ok for n in needs}
            context = {"github": self.github, "__success__": all(succeeded.values()),
                       "needs": {n: {"outputs": runs[n].outputs, "result": "success" if succeeded[n] else "skipped"}
                                 for n in needs}}
            if not context["__success__"] or not condition(job.get("if"), context) or name in self.assume_jobs:
                runs[name] = JobRun(name, ran=False)
                continue
            entries = self._matrix(job, context)
            if entries is None:
                runs[name] = self._job(name, job, context)
                continue
            played = [self._job(f"{name}-{i}", job, {**context, "matrix": entry}) for i, entry in enumerate(entries)]
            runs[name] = JobRun(name, ran=bool(played), ok=all(r.ok for r in played),
                                steps=[s for r in played for s in r.steps], matrix=played)
        return runs

    @staticmethod
    def _matrix(job: dict[str, Any], context: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The entries of a one-dimensional `strategy.matrix` (a list, or an expression giving one)."""
        matrix = (job.get("strategy") or {}).get("matrix")
        if matrix is None:
            return None
        assert len(matrix) == 1, f"only one matrix dimension is played: {sorted(matrix)}"
        (key, values), = matrix.items()
        if isinstance(values, str):
            inner = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", values)
            values = evaluate(inner.group(1), context) if inner else values
        assert isinstance(values, list), f"matrix {key}: not a list: {values!r}"
        return [{key: value} for value in values]

    def _job(self, name: str, job: dict[str, Any], base: dict[str, Any]) -> JobRun:
        temp = self.home / f"runner-{name}"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        workspace = temp / "workspace"
        run = JobRun(name, ran=True)
        env = {**self.env, "RUNNER_TEMP": str(temp), "GITHUB_WORKSPACE": str(workspace),
               "GITHUB_STEP_SUMMARY": str(temp / "summary.md")}
        path_extra: list[str] = []
        steps: dict[str, Any] = {}
        context = {**base, "steps": steps, "runner": {"temp": str(temp)}, "secrets": {"GITHUB_TOKEN": "not-a-token"},
                   "env": env}
        for index, step in enumerate(job["steps"]):
            title = step.get("name") or step.get("uses") or f"step {index}"
            context["__success__"] = run.ok
            if not condition(step.get("if"), context):
                run.steps.append(StepRun(title, ran=False))
                if step.get("id"):
                    steps[step["id"]] = {"outputs": {}, "outcome": "skipped"}
                continue
            files = {k: temp / f"{k.lower()}-{index}" for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
            for f in files.values():
                f.write_text("")
            step_env = {**env, **{k: str(v) for k, v in files.items()},
                        **{k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()}}
            step_env["PATH"] = os.pathsep.join([*path_extra, env.get("PATH", "")])
            result = self._uses(step, step_env, workspace, context) if "uses" in step else \
                self._run(step["run"], step_env, workspace if workspace.exists() else temp)
            result.name = title
            run.steps.append(result)
            if result.returncode != 0:
                run.ok = False
            outputs = _key_values(files["GITHUB_OUTPUT"].read_text())
            if step.get("id"):
                steps[step["id"]] = {"outputs": outputs, "outcome": "success" if result.returncode == 0 else "failure"}
            env.update(_key_values(files["GITHUB_ENV"].read_text()))
            path_extra = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p] + path_extra
        run.outputs = {k: substitute(str(v), context) for k, v in (job.get("outputs") or {}).items()}
        return run

    def _run(self, script: str, env: dict[str, str], cwd: Path) -> StepRun:
        done = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=1800)
        return StepRun("", True, done.returncode, done.stdout + done.stderr)

    def _uses(self, step: dict[str, Any], env: dict[str, str], workspace: Path, context: dict[str, Any]) -> StepRun:
        action = step["uses"].split("@")[0]
        inputs = {k: substitute(str(v), context) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            subprocess.run(["git", "clone", "-q", str(self.repository), str(workspace)], check=True)
            subprocess.run(["git", "-C", str(workspace), "checkout", "-q", self.checkout_ref], check=True)
            return StepRun("", True)
        if action == "docker/login-action":
            return StepRun("", True, 0, f"login to {inputs.get('registry')} skipped: the loopback registry needs none")
        if action == "docker/bake-action":
            targets = [t for t in re.split(r"[,\s]+", inputs.get("targets", "")) if t]
            metadata = Path(env["RUNNER_TEMP"]) / f"bake-metadata-{uuid.uuid4().hex[:8]}.json"
            extra = ["--builder", inputs["builder"]] if inputs.get("builder") else []
            files = [f for f in re.split(r"[,\n]", inputs.get("files", "docker-bake.hcl")) if f.strip()]  # as the action
            extra += [arg for laid in files[1:] for arg in ("-f", laid.strip())]
            result = run_bake(workspace, targets, bake_file=files[0].strip(), env=env,
                              extra_args=[*extra, "--metadata-file", str(metadata)])
            if metadata.is_file():  # the action's `metadata` output: bake's metadata JSON
                _set_output(env, "metadata", json.dumps(json.loads(metadata.read_text()), separators=(",", ":")))
            return StepRun("", True, result.returncode, result.error_line() if not result.ok else "", result)
        if action == "aquasecurity/trivy-action":
            return _trivy(inputs, env)
        if action == "github/codeql-action/upload-sarif":
            return self._upload_sarif(inputs)
        if action == "actions/upload-artifact":
            target = self.home / "artifacts" / inputs["name"]
            target.mkdir(parents=True, exist_ok=True)
            for found in Path("/").glob(inputs["path"].lstrip("/")):
                shutil.copy(found, target)
            return StepRun("", True)
        raise AssertionError(f"no stand-in for {action}")

    def _upload_sarif(self, inputs: dict[str, str]) -> StepRun:
        """Code scanning takes SARIF 2.1.0, one category per upload: checked, then kept."""
        try:
            sarif = json.loads(Path(inputs["sarif_file"]).read_text())
        except (OSError, ValueError) as e:
            return StepRun("", True, 1, f"upload-sarif: {e}")
        if sarif.get("version") != "2.1.0" or not isinstance(sarif.get("runs"), list):
            return StepRun("", True, 1, "upload-sarif: not SARIF 2.1.0")
        target = self.home / "artifacts" / "code-scanning"
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{inputs.get('category') or 'default'}.sarif").write_text(json.dumps(sarif))
        return StepRun("", True, 0, f"upload-sarif: {sum(len(r.get('results', [])) for r in sarif['runs'])} result(s)")


STAND_IN = "trivy is not installed here: nothing was scanned (the workflow player's stand-in)"


def _trivy(inputs: dict[str, str], env: dict[str, str]) -> StepRun:
    """trivy-action: `trivy image` with the same inputs where trivy is installed; otherwise a
    stand-in that writes what the step would (a report, or SARIF with no results) and says plainly
    that nothing was scanned."""
    output = Path(inputs["output"]) if inputs.get("output") else None
    trivy = shutil.which("trivy", path=env.get("PATH"))
    if trivy:
        args = [trivy, "image", "--format", inputs.get("format", "table"), "--exit-code", inputs.get("exit-code", "0")]
        args += ["--severity", inputs["severity"]] if inputs.get("severity") else []
        args += ["--ignore-unfixed"] if inputs.get("ignore-unfixed") == "true" else []
        args += ["--output", str(output)] if output else []
        done = subprocess.run([*args, inputs["image-ref"]], env=env, capture_output=True, text=True, timeout=1800)
        return StepRun("", True, done.returncode, done.stdout + done.stderr)
    if output:
        if inputs.get("format") == "sarif":
            output.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {
                "name": "Trivy", "informationUri": "https://github.com/aquasecurity/trivy",
                "fullDescription": {"text": STAND_IN}}}, "results": []}]}))
        else:
            output.write_text(f"{inputs['image-ref']}: {STAND_IN}\n")
    return StepRun("", True, 0, f"{inputs['image-ref']}: {STAND_IN}")


def _set_output(env: dict[str, str], name: str, value: str) -> None:
    with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
        f.write(f"{name}={value}\n")


def _key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
