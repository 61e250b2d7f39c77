"""`bakegen bench`: real builds of the generated bake file, scenario by scenario, measured.

Scenarios (in this order): cold (builder emptied, cache written to refs of the bench's own),
noop, code-change (one source file of each chosen service), deps-change (one dependency
manifest), base-change (a base image's Dockerfile gains a step), fresh-runner (builder emptied,
images removed, everything read back from the cache in one bake call). Every file a scenario
changes is put back byte for byte, also on failure, Ctrl-C or SIGTERM.

The bench runs on a builder it may empty: its own by default (`bakegen-bench`, made with
`bakegen builder up`), never the engine's own BuildKit, which is shared with everything else
the user builds. Images are tagged `:bakegen-bench` and removed at the end; the cache goes to a
repository (or folder) of the run's own, deleted at the end where the registry allows it.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bakegen import dockerignore
from bakegen.budgets import SCENARIOS
from bakegen.model import (
    BakegenError,
    BenchRun,
    CacheBackend,
    Kind,
    Measure,
    Project,
    ScenarioResult,
    ServiceFigures,
    Target,
)
from bakegen.names import repository_name
from bakegen.paths import join_path
from bakegen.plan import replacement_contexts, target_links
from bakegen.run import builder as builders
from bakegen.run import registry
from bakegen.run.bake import BakeResult, run_bake, run_build
from bakegen.run.engine import buildx_version, engine_builder, has_gpu_runtime
from bakegen.run.scenario import appended, forget_everything, remove_images
from bakegen.writer import check_destination

BENCH_TAG = "bakegen-bench"
BENCH_BUILDER = "bakegen-bench"
# What a harmless change looks like at the end of a source file, by extension.
COMMENTS = {
    ".py": "# {}", ".sh": "# {}", ".rb": "# {}", ".r": "# {}", ".toml": "# {}", ".yaml": "# {}", ".yml": "# {}",
    ".js": "// {}", ".mjs": "// {}", ".cjs": "// {}", ".ts": "// {}", ".tsx": "// {}", ".jsx": "// {}",
    ".go": "// {}", ".java": "// {}", ".kt": "// {}", ".rs": "// {}", ".c": "// {}", ".cc": "// {}",
    ".cpp": "// {}", ".h": "// {}", ".cs": "// {}", ".swift": "// {}", ".php": "// {}", ".scala": "// {}",
    ".css": "/* {} */", ".html": "<!-- {} -->", ".vue": "<!-- {} -->", ".svelte": "<!-- {} -->",
}
# Dependency manifests, most telling first, and how to change each harmlessly.
MANIFESTS = {
    "requirements.txt": "# {}", "pyproject.toml": "# {}", "Pipfile": "# {}", "go.mod": "// {}",
    "Cargo.toml": "# {}", "Gemfile": "# {}", "package.json": None,  # JSON: trailing whitespace only
}
NOT_SOURCE = {"Dockerfile", ".dockerignore", *MANIFESTS, "package-lock.json", "poetry.lock", "go.sum",
              "Cargo.lock", "Gemfile.lock", "yarn.lock", "pnpm-lock.yaml", "uv.lock"}


@dataclass(frozen=True)
class BenchOptions:
    root: Path
    scenarios: tuple[str, ...] = SCENARIOS
    targets: tuple[str, ...] = ()  # services whose code changes (default: every service)
    repeat: int = 1
    baseline: bool = False
    cache_registry: str | None = None  # registry backend: registry/namespace of the bench's cache (default REGISTRY)
    healthcheck_seconds: float = 120.0
    load: bool = False  # load every build's images into the engine, as a developer who runs them


Say = Callable[[str], None]


def measure(result: BakeResult) -> Measure:
    return Measure(round(result.seconds, 3), len(result.steps), len(result.cached()), len(result.executed()),
                   result.bytes_pulled)


# --- the moves ---------------------------------------------------------------------------------


def check_scenarios(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise BakegenError(f"unknown scenario {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")


def source_file(project: Project, target: Target) -> Path | None:
    """A source file of the target's context that reaches the build, where a comment is harmless.

    Files under src/ or app/ first, then the rest, each in name order; dependency manifests,
    lockfiles and the Dockerfile are not code.
    """
    context = project.root / target.context
    rules = dockerignore.read_for(project.root, target.context, target.dockerfile)
    candidates = []
    for folder, dirs, files in os.walk(context):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(context).as_posix()
            if path.suffix.lower() not in COMMENTS or name in NOT_SOURCE or name.startswith("."):
                continue
            if not dockerignore.is_ignored(rules, rel):
                first = 0 if rel.split("/")[0] in ("src", "app", "api", "lib") else 1
                candidates.append((first, rel.count("/"), rel, path))
    return min(candidates)[3] if candidates else None


def manifest_file(project: Project, target: Target) -> Path | None:
    context = project.root / target.context
    for name in MANIFESTS:
        if (context / name).is_file():
            return context / name
    return None


def harmless_line(path: Path, nonce: str) -> str:
    """What to append so the bytes change and the meaning does not."""
    if path.name == "package.json":
        return " " * (1 + sum(map(ord, nonce)) % 50) + "\n"  # JSON allows trailing whitespace; differs per nonce
    template = MANIFESTS.get(path.name) or COMMENTS.get(path.suffix.lower(), "# {}")
    return "\n" + template.format(f"bakegen bench {nonce}") + "\n"


@contextmanager
def base_step_added(project: Project, base: Target, nonce: str) -> Iterator[Path]:
    """A new RUN step at the end of the base's built stage: everything built on it rebuilds."""
    path = project.root / join_path(base.context, base.dockerfile)
    check_destination(project.root, path)  # never through a link out of the repository
    original = path.read_bytes()
    lines = original.decode("utf-8").splitlines(keepends=True)
    stages = base.parsed.stages if base.parsed else ()
    built = next((i for i, s in enumerate(stages) if base.stage and s.name == base.stage), len(stages) - 1)
    insert_at = stages[built + 1].line - 1 if built + 1 < len(stages) else len(lines)
    step = f"RUN echo 'bakegen bench {nonce}' > /.bakegen-bench\n"
    if insert_at == len(lines) and lines and not lines[-1].endswith("\n"):
        step = "\n" + step
    try:
        path.write_text("".join([*lines[:insert_at], step, *lines[insert_at:]]), encoding="utf-8")
        yield path
    finally:
        path.write_bytes(original)


# --- the run -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, project: Project, options: BenchOptions, builder: str, say: Say,
                 on_step: Callable[[str], None] | None = None):
        self.project = project
        self.options = options
        self.builder = builder
        self.say = say
        self.on_step = on_step
        self.run_id = uuid.uuid4().hex[:8]
        self.client = docker.from_env(timeout=120)
        # Loaded into the engine (as a developer who runs them), or left in the builder with
        # --no-load; then one untimed load at the end gives the image sizes and healthchecks.
        self.env = {"TAG": BENCH_TAG, "PUSH": "false", "BRANCH": f"bench-{self.run_id}"}
        self.cache_note = ""
        self.export_problems: list[str] | None = None  # set by the cold scenario
        self.cold_cache_bytes: int | None = None  # what the last cold build wrote, where it landed
        self._cleanup = ExitStack()
        self._set_up_cache()
        registry_name = os.environ.get("REGISTRY", project.registry).lower()
        self.images = {name: f"{registry_name}/{repository_name(name)}:{BENCH_TAG}" for name in project.targets}
        self.engine_builder = engine_builder() if options.baseline else ""  # plain `docker build` runs there

    def _set_up_cache(self) -> None:
        backend = self.project.cache.backend
        if backend == CacheBackend.REGISTRY:
            namespace = self.options.cache_registry or os.environ.get("REGISTRY", self.project.registry)
            # One repository per cold build (a cold build must find no cache), all under this prefix.
            self.cache_prefix = f"{namespace}/bakegen-bench-cache-{self.run_id}".lower()
        elif backend == CacheBackend.LOCAL:
            folder = Path(tempfile.mkdtemp(prefix="bakegen-bench-cache-"))
            self._cleanup.callback(shutil.rmtree, folder, True)
            self.env["CACHE_DIR"] = str(folder)
        elif backend == CacheBackend.GHA:
            self.cache_note = "gha cache is GitHub's: reachable inside GitHub Actions only"
        else:
            self.cache_note = f"the {backend.value} backend keeps no cache a fresh runner can read"

    def bake(self, label: str, *, write_cache: bool = False, load: bool | None = None) -> BakeResult:
        load = self.options.load if load is None else load
        env = {**self.env, "CACHE_EXPORT": "true" if write_cache else "false", "LOAD": str(load).lower()}
        result = run_bake(self.options.root, builder=self.builder, env=env, on_vertex=self._vertex(label),
                          on_retry=self._retrying(label))
        if not result.ok:
            raise BakegenError(f"{label}: build failed: {result.error_line()}")
        return result

    def _retrying(self, label: str) -> Callable[[str], None]:
        return lambda why: self.say(f"{label}: failed on {why}; running it once more (its time counts both runs)")

    def _vertex(self, label: str):
        def seen(vertex) -> None:
            if self.on_step and vertex.name.startswith("["):
                self.on_step(f"{label}: {vertex.name[:90]}")
        return seen

    def empty_builder(self) -> None:
        forget_everything(self.client, self.builder, self.images.values())

    def run(self) -> BenchRun:
        results = []
        with self._cleanup:  # the CLI turns SIGTERM into KeyboardInterrupt: this unwinds too
            self._cleanup.callback(self._clean_up)
            for name in self.options.scenarios:
                self.say(f"scenario {name}")
                result = ScenarioResult(name)
                for attempt in range(self.options.repeat):
                    getattr(self, "_" + name.replace("-", "_"))(result, attempt)
                    if result.skipped:
                        break
                if self.options.baseline and not result.skipped:
                    self._baseline(result)
                results.append(result)
            if not self.options.load:
                self.say("loading the images into the engine (untimed) for their sizes and healthchecks")
                self.bake("load", load=True)
            services = self._service_figures()
            return BenchRun(results, services, self.machine())

    # one method per scenario: each appends a Measure (or sets `skipped`)

    def _cold(self, result: ScenarioResult, attempt: int) -> None:
        self.empty_builder()
        if self.project.cache.backend == CacheBackend.REGISTRY:
            self.env["CACHE_REPO"] = self.cache_repo = f"{self.cache_prefix}-{attempt}"
        if self.project.cache.backend == CacheBackend.LOCAL:
            for folder in Path(self.env["CACHE_DIR"]).glob("*"):
                shutil.rmtree(folder, ignore_errors=True)
        baked = self.bake("cold", write_cache=True)
        self.export_problems = [p for p in baked.cache_problems() if "export" in p]
        result.measures.append(measure(baked))
        result.cache_bytes = self.cold_cache_bytes = self.cache_size()

    def cache_size(self) -> int | None:
        """Bytes of the cache the cold build wrote, counted where it landed (None: cannot see)."""
        if self.project.cache.backend == CacheBackend.LOCAL:
            return sum(f.stat().st_size for f in Path(self.env["CACHE_DIR"]).rglob("*") if f.is_file())
        if self.project.cache.backend != CacheBackend.REGISTRY:
            return None
        host, _, path = self.cache_repo.partition("/")
        try:
            return registry.stored_bytes(host, path) if registry.reachable(host)[0] else None
        except (BakegenError, OSError):
            return None

    def _noop(self, result: ScenarioResult, attempt: int) -> None:
        result.measures.append(measure(self.bake("noop")))

    def _code_change(self, result: ScenarioResult, attempt: int) -> None:
        names = self.options.targets or tuple(n for n, t in sorted(self.project.targets.items())
                                              if t.kind == Kind.SERVICE)
        files = [f for n in names if (f := source_file(self.project, self.project.targets[n])) is not None]
        if not files:
            result.skipped = "no source file found in the services' contexts"
            return
        with ExitStack() as changes:
            for path in files:
                changes.enter_context(appended(path, harmless_line(path, f"{self.run_id}-{attempt}"),
                                               root=self.options.root))
            result.changed = [self._shown(p) for p in files]
            result.measures.append(measure(self.bake("code-change")))

    def _deps_change(self, result: ScenarioResult, attempt: int) -> None:
        names = self.options.targets or tuple(sorted(self.project.targets))
        found = next(((n, f) for n in names if (f := manifest_file(self.project, self.project.targets[n]))), None)
        if found is None:
            result.skipped = "no dependency manifest (requirements.txt, package.json, ...) found"
            return
        path = found[1]
        with appended(path, harmless_line(path, f"{self.run_id}-{attempt}"), root=self.options.root):
            result.changed = [self._shown(path)]
            result.measures.append(measure(self.bake("deps-change")))

    def _base_change(self, result: ScenarioResult, attempt: int) -> None:
        links = target_links(self.project)
        used = {base for bases in links.values() for base in bases.values()}
        bases = [self.project.targets[n] for n in sorted(used)]
        if not bases:
            result.skipped = "no target is built on another"
            return
        base = min(bases, key=lambda t: len(links[t.name]))  # the root-most base
        with base_step_added(self.project, base, f"{self.run_id}-{attempt}") as path:
            result.changed = [self._shown(path)]
            result.measures.append(measure(self.bake("base-change")))

    def _fresh_runner(self, result: ScenarioResult, attempt: int) -> None:
        if self.cache_note:
            result.skipped = self.cache_note
            return
        if self.export_problems is None:
            result.skipped = "needs the cold scenario first (it writes the cache this one reads)"
            return
        if self.cold_cache_bytes == 0:
            result.skipped = f"no cache landed in {self.cache_repo} (a registry that refused the export?)"
            return
        if self.export_problems:
            result.skipped = f"the cold build could not write the cache: {self.export_problems[0]}"
            return
        self.empty_builder()
        result.measures.append(measure(self.bake("fresh-runner")))

    # the baseline: what each scenario costs a repository without bakegen on a CI runner. With no
    # cache to import every build is a full build, whatever changed: one per scenario and repeat,
    # measured beside the scenario, so both see the same machine.

    def _baseline(self, result: ScenarioResult) -> None:
        for _ in range(self.options.repeat):
            result.baseline_seconds.append(self.baseline_build())

    def baseline_build(self) -> float:
        """Each Dockerfile with plain `docker build` on the engine (bases first, by tag), without
        any cache to import, as a fresh CI runner without bakegen does. Returns the seconds."""
        order = _build_order(self.project)
        tags = {name: normalized_from_name(name) for name in order}
        taken = [t for t in tags.values() if _image_exists(self.client, t)]
        if taken:
            raise BakegenError(f"--baseline tags the bases by their FROM names, and {taken[0]} already exists "
                               "in the engine; remove it or run without --baseline")
        start = time.perf_counter()
        try:
            for name in order:
                run_build(baseline_command(self.project, self.project.targets[name], tags[name],
                                           self.engine_builder),
                          cwd=self.options.root, timeout=7200, on_retry=self._retrying(f"baseline {name}"))
            return round(time.perf_counter() - start, 3)
        finally:
            remove_images(self.client, tags.values())

    # after the scenarios

    def _service_figures(self) -> dict[str, ServiceFigures]:
        figures = {}
        gpu = has_gpu_runtime(self.client.info())
        for name in sorted(self.project.targets):
            ref = self.images[name]
            try:
                image = self.client.images.get(ref)
            except docker.errors.ImageNotFound:
                continue
            config = image.attrs.get("Config") or {}
            size = image.attrs.get("Size")
            if not (config.get("Healthcheck") or {}).get("Test"):
                figures[name] = ServiceFigures(ref, size, None, "no healthcheck")
                continue
            wants_gpu = any(e.startswith(("NVIDIA_VISIBLE_DEVICES=", "CUDA_VERSION=")) for e in config.get("Env") or [])
            if wants_gpu and not gpu:
                figures[name] = ServiceFigures(ref, size, None, "not measured here: needs a GPU, none present")
                continue
            seconds, note = self._time_to_healthy(ref, wants_gpu)
            figures[name] = ServiceFigures(ref, size, seconds, note)
        return figures

    def _time_to_healthy(self, ref: str, gpu: bool) -> tuple[float | None, str]:
        requests = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpu else None
        container = self.client.containers.run(ref, detach=True, device_requests=requests,
                                               labels={"bakegen.bench": self.run_id})
        start = time.monotonic()
        try:
            while time.monotonic() - start < self.options.healthcheck_seconds:
                container.reload()
                state = container.attrs["State"]
                if (state.get("Health") or {}).get("Status") == "healthy":
                    return round(time.monotonic() - start, 2), ""
                if state.get("Status") == "exited":
                    return None, f"exited with {state.get('ExitCode')} before it was healthy"
                time.sleep(0.2)
            return None, f"not healthy within {self.options.healthcheck_seconds:.0f} s"
        finally:
            container.remove(force=True)

    def _clean_up(self) -> None:
        remove_images(self.client, self.images.values())
        if self.project.cache.backend == CacheBackend.REGISTRY:
            host, _, path = self.cache_prefix.partition("/")
            with suppress(BakegenError, OSError):
                if registry.reachable(host)[0]:
                    registry.delete_repositories(host, path)

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.project.root).as_posix()

    def machine(self) -> dict[str, str | int]:
        info = builders.inspect(self.builder)
        version = self.client.version()
        buildx = buildx_version()
        return {
            "engine": str(version.get("Version", "")), "buildx": ".".join(map(str, buildx)) if buildx else "",
            "builder": self.builder, "driver": info.driver if info else "",
            "buildkit": info.buildkit if info else "", "cpus": os.cpu_count() or 0,
            "platform": platform.platform(), "cache": self.project.cache.backend.value,
            "results": "loaded into the engine (timed)" if self.options.load else "kept in the builder",
        }


def _build_order(project: Project) -> list[str]:
    """Targets with their bases first (the links are acyclic: checked by target_links)."""
    links = target_links(project)
    done: list[str] = []
    pending = sorted(project.targets)
    while pending:
        ready = [n for n in pending if set(links[n].values()) <= set(done)]
        done += ready
        pending = [n for n in pending if n not in ready]
    return done


def normalized_from_name(name: str) -> str:
    return f"{repository_name(name)}:latest"


def _image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def baseline_command(project: Project, target: Target, tag: str, builder: str) -> list[str]:
    """`docker build` of one target as a plain script would run it, on the engine's own BuildKit
    (`builder`, docker driver): no cache, no cache import. Upstream-image replacements, config
    args and contexts still apply (they are inputs, not caching)."""
    args = ["docker", "buildx", "build", "--builder", builder, "--load", "--no-cache", "--progress=quiet",
            "-t", tag, "-f", join_path(target.context, target.dockerfile)]
    if target.stage:
        args += ["--target", target.stage]
    for key, value in sorted(target.args.items()):
        args += ["--build-arg", f"{key}={value}"]
    contexts = {**replacement_contexts(target, project), **target.contexts}
    for key, value in sorted(contexts.items()):
        args += ["--build-context", f"{key}={value}"]
    return [*args, target.context]


def resolve_builder(requested: str | None, say: Say) -> str:
    """The builder to bench on: the given one (never the engine's own BuildKit), else bakegen's."""
    if requested:
        info = builders.inspect(requested)
        if info is None:
            raise BakegenError(f"--builder {requested}: no such builder (`docker buildx ls`)")
        if info.driver == "docker":
            raise BakegenError(f"--builder {requested}: the engine's own BuildKit is shared with everything you "
                               "build, and the bench empties its builder; use a builder of its own "
                               "(the default, `bakegen builder up --name bakegen-bench`)")
        return requested
    info = builders.up(builders.UpRequest(name=BENCH_BUILDER), say)
    return info.name
