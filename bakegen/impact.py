"""Which steps a change makes BuildKit run again, read from the Dockerfiles as BuildKit keys its
cache, before anything is built.

The rules, per stage in instruction order:
- a step whose parent step ran again runs again (its cache key holds the parent's);
- a COPY/ADD from the context runs again when a file it copies changed (after the ignore file);
- a `COPY --from` (and a `RUN --mount=...,from=`) is keyed on the content it takes: it runs
  again when a step of that stage (or base target) that may have changed that content ran
  again: any RUN, or a COPY of new files whose destination overlaps what is taken (a COPY run
  again only because its parent did writes the same files);
- a RUN runs again after a changed ARG it has in scope (BuildKit passes every ARG in scope to
  RUN), a changed ENV, or a changed bind-mounted file;
- an instruction whose text changed runs again; a FROM whose image changed makes the whole
  stage run again, and so does a FROM of a stage or target that ran again.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bakegen import dockerignore
from bakegen import impact_rules as rules
from bakegen.dockerfile import (
    Unresolved,
    arg_declarations,
    expand,
    global_values,
    parse_dockerfile,
    resolved_images,
)
from bakegen.graph import Inputs, LoadedProject
from bakegen.model import BakegenError, Dockerfile, Instruction, Target
from bakegen.names import normalize_image_ref
from bakegen.paths import relative_to
from bakegen.schema import parse_config

# What makes a RUN expensive, by its command: compiling, or installing packages.
_COMPILES = re.compile(r"\b(pip3? wheel|setup\.py (build|bdist|install)|cmake|nvcc|ninja|cargo build|go build|"
                       r"gradlew?|mvn|npm run build|yarn build|tsc|bdist_wheel|python\S* -m build)\b"
                       r"|(^|&&|;|\|\|)\s*make\b")
_INSTALLS = re.compile(r"\b(pip3? install|npm (ci|install)|yarn( install)?\b|pnpm install|apt-get install|apk add|"
                       r"uv (pip|sync)|poetry install|conda install|mamba install|bundle install|go mod download)")
COST_ORDER = {"compile": 0, "install": 1, "run": 2, "copy": 3, "workdir": 4}


@dataclass(frozen=True)
class StepImpact:
    target: str
    stage: str  # the stage's name, or its index
    line: int
    instruction: str  # as BuildKit names it
    cost: str  # compile, install, run, copy or workdir

    def as_dict(self) -> dict[str, str | int]:
        return {"target": self.target, "stage": self.stage, "line": self.line, "instruction": self.instruction,
                "cost": self.cost}


@dataclass
class Change:
    """What changed: files (relative to the root), and for changed Dockerfiles their old text."""

    paths: list[str]
    old_dockerfiles: dict[str, str | None] = field(default_factory=dict)  # path -> text before (None: new)
    changed_args: dict[str, set[str]] = field(default_factory=dict)  # target -> build args whose value changed


def cost_of(instruction: Instruction) -> str:
    if instruction.keyword == "RUN":
        if _COMPILES.search(instruction.text):
            return "compile"
        return "install" if _INSTALLS.search(instruction.text) else "run"
    return "workdir" if instruction.keyword == "WORKDIR" else "copy"


def impact(project: LoadedProject, change: Change,
           ignore_rules: dict[str, list[dockerignore.Rule]]) -> list[StepImpact]:
    """Every step that runs again, the most expensive first (compiles, installs, other RUNs,
    copies), in Dockerfile order within each."""
    graph = project.graph
    final: dict[str, _Reran] = {}
    steps: list[StepImpact] = []
    for name in graph.order:
        target = project.targets[name]
        if target.parsed is None:
            final[name] = _Reran()
            continue
        reader = _TargetReader(target, graph.inputs[name], graph.links[name], change, ignore_rules.get(name, []), final)
        final[name] = reader.stage_result(reader.built_stage())
        steps += reader.steps
    return sorted(steps, key=lambda s: (COST_ORDER[s.cost], s.target, s.line))


@dataclass
class _Reran:
    """What ran again in a stage: whether any step did, any RUN, and the COPY destinations."""

    any: bool = False
    run: bool = False
    destinations: list[str] = field(default_factory=list)
    env: bool = False  # its environment changed (an ENV, SHELL or USER): RUNs on it run again
    workdir: str = "/"  # where relative destinations land, at the stage's end

    def may_change(self, path: str) -> bool:
        """Whether content under `path` (absolute in the stage) may differ from last time."""
        if self.run:
            return True
        path = posixpath.normpath("/" + path.lstrip("/"))  # "//x" stays "//x" in POSIX
        return any(rules.overlap(path, dest) for dest in self.destinations)


class _TargetReader:
    def __init__(self, target: Target, inputs: Inputs, links: Mapping[str, str], change: Change,
                 rules: list[dockerignore.Rule], finals: dict[str, _Reran]):
        self.target, self.inputs, self.links, self.finals = target, inputs, links, finals
        self.parsed: Dockerfile = target.parsed  # type: ignore[assignment]
        self.path = inputs.dockerfile
        self.changed_context = [inside for p in change.paths if (inside := inputs.in_context(p, rules)) is not None]
        self.changed_paths = change.paths
        self.changed_lines, old_globals = self._compare_with_old(change)
        self.changed_args = set(change.changed_args.get(target.name, set()))
        self.changed_args |= {name for name, value in self.parsed.global_args
                              if old_globals is not None and old_globals.get(name, "<absent>") != value}
        self.images = {stage.line: image for stage, image in _images(self.parsed, target.args)}
        self.names = {s.name.lower(): i for i, s in enumerate(self.parsed.stages) if s.name}
        self.memo: dict[int, _Reran] = {}
        self.steps: list[StepImpact] = []

    def _compare_with_old(self, change: Change) -> tuple[set[int], dict[str, str | None] | None]:
        """Lines of instructions whose text is new (matched against the old file's), and the old
        file's global ARGs; every line when the old file is unknown or unreadable."""
        if self.path not in change.old_dockerfiles:
            return set(), None
        every = {i.line for i in self.parsed.instructions}
        old_text = change.old_dockerfiles[self.path]
        if old_text is None:
            return every, None
        try:
            old = parse_dockerfile(old_text, self.parsed.path, self.path)
        except BakegenError:
            return every, None
        new_texts = [rules.key_text(i) for i in self.parsed.instructions]
        old_texts = [rules.key_text(i) for i in old.instructions]
        matched: set[int] = set()
        for block in difflib.SequenceMatcher(a=old_texts, b=new_texts, autojunk=False).get_matching_blocks():
            matched.update(range(block.b, block.b + block.size))
        return {i.line for n, i in enumerate(self.parsed.instructions) if n not in matched}, dict(old.global_args)

    # -- stages -------------------------------------------------------------------------------

    def built_stage(self) -> int:
        if self.target.stage and self.target.stage.lower() in self.names:
            return self.names[self.target.stage.lower()]
        return len(self.parsed.stages) - 1

    def stage_result(self, index: int) -> _Reran:
        """What ran again in stage `index` (stages it takes from first, without recursion)."""
        pending = [index]
        while pending:  # depth first over the stages this one needs
            current = pending[-1]
            if current in self.memo:
                pending.pop()
                continue
            needed = [d for d in self._stage_deps(current) if d not in self.memo]
            if needed:
                pending += needed
                continue
            self.memo[current] = self._read_stage(current)
            pending.pop()
        return self.memo[index]

    def _stage_ref(self, source: str, before: int) -> int | None:
        """A stage named (or numbered) `source`, defined before stage `before`."""
        if source.isdigit():
            return int(source) if int(source) < before else None
        index = self.names.get(source.lower())
        return index if index is not None and index < before else None

    def _stage_deps(self, index: int) -> list[int]:
        deps = []
        image = self.images.get(self.parsed.stages[index].line)
        if image is not None and (ref := self._stage_ref(image, index)) is not None:
            deps.append(ref)
        for instruction in self._instructions(index):
            for source, _ in rules.taken_from(instruction):
                if (ref := self._stage_ref(source, index)) is not None:
                    deps.append(ref)
        return deps

    def _instructions(self, index: int) -> list[Instruction]:
        return [i for i in self.parsed.instructions if i.stage == index and i.keyword != "FROM"]

    def _source_result(self, source: str, index: int) -> _Reran | None:
        """What ran again where a `--from` takes its files: a stage, a linked target, a local
        named context (None: nothing of ours, an upstream image)."""
        if (ref := self._stage_ref(source, index)) is not None:
            return self.memo[ref]
        base = self.links.get(normalize_image_ref(source))
        if base is not None:
            return self.finals.get(base, _Reran())
        if source in self.inputs.named:
            hit = any(self.inputs.in_named(source, p) for p in self.changed_paths)
            return _Reran(any=hit, run=hit)
        return None

    def _read_stage(self, index: int) -> _Reran:
        stage = self.parsed.stages[index]
        image = self.images.get(stage.line)
        result = _Reran()
        if stage.line in self.changed_lines or any(rules.uses_variable(stage.raw, name) for name in self.changed_args):
            result = _Reran(any=True, run=True)  # a new base image: everything on it is new
        elif image is not None:
            parent = None
            if (ref := self._stage_ref(image, index)) is not None:
                parent = self.memo[ref]
            elif (base := self.links.get(normalize_image_ref(image))) is not None:
                parent = self.finals.get(base, _Reran())
            if parent is not None:
                result = _Reran(any=parent.any, run=parent.any, env=parent.env, workdir=parent.workdir)
        dirty = result.any
        changed_in_scope: set[str] = set()  # ARGs of this stage whose value changed
        env_changed = result.env
        values = global_values(self.parsed, self.target.args)
        for instruction in self._instructions(index):
            keyword = instruction.keyword
            text_changed = instruction.line in self.changed_lines
            if keyword == "ARG":
                names = {name for name, _ in arg_declarations(instruction.text)}
                changed_in_scope |= names if text_changed else names & self.changed_args
                continue
            if keyword in rules.ENV_KEYWORDS:
                env_changed |= text_changed or any(rules.uses_variable(instruction.text, n) for n in changed_in_scope)
                continue
            result.workdir = rules.workdir_after(instruction, result.workdir)
            if not rules.is_step(instruction):
                continue
            own = text_changed  # a reason of the step's own, beyond its parent having run again
            if keyword == "RUN":
                own |= bool(changed_in_scope) or env_changed or self._mounts_changed(instruction, index)
            elif keyword in ("COPY", "ADD"):
                own |= self._copy_changed(instruction, index, values)
            if not (dirty or own):
                continue
            dirty = True
            result.any = True
            if keyword == "RUN":
                result.run = True  # a command may change any file
            elif keyword in ("COPY", "ADD") and own:
                # New files at the destination. A copy run again only for its parent writes the
                # same files: what a `--from` takes there keeps its content, and its cache.
                result.destinations.append(rules.destination(instruction, result.workdir))
            self.steps.append(StepImpact(self.target.name, stage.name or str(index), instruction.line,
                                         instruction.shown(), cost_of(instruction)))
        result.env = env_changed
        return result

    def _copy_changed(self, instruction: Instruction, index: int, values: dict[str, str]) -> bool:
        if instruction.destination is None:
            return False
        return self._taken_changed(instruction, index) or any(
            self._context_changed(instruction, source, values) for source in rules.context_sources(instruction))

    def _mounts_changed(self, instruction: Instruction, index: int) -> bool:
        return self._taken_changed(instruction, index) or any(
            self._context_changed(instruction, source, {}) for source in rules.context_sources(instruction))

    def _taken_changed(self, instruction: Instruction, index: int) -> bool:
        for source, path in rules.taken_from(instruction):
            taken = self._source_result(source, index)
            if taken is not None and taken.may_change(path):
                return True
        return False

    def _context_changed(self, instruction: Instruction, source: str, values: dict[str, str]) -> bool:
        try:
            source = expand(source, values)
        except Unresolved:
            return bool(self.changed_context)  # cannot tell which files: any change may count
        base = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
        for path in self.changed_context:
            if rules.source_reads(source, path):
                inside = relative_to(path, base) if base != "." else path
                if not rules.excluded(instruction, path) and not (inside and rules.excluded(instruction, inside)):
                    return True
        return False


def _images(parsed: Dockerfile, args: dict[str, str]) -> list[tuple]:
    written = [(stage, stage.image) for stage in parsed.stages]
    try:  # the stages the build reaches expanded; the others (never built) as written
        reached = {stage.line: image for stage, image in resolved_images(parsed, args)}
    except Unresolved:
        return written
    return [(stage, reached.get(stage.line, image)) for stage, image in written]


# --- a change as a user names it ---------------------------------------------------------------

CONFIG_PATH = "bakegen.toml"


def change_of(project: LoadedProject, paths: list[str], old_text: Callable[[str], str | None]) -> Change:
    """The change made by `paths` (relative to the root): the old text (from `old_text`, None
    where there was none) of the Dockerfiles among them, and when bakegen.toml is among them,
    the build args whose value it changed."""
    dockerfiles = {inputs.dockerfile for inputs in project.graph.inputs.values()}
    change = Change(paths=list(paths))
    for path in paths:
        if path in dockerfiles:
            change.old_dockerfiles[path] = old_text(path)
    if CONFIG_PATH in paths:
        before, now = _config_args(old_text(CONFIG_PATH)), _config_args(_read(project.root / CONFIG_PATH))
        for name in project.targets:
            old, new = before.get(name, {}), now.get(name, {})
            differ = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
            if differ:
                change.changed_args[name] = differ
    return change


def _read(path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _config_args(text: str | None) -> dict[str, dict[str, str]]:
    if text is None:
        return {}
    try:
        config = parse_config(text, CONFIG_PATH)
    except BakegenError:
        return {}
    return {name: fields.get("args", {}) for name, fields in config["targets"].items()}


def impact_of(project: LoadedProject, paths: list[str],
              old_text: Callable[[str], str | None]) -> dict[str, list[StepImpact]]:
    """For each changed path on its own, the steps it runs again."""
    rules = dockerignore.rules_by_target(project)
    return {path: impact(project, change_of(project, [path], old_text), rules) for path in paths}
