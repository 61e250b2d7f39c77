"""A BuildKit builder of bakegen's own: made, reused, inspected and stopped through buildx.

Two ways to get one, both BuildKit >= 0.20 and never the user's default builder:
- `docker-container`: buildx runs the pinned `moby/buildkit` image (where that image can be had);
- `remote`: bakegen starts a `buildkitd` process (run.buildkitd) with a state folder of its own
  and buildx reaches it through the remote driver (machines that cannot pull the image).
What bakegen started is recorded in `<state>/builder.json`, so `down` stops only that, by PID.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bakegen import command
from bakegen.model import BakegenError
from bakegen.options import DEFAULT_MAX_STORAGE, BuilderUpOptions
from bakegen.run import buildkitd

BUILDKIT_IMAGE = "moby/buildkit:v0.26.3"  # pinned: the version the remote driver path is tested with
MIN_BUILDKIT = (0, 20)  # type=gha needs it since GitHub retired its old cache service (2025)
DRIVERS = ("docker-container", "remote")
STATE_FILE = "builder.json"
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}\Z")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\Z|^\d{1,2}%\Z", re.I)

Say = Callable[[str], None]


# --- what buildx says about a builder (pure parsing, unit-tested) -------------------------------


@dataclass(frozen=True)
class Node:
    name: str
    endpoint: str
    status: str
    buildkit: str  # as buildx prints it, e.g. "v0.26.3"; "" when the node is not running
    platforms: str


@dataclass(frozen=True)
class BuilderInfo:
    name: str
    driver: str
    nodes: tuple[Node, ...]

    @property
    def running(self) -> bool:
        return bool(self.nodes) and all(n.status == "running" for n in self.nodes)

    @property
    def buildkit_version(self) -> tuple[int, ...] | None:
        """The oldest BuildKit among the nodes (None when unknown, e.g. dockerd's own)."""
        versions = [version_tuple(n.buildkit) for n in self.nodes]
        known = [v for v in versions if v and v > (0, 0, 0)]
        return min(known) if known and len(known) == len(versions) else None

    @property
    def buildkit(self) -> str:
        return ", ".join(sorted({n.buildkit or "?" for n in self.nodes})) or "?"

    @property
    def endpoint(self) -> str:
        return ", ".join(n.endpoint for n in self.nodes)


def version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in m.groups()) if m else None


def parse_ls(text: str) -> dict[str, BuilderInfo]:
    """`docker buildx ls --format json` (buildx 0.13+): one JSON object per line, each a builder
    with its `Nodes` (`Name`, `Endpoint`, `Status`, `Version` of BuildKit, `Platforms`).
    buildx 0.13.1 prints a builder once per row of its table (seen here): the first is kept."""
    builders: dict[str, BuilderInfo] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            name = entry["Name"]
            nodes = tuple(Node(n.get("Name", ""), n.get("Endpoint", ""), n.get("Status", ""), n.get("Version", ""),
                               ", ".join(n.get("Platforms") or [])) for n in entry.get("Nodes") or [])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BakegenError(f"`docker buildx ls --format json` printed what bakegen cannot read ({e!r}): "
                               f"{line[:120]}") from None
        builders.setdefault(name, BuilderInfo(name, entry.get("Driver", ""), nodes))
    return builders


def builders_known(run: command.Runner = command.run) -> dict[str, BuilderInfo]:
    """Every builder buildx knows, by name, its nodes asked for their state."""
    return parse_ls(run(["docker", "buildx", "ls", "--format", "json"], timeout=120).stdout)


def inspect(name: str, *, bootstrap: bool = False, run: command.Runner = command.run) -> BuilderInfo | None:
    """What buildx knows of builder `name`; None when there is no such builder. With
    `bootstrap`, its nodes are started first (`buildx inspect --bootstrap`, output unused)."""
    if bootstrap:
        args = ["docker", "buildx", "inspect", name, "--bootstrap"]
        done = run(args, check=False, timeout=120)
        if done.returncode != 0:
            if "no builder" in done.stderr and "found" in done.stderr:
                return None
            raise command.CommandError(args, done.returncode, command.reason_of(done.stderr, done.returncode))
    return builders_known(run).get(name)


def disk_used(name: str) -> str:
    """`docker buildx du` total for the builder, as buildx prints it."""
    done = command.run(["docker", "buildx", "du", "--builder", name], timeout=60)
    totals = [ln.split(":", 1)[1].strip() for ln in done.stdout.splitlines() if ln.startswith("Total:")]
    return totals[-1] if totals else "0B"


# --- the state bakegen keeps for builders it made ------------------------------------------------


@dataclass
class BuilderState:
    name: str
    driver: str
    endpoint: str = ""
    buildkitd: str = ""  # remote driver: the binary started (its PID is in buildkitd.pid)
    image: str = ""  # docker-container driver
    max_storage: str = DEFAULT_MAX_STORAGE
    insecure_registries: list[str] = field(default_factory=list)  # plain HTTP besides the loopback ones


def default_state_dir(name: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bakegen" / "builders" / name


def load_state(folder: Path) -> BuilderState | None:
    path = folder / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(BuilderState)}
        return BuilderState(**{k: v for k, v in data.items() if k in known})  # older files may hold more
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as e:
        raise BakegenError(f"{path}: unreadable builder state ({e}); remove it to start over") from None


def save_state(folder: Path, state: BuilderState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / STATE_FILE)


# --- up, down, status -----------------------------------------------------------------------------


# What `up` takes (bakegen/options.py: the same for the CLI and the library).
UpRequest = BuilderUpOptions


def check_request(req: UpRequest) -> None:
    if not _NAME.match(req.name):
        raise BakegenError(f"--name {req.name!r}: letters, digits, '_', '.' and '-' only, "
                           "starting with a letter or digit")
    if req.driver is not None and req.driver not in DRIVERS:
        raise BakegenError(f"--driver {req.driver!r}: unknown driver (known: {', '.join(DRIVERS)})")
    if not _SIZE.match(req.max_storage.strip()):
        raise BakegenError(f"--max-storage {req.max_storage!r}: expected a size such as 20GB or 500MB")
    if req.addr is not None:
        _check_addr(req.addr)
    for host in req.insecure_registries:
        if not _HOST_PORT.match(host):
            raise BakegenError(f"--insecure-registry {host!r}: expected HOST:PORT, e.g. 127.0.0.1:5001")


def _check_addr(addr: str) -> None:
    if addr.startswith("unix://") and len(addr) > len("unix://"):
        return
    m = re.match(r"^tcp://(127\.0\.0\.1|localhost):(\d{1,5})\Z", addr)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise BakegenError(f"--addr {addr!r}: expected unix:///path or tcp://127.0.0.1:PORT "
                           "(plain TCP only on loopback: it has no TLS)")


def image_present(image: str) -> bool:
    return command.run(["docker", "image", "inspect", image], check=False, timeout=30).returncode == 0


def choose_driver(req: UpRequest) -> str:
    if req.driver:
        return req.driver
    if req.buildkitd or os.environ.get("BAKEGEN_BUILDKITD"):
        return "remote"
    if image_present(req.image or BUILDKIT_IMAGE):
        return "docker-container"
    return "remote" if shutil.which("buildkitd") else "docker-container"


def up(req: UpRequest, say: Say) -> BuilderInfo:
    """Make or reuse builder `req.name`; afterwards it runs BuildKit >= 0.20."""
    check_request(req)
    folder = req.state_dir or default_state_dir(req.name)
    state = load_state(folder)
    existing = inspect(req.name)
    if existing is not None:
        return _reuse(req, existing, state, folder, say)
    driver = state.driver if state and not req.driver else choose_driver(req)
    if driver == "remote":
        return _create_remote(req, folder, state, say)
    image = req.image or (state.image if state and state.image else BUILDKIT_IMAGE)
    return _create_container(req, image, folder, say)


def _reuse(req: UpRequest, existing: BuilderInfo, state: BuilderState | None, folder: Path,
           say: Say) -> BuilderInfo:
    ours = state is not None and state.name == req.name
    if req.driver and existing.driver != req.driver:
        raise BakegenError(f"builder {req.name} exists with the {existing.driver} driver; "
                           f"`bakegen builder down --name {req.name}` first, or choose another --name")
    if ours and state is not None and state.driver == "remote" and not buildkitd.alive(state.endpoint, folder):
        say(f"builder {req.name}: buildkitd is not running; starting it again")
        _start(state, folder, say)
    info = inspect(req.name, bootstrap=True)
    if info is None:  # removed between the two looks
        raise BakegenError(f"builder {req.name} disappeared while starting; run the command again")
    _check_version(info)
    if not ours:
        say(f"builder {req.name} exists and was not made by bakegen: using it as it is "
            "(`bakegen builder down` will not stop it)")
    else:
        say(f"builder {req.name} ({info.driver} driver, BuildKit {info.buildkit}) is up")
    return info


def _check_version(info: BuilderInfo) -> None:
    version = info.buildkit_version
    if info.driver == "docker" or version is None or version[:2] < MIN_BUILDKIT:
        have = f"BuildKit {info.buildkit}" if info.driver != "docker" else "the engine's own BuildKit"
        raise BakegenError(
            f"builder {info.name} ({info.driver} driver) runs {have}; bakegen's builder needs BuildKit "
            f"{'.'.join(map(str, MIN_BUILDKIT))}+; choose another --name"
        )


def _create_container(req: UpRequest, image: str, folder: Path, say: Say) -> BuilderInfo:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "buildkitd.toml"
    config.write_text(buildkitd.buildkitd_config(req.max_storage, req.insecure_registries), encoding="utf-8")
    say(f"creating builder {req.name}: docker-container driver, image {image}")
    args = ["docker", "buildx", "create", "--name", req.name, "--driver", "docker-container",
            "--driver-opt", f"image={image}",
            # host network: the loopback registry (127.0.0.1:5000) is the host's, not the container's
            "--driver-opt", "network=host",
            "--buildkitd-config", str(config), "--bootstrap"]
    try:
        command.run(args, timeout=600)
        info = inspect(req.name)
        if info is None:
            raise BakegenError(f"builder {req.name} was not created")
        _check_version(info)
    except BakegenError as e:
        command.run(["docker", "buildx", "rm", req.name], check=False, timeout=120)
        hint = (" (the image cannot be pulled here? use --driver remote with a buildkitd binary: "
                "--buildkitd PATH or BAKEGEN_BUILDKITD)") if "pull" in str(e).lower() else ""
        raise BakegenError(f"builder {req.name}: {e}{hint}") from None
    save_state(folder, BuilderState(name=req.name, driver="docker-container", endpoint=info.endpoint,
                                    image=image, max_storage=req.max_storage,
                                    insecure_registries=list(req.insecure_registries)))
    say(f"builder {req.name} ({info.driver} driver, BuildKit {info.buildkit}) is up")
    return info


def _create_remote(req: UpRequest, folder: Path, previous: BuilderState | None, say: Say) -> BuilderInfo:
    binary = buildkitd.find(req.buildkitd) or (previous.buildkitd if previous else None)
    if not binary:
        raise BakegenError("no buildkitd found: pass --buildkitd PATH or set BAKEGEN_BUILDKITD "
                           f"(or use --driver docker-container where the image {BUILDKIT_IMAGE} can be pulled)")
    if os.geteuid() != 0:
        raise BakegenError("a buildkitd of bakegen's own needs root here (rootless BuildKit needs rootlesskit); "
                           "run as root or use --driver docker-container")
    if shutil.which("runc") is None:
        raise BakegenError("runc not found on PATH: buildkitd's OCI worker needs it (Debian: apt-get install runc)")
    endpoint = req.addr or (previous.endpoint if previous else "") or f"unix://{folder / 'buildkitd.sock'}"
    made_folder = not folder.exists()
    try:
        state = BuilderState(name=req.name, driver="remote", endpoint=endpoint, buildkitd=binary,
                             max_storage=req.max_storage, insecure_registries=list(req.insecure_registries))
        if previous is None or not buildkitd.alive(previous.endpoint, folder):
            _start(state, folder, say)
        command.run(["docker", "buildx", "create", "--name", req.name, "--driver", "remote", endpoint], timeout=60)
        info = inspect(req.name, bootstrap=True)
        if info is None:
            raise BakegenError(f"builder {req.name} was not created")
        _check_version(info)
        save_state(folder, state)
    except BaseException:
        # Nothing half made: no buildx entry, no process, no folder we created.
        command.run(["docker", "buildx", "rm", req.name], check=False, timeout=60)
        buildkitd.stop(buildkitd.read_pid(folder), folder)
        (folder / "buildkitd.pid").unlink(missing_ok=True)
        if made_folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    say(f"builder {req.name} (remote driver, BuildKit {info.buildkit}) is up: "
        f"buildkitd pid {buildkitd.read_pid(folder)}, state in {folder}")
    return info


def _start(state: BuilderState, folder: Path, say: Say) -> None:
    buildkitd.start(state.buildkitd, state.endpoint, folder, state.max_storage, state.insecure_registries, say)


def down(name: str, state_dir: Path | None, purge: bool, say: Say) -> None:
    """Remove builder `name` and stop what bakegen started for it; its state stays unless `purge`."""
    folder = state_dir or default_state_dir(name)
    state = load_state(folder)
    if state is None or state.name != name:
        if inspect(name) is not None:
            raise BakegenError(f"builder {name} was not made by `bakegen builder up` (no state in {folder}); "
                               f"nothing stopped (remove it yourself with `docker buildx rm {name}`)")
        raise BakegenError(f"no builder {name} (and no state in {folder})")
    if inspect(name) is not None:
        keep = [] if purge or state.driver != "docker-container" else ["--keep-state"]
        command.run(["docker", "buildx", "rm", *keep, name], timeout=120)
        say(f"removed builder {name}")
    if state.driver == "remote":
        pid = buildkitd.read_pid(folder)
        if buildkitd.stop(pid, folder):
            say(f"stopped buildkitd (pid {pid})")
        (folder / "buildkitd.pid").unlink(missing_ok=True)
    if purge:
        if state.driver == "docker-container":  # buildx keeps the cache in a volume per node
            volume = f"buildx_buildkit_{name}0_state"
            command.run(["docker", "volume", "rm", "--force", volume], check=False, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
        say(f"removed its state {folder}")
    else:
        save_state(folder, state)
        say(f"kept its state in {folder} (`--purge` removes it)")


@dataclass(frozen=True)
class Status:
    info: BuilderInfo
    disk: str
    state: BuilderState | None
    state_dir: Path
    pid: int | None  # the buildkitd bakegen started, while it runs


def status(name: str, state_dir: Path | None) -> Status:
    folder = state_dir or default_state_dir(name)
    info = inspect(name)
    if info is None:
        raise BakegenError(f"no builder {name}; make it with `bakegen builder up --name {name}`")
    disk = disk_used(name) if info.running else "unknown (not running)"
    state = load_state(folder)
    ours = state if state and state.name == name else None
    pid = buildkitd.read_pid(folder) if ours and buildkitd.is_ours(buildkitd.read_pid(folder), folder) else None
    return Status(info, disk, ours, folder, pid)
