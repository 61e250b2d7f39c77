"""Compose files as a source of truth: each service with `build:` states its image's context,
Dockerfile, build args, stage and image name.

Values are interpolated as `docker compose config` does, from the `.env` file beside the compose
file and the variables' own defaults (`${X:-d}`, `${X-d}`, `${X:+a}`, `${X:?err}`, `$$`). The
process environment is left out on purpose: the bake file must not depend on who runs bakegen.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bakegen import variables
from bakegen.dotenv import ENV_UNTRACKED, EnvValues, after_name, interpolate, read_env
from bakegen.paths import Outside, Unreadable, is_file, is_local_context, read_text, within

# libyaml's parser where present: several times faster, and the same documents.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader with compose's own merge tags: `!reset` (the value dropped) and `!override`
    (the value as written, not merged): only files merged over others use them, and those are read
    here for the services they add, so the value itself is all that matters."""


class _Overriding(dict):
    """A mapping tagged `!override`: it replaces the one it is laid over (`extends`) instead of merging."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return _Overriding(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("!reset", lambda loader, node: None)
_Loader.add_constructor("!override", _override)
MAX_EXTENDS = 10  # levels of `extends` followed, as a bound on a chain (compose refuses cycles)

# The files `docker compose` reads unasked; others beside them are overrides of their services.
MAIN_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COMPOSE_FILE = re.compile(r"^(docker-)?compose([.-][A-Za-z0-9_.-]+)?\.ya?ml\Z")
# Bounds on a YAML document: nesting (the composer recurses per level) and the number of nodes
# once aliases are expanded (a 434-byte alias bomb otherwise grows past a gigabyte when read).
MAX_YAML_DEPTH = 100
MAX_YAML_NODES = 500_000


# Kinds of findings (each shown as one line listing its items).
NOT_READ = "compose files not read (their services are left out)"
LEFT_OUT = "compose services left out"



@dataclass
class ComposeBuild:
    """One compose service with `build:`, its paths relative to the repository root."""

    service: str
    file: str  # the compose file, relative to the root
    context: str
    dockerfile: str  # relative to the context, as bake wants it
    args: dict[str, str] = field(default_factory=dict)
    stage: str | None = None
    image: str | None = None
    contexts: dict[str, str] = field(default_factory=dict)  # additional_contexts (`service:x` kept)


def is_compose_file(name: str) -> bool:
    return bool(COMPOSE_FILE.match(name))


@dataclass
class ComposeFile:
    """What one compose file states: its builds, the names of all its services, the compose files
    it includes (relative to the root, inside the repository) and warnings."""

    builds: list[ComposeBuild] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    includes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def read_compose(root: Path, shown: str, overridden: frozenset[str] = frozenset(),
                 tracked: frozenset[str] | None = None) -> ComposeFile:
    """The compose file at root/shown; a file that does not resolve is a warning naming it, never
    a stop. Services in `overridden` only override another file's (compose's `-f a -f b`): not
    builds of their own. `extends` (in this file or another inside the repository) is followed.
    `tracked`: the files git tracks (None outside a repository): a `.env` outside it is not used."""
    folder = posixpath.dirname(shown) or "."
    try:
        document = load_yaml(read_text(root / shown, shown), shown)
    except (Unreadable, ValueError) as e:
        return ComposeFile(warnings=[(NOT_READ, f"{shown} ({after_name(str(e), shown)})")])
    if not isinstance(document, dict):
        return ComposeFile()
    read = ComposeFile()
    env = EnvValues(*read_env(root, join(folder, ".env"), tracked, read.warnings))
    read.includes = _includes(root, document.get("include"), env, folder, shown, read.warnings)
    if not isinstance(document.get("services"), dict):
        return read
    documents = {shown: document}
    for service, spec in document["services"].items():
        if not isinstance(spec, dict) or service in overridden:
            continue
        try:
            spec, spec_folder = _extended(root, spec, folder, shown, documents)
            if "build" in spec:
                read.builds.append(_build_of(str(service), spec, env, spec_folder, shown, root))
        except (ValueError, Unreadable, variables.ExpansionError) as e:
            read.warnings.append((LEFT_OUT, f"{shown}: {service} ({e})"))
    if env.ignored_used:
        read.warnings.append((ENV_UNTRACKED, f"{join(folder, '.env')} ({', '.join(sorted(env.ignored_used))})"))
    read.services = {str(s) for s in document["services"]}
    return read


def _includes(root: Path, raw: object, env: Mapping[str, str], folder: str, shown: str,
              warnings: list[tuple[str, str]]) -> list[str]:
    """The files of compose's `include:` (a path, a list of paths, or `{path: ...}` entries), each
    inside the repository; one that is not is a warning."""
    paths: list[object] = []
    for item in raw if isinstance(raw, list) else []:
        entry = item.get("path") if isinstance(item, dict) else item
        paths += entry if isinstance(entry, list) else [entry]
    found = []
    for path in paths:
        if not isinstance(path, _TEXT):
            continue
        try:
            found.append(_local_path(root, interpolate(str(path), env), folder, "include"))
        except ValueError as e:
            warnings.append((NOT_READ, f"{shown}: include {str(path)[:80]!r} ({e})"))
    return found


def _extended(root: Path, spec: dict, folder: str, shown: str, documents: dict[str, object],
              depth: int = 0) -> tuple[dict, str]:
    """`spec` laid over the service it `extends` (key by key, `build` merged too), and the folder
    its build's paths are relative to: the extended file's when the build comes from there."""
    extends = spec.get("extends")
    if extends is None:
        return spec, folder
    if depth >= MAX_EXTENDS:
        raise ValueError(f"extends: more than {MAX_EXTENDS} levels")
    if isinstance(extends, str):
        extends = {"service": extends}
    if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
        raise ValueError("extends: expected a service name or a mapping with `service`")
    other = shown
    if extends.get("file") is not None:
        other = _local_path(root, interpolate(str(extends["file"]), {}), folder, "extends.file")
    if other not in documents:
        documents[other] = load_yaml(read_text(root / other, other), other)
    services = documents[other].get("services") if isinstance(documents[other], dict) else None
    base = services.get(extends["service"]) if isinstance(services, dict) else None
    if not isinstance(base, dict):
        raise ValueError(f"extends: no service {extends['service'][:80]!r} in {other}")
    base, base_folder = _extended(root, base, posixpath.dirname(other) or ".", other, documents, depth + 1)
    own = {k: v for k, v in spec.items() if k != "extends"}
    merged = {**base, **own}
    if "build" not in base:
        return merged, folder
    base_build = base["build"] if isinstance(base["build"], dict) else {"context": base["build"]}
    own_build = own.get("build", {})
    own_build = own_build if isinstance(own_build, dict) else {"context": own_build}
    if base_folder != folder:  # the extended file's paths (its context, its additional_contexts), seen from here
        if "context" not in own_build:
            base_build = {**base_build, "context": _seen_from(str(base_build.get("context", ".")), base_folder, folder)}
        if base_build.get("additional_contexts") is not None:
            named = _pairs(base_build["additional_contexts"], "build.additional_contexts")
            base_build = {**base_build, "additional_contexts": {
                k: _seen_from(str(v), base_folder, folder) if isinstance(v, _TEXT) else v for k, v in named}}
    merged["build"] = _merged_build(base_build, own_build)
    return merged, folder


def _seen_from(path: str, base_folder: str, folder: str) -> str:
    """A local path written in a file of `base_folder`, relative to `folder` instead; an absolute
    one, another service's or a remote one as written."""
    if not is_local_context(path) or path.startswith(("/", "service:")):
        return path
    return posixpath.relpath(posixpath.join(base_folder, path), folder)


_MAPPINGS = ("args", "additional_contexts", "labels")  # mappings also when written as `K=V` lists


def _merged_build(base: dict, own: dict) -> dict:
    """`build` of a service laid over the one it extends, as compose merges them: its mappings
    (args, additional_contexts, labels, x-bake) key by key, the extending service's values winning;
    every other value, a `!reset` one (None) and an `!override` mapping replaced whole."""
    merged = {**base, **own}
    for key, value in own.items():
        other = base.get(key)
        if value is None or other is None or isinstance(value, _Overriding):
            continue
        if key in _MAPPINGS or (isinstance(value, dict) and isinstance(other, dict)):
            merged[key] = {**dict(_pairs(other, f"build.{key}")), **dict(_pairs(value, f"build.{key}"))}
    return merged


def join(folder: str, name: str) -> str:
    return name if folder in (".", "") else f"{folder}/{name}"


def load_yaml(text: str, shown: str) -> object:
    """A YAML document, refused (`ValueError`, one line) when it nests too deep or its aliases
    expand to too many nodes: both are counted on libyaml's event stream, before anything is built."""
    try:
        _check_bounds(yaml.parse(text, Loader=_Loader), shown)
        return yaml.load(text, Loader=_Loader)  # a safe loader: plain data only
    except YamlRefused:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark is not None else shown
        problem = getattr(e, "problem", None) or str(e).splitlines()[0] or type(e).__name__
        raise ValueError(f"{where}: malformed YAML: {problem}") from None
    except (ValueError, RecursionError) as e:  # an integer of 5,000 digits, say
        raise ValueError(f"{shown}: cannot read: {str(e).split(';')[0] or type(e).__name__}") from None


class YamlRefused(ValueError):
    """A YAML document past the bounds on nesting or alias expansion."""


def _check_bounds(events: Iterator[yaml.Event], shown: str) -> None:
    sizes: list[int] = [0]  # nodes counted in each open collection (the document's at the bottom)
    anchors: list[str | None] = []
    anchored: dict[str, int] = {}  # anchor -> nodes of its value, aliases expanded
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            if len(sizes) > MAX_YAML_DEPTH:
                raise YamlRefused(f"{shown}:{event.start_mark.line + 1}: nested more than {MAX_YAML_DEPTH} levels deep")
            sizes.append(1)
            anchors.append(event.anchor)
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size = sizes.pop()
            anchor = anchors.pop()
            if anchor:
                anchored[anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            size = anchored.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                anchored[event.anchor] = 1
        else:
            continue
        sizes[-1] += size
        if sizes[-1] > MAX_YAML_NODES:
            raise YamlRefused(f"{shown}:{event.start_mark.line + 1}: aliases expand to more than {MAX_YAML_NODES} "
                             "values (an alias bomb?)")


def _field(mapping: dict, key: str, types: tuple[type, ...], what: str, default: object = None) -> object:
    """`mapping[key]` when it is of one of `types`; else a `ValueError` naming the key (`build.`
    keys by their full name)."""
    value = mapping.get(key)
    if value is None:  # absent, or `key:` with nothing after it (YAML's null)
        return default
    # A bool is an int to Python; `target: yes` is no stage name.
    if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
        return value
    shown = key if key in ("build", "image") else f"build.{key}"
    raise ValueError(f"{shown}: expected {what}, got {_yaml_type(value)}")


def _yaml_type(value: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


_TEXT = (str, int, float)  # what YAML may give for a value compose reads as text


def _build_of(service: str, spec: dict, env: Mapping[str, str], folder: str, shown: str, root: Path
              ) -> ComposeBuild:
    build = _field(spec, "build", (str, dict), "a path or a mapping", default={})
    if isinstance(build, str):
        build = {"context": build}
    if "dockerfile_inline" in build:
        raise ValueError("dockerfile_inline has no file to build from")
    context_raw = interpolate(str(_field(build, "context", _TEXT, "a path", ".")), env)
    if not is_local_context(context_raw):
        raise ValueError(f"build context {context_raw!r} is remote")
    context = _local_path(root, context_raw, folder, "build.context")
    dockerfile = posixpath.normpath(interpolate(str(_field(build, "dockerfile", _TEXT, "a path", "Dockerfile")), env))
    _local_path(root, dockerfile, context, "build.dockerfile")
    if not is_file(root / context / dockerfile):
        raise ValueError(f"Dockerfile '{posixpath.join(context, dockerfile)}' not found")
    stage = _field(build, "target", _TEXT, "a stage name")
    image = _field(spec, "image", _TEXT, "an image name")
    return ComposeBuild(
        service=service, file=shown, context=context, dockerfile=dockerfile,
        args=_args(_field(build, "args", (dict, list), "a mapping or a list"), env),
        stage=interpolate(str(stage), env) if stage else None,
        image=interpolate(str(image), env) if image else None,
        contexts=_contexts(root, _field(build, "additional_contexts", (dict, list), "a mapping or a list"), env,
                           folder) | _contexts(root, _bake_contexts(build), env, folder, "build.x-bake.contexts"),
    )


def _bake_contexts(build: dict) -> object:
    """`build.x-bake.contexts`: bake's own extension of a compose build, read by `docker buildx
    bake -f compose.yaml` over `additional_contexts` (`base: target:base` links to another service).
    Compose leaves its paths as written: bake reads them from where it runs, taken here to be the
    compose file's folder (the root for a compose file there)."""
    extension = _field(build, "x-bake", (dict,), "a mapping", default={})
    contexts = extension.get("contexts")
    if contexts is not None and not isinstance(contexts, (dict, list)):
        raise ValueError(f"build.x-bake.contexts: expected a mapping or a list, got {_yaml_type(contexts)}")
    return contexts


def _local_path(root: Path, path: str, folder: str, key: str) -> str:
    """`path` relative to the root, when it stays in the repository (see `paths.within`)."""
    try:
        return within(root, path, folder)
    except Outside as e:
        raise ValueError(f"{key}: {e}") from None


def _pairs(raw: object, key: str) -> list[tuple[str, object]]:
    """A compose mapping or list of `K=V` as pairs (a bare `K` has the value None)."""
    if isinstance(raw, dict):
        return [(str(k), v) for k, v in raw.items()]
    pairs = []
    for item in raw or []:
        if not isinstance(item, _TEXT):
            raise ValueError(f"{key}: expected K=V items, got {_yaml_type(item)}")
        name, eq, value = str(item).partition("=")
        pairs.append((name, value if eq else None))
    return pairs


def _args(raw: object, env: Mapping[str, str]) -> dict[str, str]:
    """`args` as a mapping or a list of `K=V`; a bare `K` takes the environment's value: the
    `.env` file's (compose reads it into the project's environment), the process environment being
    left out (see the module's note), so one unset there is dropped as compose drops unset ones."""
    args = {}
    for name, value in _pairs(raw, "build.args"):
        if value is None:
            if name in env:
                args[name] = env[name]
            continue
        if not isinstance(value, (*_TEXT, bool)):
            raise ValueError(f"build.args.{name}: expected text, got {_yaml_type(value)}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args[name] = interpolate(text, env)
    return args


def _contexts(root: Path, raw: object, env: Mapping[str, str], folder: str,
              key: str = "build.additional_contexts") -> dict[str, str]:
    contexts = {}
    for name, value in _pairs(raw, key):
        if not isinstance(value, _TEXT):
            raise ValueError(f"{key}.{name}: expected a path, got {_yaml_type(value)}")
        value = interpolate(str(value), env)
        if is_local_context(value) and not value.startswith("service:"):  # compose's own service: form
            value = _local_path(root, value, folder, f"{key}.{name}")
        contexts[name] = value
    return contexts
