"""The bench's runner: real builds of the generated bake file, scenario by scenario, measured.

It runs on a builder it may empty: its own by default (`bakegen-bench`, made with `bakegen
builder up`), never the engine's own BuildKit, which is shared with everything else the user
builds. Images are tagged `:bakegen-bench` and removed at the end; the cache goes to a repository
(or folder) of the run's own, deleted at the end where the registry allows it. Every file a
scenario changes is put back byte for byte, also on failure, Ctrl-C or SIGTERM (bench.changes).
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bakegen.bench.baseline import DESCRIPTIONS, Places, baseline_file, commands
from bakegen.bench.results import BenchRun, Measure, ScenarioResult, ServiceFigures
from bakegen.bench.scenarios import NAMES, CacheState, Runner, Scenario, chosen
from bakegen.graph import LoadedProject
from bakegen.model import BakegenError, CacheBackend
from bakegen.names import repository_name
from bakegen.run import builder as builders
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.engine import buildx_version, has_gpu_runtime
from bakegen.run.registry import Registry
from bakegen.run.scenario import forget_everything, remove_images

BENCH_TAG = "bakegen-bench"
BENCH_BUILDER = "bakegen-bench"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

Say = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    root: Path
    scenarios: tuple[str, ...] = NAMES
    targets: tuple[str, ...] = ()  # services whose code changes (default: every service)
    repeat: int = 1
    baselines: tuple[str, ...] = ()  # bench.baseline.BASELINES measured too, in this order
    # registry/namespace of the bench's own repositories: its cache, the baselines' images and
    # caches, the pushed images (default REGISTRY)
    cache_registry: str | None = None
    healthcheck_seconds: float = 120.0
    load: bool = False  # load every build's images into the engine, as a developer who runs them
    verbose: bool = False  # show each baseline's generated file and commands


def why_not_pushed(prefix: str) -> str:
    """Why the bench pushes no images to registry/`prefix` ("": it may). Pushed images are whole
    images, in repositories a registry may not let us delete (ghcr): pushed to a registry on this
    machine only."""
    host = prefix.partition("/")[0]
    if host.rpartition(":")[0] in LOOPBACK_HOSTS or host in LOOPBACK_HOSTS:
        return ""
    return f"pushes only to a registry on this machine, and {host} is not one; give --cache-registry 127.0.0.1:5000/NS"


def measure(result: BakeResult) -> Measure:
    return Measure(round(result.seconds, 3), len(result.steps), len(result.cached()), len(result.executed()),
                   result.bytes_pulled)


def added(measures: list[Measure]) -> Measure:
    """Several bakes run one after the other, as one (times, steps and bytes summed)."""
    pushed = [m.bytes_pushed for m in measures if m.bytes_pushed is not None]
    return Measure(round(sum(m.seconds for m in measures), 3), sum(m.steps_total for m in measures),
                   sum(m.steps_cached for m in measures), sum(m.steps_ran for m in measures),
                   sum(m.bytes_pulled for m in measures), sum(pushed) if pushed else None)


class Bench:
    """The real `scenarios.Runner`: bakes on `builder`, which it may empty."""

    def __init__(self, project: LoadedProject, options: BenchOptions, builder: str, say: Say,
                 on_step: Callable[[str], None] | None = None):
        self.project = project
        self.options = options
        self.targets = options.targets
        self.builder = builder
        self.say = say
        self.on_step = on_step
        self.run_id = uuid.uuid4().hex[:8]
        self.client = docker.from_env(timeout=120)
        # Loaded into the engine (as a developer who runs them), or left in the builder with
        # --no-load; then one untimed load at the end gives the image sizes and healthchecks.
        self.env = {"TAG": BENCH_TAG, "PUSH": "false", "BRANCH": f"bench-{self.run_id}"}
        self.cache = CacheState()
        self._cleanup = ExitStack()
        namespace = options.cache_registry or os.environ.get("REGISTRY", project.registry)
        # Every repository the run writes starts with this (deleted at the end): its caches, the
        # baselines' images, the pushed images.
        self.own_prefix = f"{namespace}/bakegen-bench-{self.run_id}".lower()
        self._pushes = 0
        self.push_unavailable = why_not_pushed(self.own_prefix)
        self._set_up_cache()
        registry_name = os.environ.get("REGISTRY", project.registry).lower()
        self.images = {name: f"{registry_name}/{repository_name(name)}:{BENCH_TAG}" for name in project.targets}
        self.loaded: set[str] = set()  # images loaded under other names (pushes, baselines): removed at the end

    def _set_up_cache(self) -> None:
        backend = self.project.cache.backend
        if backend == CacheBackend.REGISTRY:
            # One repository per cold build (a cold build must find no cache), all under this prefix.
            self.cache_prefix = f"{self.own_prefix}-cache"
        elif backend == CacheBackend.LOCAL:
            folder = Path(tempfile.mkdtemp(prefix="bakegen-bench-cache-"))
            self._cleanup.callback(shutil.rmtree, folder, True)
            self.env["CACHE_DIR"] = self.cache.where = str(folder)
        elif backend == CacheBackend.GHA:
            self.cache.unreadable = "gha cache is GitHub's: reachable inside GitHub Actions only"
        else:
            self.cache.unreadable = f"the {backend.value} backend keeps no cache a fresh runner can read"

    # --- what scenarios use (scenarios.Runner) ---

    def nonce(self, attempt: int) -> str:
        return f"{self.run_id}-{attempt}"

    def bake(self, label: str, *, write_cache: bool = False, root: Path | None = None,
             push: bool = False) -> Measure:
        if not push:
            baked = self._bake(label, write_cache=write_cache, root=root)
        else:
            where = self.push_place("bakegen")
            baked = self._bake(label, write_cache=write_cache, root=root, extra_env={"PUSH": "true", "REGISTRY": where})
            if self.options.load:
                self.loaded |= {f"{where}/{repository_name(n)}:{BENCH_TAG}" for n in self.project.targets}
        if write_cache:
            self.cache.written = True
            self.cache.export_problems = [p for p in baked.cache_problems() if "export" in p]
            self.cache.bytes = self.cache_size()
        figures = measure(baked)
        if push:
            figures.bytes_pushed = self.stored_bytes(where)
        return figures

    def push_place(self, who: str) -> str:
        """A registry namespace nobody pushed to: what lands there is what one build pushed."""
        self._pushes += 1
        return f"{self.own_prefix}-push-{who}-{self._pushes}"

    def stored_bytes(self, prefix: str) -> int | None:
        """What the repositories under registry/`prefix` hold (None: the registry cannot say)."""
        host, _, path = prefix.partition("/")
        registry = Registry(host)
        try:
            return registry.stored_bytes_under(path) if registry.reachable()[0] else None
        except (BakegenError, OSError):
            return None

    def empty_builder(self) -> None:
        forget_everything(self.client, self.builder, self.images.values())

    def fresh_cache(self, attempt: int) -> None:
        if self.project.cache.backend == CacheBackend.REGISTRY:
            self.env["CACHE_REPO"] = self.cache.where = f"{self.cache_prefix}-{attempt}"
        if self.project.cache.backend == CacheBackend.LOCAL:
            for folder in Path(self.env["CACHE_DIR"]).glob("*"):
                shutil.rmtree(folder, ignore_errors=True)

    # --- the run ---

    def _bake(self, label: str, *, write_cache: bool = False, load: bool | None = None,
              root: Path | None = None, extra_env: dict[str, str] | None = None) -> BakeResult:
        load = self.options.load if load is None else load
        env = {**self.env, "CACHE_EXPORT": "true" if write_cache else "false", "LOAD": str(load).lower(),
               **(extra_env or {})}
        result = run_bake(root or self.options.root, builder=self.builder, env=env, on_vertex=self._vertex(label),
                          on_retry=self._retrying(label))
        if not result.ok:
            raise BakegenError(f"{label}: build failed: {result.error_line()}")
        return result

    def bake_file(self, label: str, root: Path, bake_file: Path, targets: list[str],
                  extra_args: list[str]) -> BakeResult:
        """A file of the bench's own (a baseline's) built from `root` on the bench's builder."""
        result = run_bake(root, targets, bake_file=str(bake_file), builder=self.builder,
                          extra_args=extra_args, on_vertex=self._vertex(label), on_retry=self._retrying(label))
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

    def cache_size(self) -> int | None:
        """Bytes of the cache the cold build wrote, counted where it landed (None: cannot see)."""
        if self.project.cache.backend == CacheBackend.LOCAL:
            return sum(f.stat().st_size for f in Path(self.env["CACHE_DIR"]).rglob("*") if f.is_file())
        if self.project.cache.backend != CacheBackend.REGISTRY:
            return None
        return self.stored_bytes(self.cache.where)

    def run(self) -> BenchRun:
        scenarios = chosen(self.options.scenarios)
        results = [ScenarioResult(s.name) for s in scenarios]
        with self._cleanup:  # the CLI turns SIGTERM into KeyboardInterrupt: this unwinds too
            self._cleanup.callback(self._clean_up)
            run_scenarios(self, scenarios, results, self.options.repeat, self.say)
            if not self.options.load:
                self.say("loading the images into the engine (untimed) for their sizes and healthchecks")
                self._bake("load", load=True)
            services = self._service_figures()
            # Each baseline after bakegen, its whole sequence on the same builder (its cold build
            # empties it): interleaved, each would find the others' results in the builder.
            for kind in self.options.baselines:
                self.say(f"baseline {kind}: {DESCRIPTIONS[kind]}")
                with tempfile.TemporaryDirectory(prefix=f"bakegen-bench-{kind}-") as folder:
                    run_scenarios(BaselineRunner(self, kind, Path(folder)), scenarios, results,
                                  self.options.repeat, self.say, baseline=kind)
            return BenchRun(results, services, self.machine())

    # --- after the scenarios ---

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
        remove_images(self.client, [*self.images.values(), *sorted(self.loaded)])
        host, _, path = self.own_prefix.partition("/")
        registry = Registry(host)
        with suppress(BakegenError, OSError):
            if registry.reachable()[0]:
                registry.delete_repositories(path)

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
            "baselines": "; ".join(f"{k}: {DESCRIPTIONS[k]}" for k in self.options.baselines),
        }


def run_scenarios(runner: Runner, scenarios: tuple[Scenario, ...], results: list[ScenarioResult], repeat: int,
                  say: Say, baseline: str = "") -> None:
    """Each scenario `repeat` times on `runner`, into `results` (bakegen's), or with `baseline`
    into each result's `baselines[baseline]` (a scenario bakegen skipped is not run)."""
    for scenario, result in zip(scenarios, results, strict=True):
        if baseline and result.skipped:
            continue
        into = result.baselines.setdefault(baseline, ScenarioResult(scenario.name)) if baseline else result
        say(f"scenario {scenario.name}" + (f" (baseline {baseline})" if baseline else ""))
        for attempt in range(repeat):
            scenario.run(runner, into, attempt)
            if into.skipped:
                break


class BaselineRunner:
    """A `scenarios.Runner` building as a team without bakegen would (bench.baseline): its own
    generated file, its commands one after the other, its own images and cache repositories."""

    def __init__(self, bench: Bench, kind: str, folder: Path):
        self.bench, self.kind, self.folder = bench, kind, folder
        self.project = bench.project
        self.targets = bench.targets
        self.cache = CacheState()
        self.push_unavailable = bench.push_unavailable
        self.places = Places(images=f"{bench.own_prefix}-{kind}", cache=f"{bench.own_prefix}-{kind}-cache")
        self._shown = False

    def nonce(self, attempt: int) -> str:
        return self.bench.nonce(attempt)

    def empty_builder(self) -> None:
        self.bench.empty_builder()

    def fresh_cache(self, attempt: int) -> None:
        self.places = Places(images=self.places.images, cache=f"{self.bench.own_prefix}-{self.kind}-cache-{attempt}")
        self.cache.where = self.places.cache

    def bake(self, label: str, *, write_cache: bool = False, root: Path | None = None,
             push: bool = False) -> Measure:
        root = root or self.project.root
        places = Places(images=self.bench.push_place(self.kind), cache=self.places.cache) if push else self.places
        name, text = baseline_file(self.kind, self.project, root, places, write_cache=write_cache)
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        steps = commands(self.project)
        if self.bench.options.verbose and not self._shown:  # once: the reader checks the setup is fair
            self._shown = True
            for line in [f"baseline {self.kind}: {name}:", *text.splitlines(), f"baseline {self.kind}: run as",
                         *(f"  docker buildx bake -f {name}{' --push' if pushed else ''} {' '.join(targets)}"
                           for targets, pushed in steps)]:
                self.bench.say(line)
        measures = []
        if write_cache:
            self.cache.export_problems = []
        for targets, pushed in steps:
            extra = (["--push"] if pushed or push else []) + (["--load"] if self.bench.options.load else [])
            baked = self.bench.bake_file(f"{label} ({self.kind})", root, path, targets, extra)
            measures.append(measure(baked))
            if write_cache:
                self.cache.export_problems += [p for p in baked.cache_problems() if "export" in p]
        if self.bench.options.load:
            self.bench.loaded |= {places.image(n) for n in self.project.targets}
        figures = added(measures)
        if push:
            figures.bytes_pushed = self.bench.stored_bytes(places.images)
        if write_cache:
            self.cache.written = True
            self.cache.bytes = None if self.kind == "none" else self.bench.stored_bytes(self.places.cache)
        return figures


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
