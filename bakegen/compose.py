"""Compose files as a source of truth: each service with `build:` states its image's context,
Dockerfile, build args, stage and image name.

Values are interpolated as `docker compose config` does, from the `.env` file beside the compose
file and the variables' own defaults (`${X:-d}`, `${X-d}`, `${X:+a}`, `${X:?err}`, `$$`). The
process environment is left out on purpose: the bake file must not depend on who runs bakegen.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The files `docker compose` reads unasked; others beside them are overrides of their services.
MAIN_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COMPOSE_FILE = re.compile(r"^(docker-)?compose([.-][A-Za-z0-9_.-]+)?\.ya?ml$")
_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])((?:[^{}]|\{[^{}]*\})*))?\}"
                       r"|([A-Za-z_][A-Za-z0-9_]*))")


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


def read_compose(root: Path, shown: str, overridden: frozenset[str] = frozenset()
                 ) -> tuple[list[ComposeBuild], set[str], list[tuple[str, str]]]:
    """The builds of the compose file at root/shown, the names of all its services, and
    warnings; a file that does not resolve is a warning naming it, never a stop. Services in
    `overridden` only override another file's (compose's `-f a -f b`): not builds of their own."""
    folder = posixpath.dirname(shown) or "."
    try:
        document = yaml.load((root / shown).read_text(encoding="utf-8", errors="replace"),
                             Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's, 10x faster
    except (OSError, yaml.YAMLError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return [], set(), [(NOT_READ, f"{shown} ({reason})")]
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        return [], set(), []
    env = read_env_file(root / folder / ".env")
    builds: list[ComposeBuild] = []
    warnings: list[tuple[str, str]] = []
    for service, spec in document["services"].items():
        if not isinstance(spec, dict) or "build" not in spec or service in overridden:
            continue
        try:
            builds.append(_build_of(str(service), spec, env, folder, shown, root))
        except ValueError as e:
            warnings.append((LEFT_OUT, f"{shown}: {service} ({e})"))
    return builds, {str(s) for s in document["services"]}, warnings


def _build_of(service: str, spec: dict, env: dict[str, str], folder: str, shown: str, root: Path) -> ComposeBuild:
    build = spec["build"]
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        raise ValueError("build: expected a path or a mapping")
    if "dockerfile_inline" in build:
        raise ValueError("dockerfile_inline has no file to build from")
    context_raw = interpolate(str(build.get("context", ".")), env)
    if "://" in context_raw or context_raw.startswith("git@"):
        raise ValueError(f"build context {context_raw!r} is remote")
    context = posixpath.normpath(posixpath.join(folder, context_raw))
    if context.startswith("../") or context == ".." or posixpath.isabs(context_raw):
        raise ValueError(f"build context {context_raw!r} is outside the repository")
    dockerfile = posixpath.normpath(interpolate(str(build.get("dockerfile", "Dockerfile")), env))
    if posixpath.isabs(dockerfile) or not (root / context / dockerfile).is_file():
        raise ValueError(f"Dockerfile '{posixpath.join(context, dockerfile)}' not found")
    if posixpath.normpath(posixpath.join(context, dockerfile)).startswith("../"):
        raise ValueError(f"Dockerfile {dockerfile!r} is outside the repository")
    stage = build.get("target")
    image = spec.get("image")
    return ComposeBuild(
        service=service, file=shown, context=context, dockerfile=dockerfile, args=_args(build.get("args"), env),
        stage=interpolate(str(stage), env) if stage else None,
        image=interpolate(str(image), env) if image else None,
        contexts=_contexts(build.get("additional_contexts"), env, folder),
    )


def _args(raw: object, env: dict[str, str]) -> dict[str, str]:
    """`args` as a mapping or a list of `K=V`; a bare `K` takes the environment's value, which
    bakegen leaves out (see the module's note), so it is dropped as compose drops unset ones."""
    pairs: list[tuple[str, object]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for item in raw:
            name, eq, value = str(item).partition("=")
            pairs.append((name, value if eq else None))
    args = {}
    for name, value in pairs:
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args[str(name)] = interpolate(text, env)
    return args


def _contexts(raw: object, env: dict[str, str], folder: str) -> dict[str, str]:
    pairs = raw.items() if isinstance(raw, dict) else (str(i).partition("=")[::2] for i in raw or [])
    contexts = {}
    for name, value in pairs:
        value = interpolate(str(value), env)
        if not ("://" in value or value.startswith(("service:", "target:"))):
            value = posixpath.normpath(posixpath.join(folder, value))
        contexts[str(name)] = value
    return contexts


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation; an unset variable without a default is empty, as compose makes it."""

    def replace(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, word = m.group(3), m.group(4) or ""
        value = env.get(name)
        set_ = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in ("-", ":-"):
            return value if set_ else interpolate(word, env)
        if op in ("+", ":+"):
            return interpolate(word, env) if set_ else ""
        if op in ("?", ":?"):
            if not set_:
                raise ValueError(f"variable {name} is required: {word or 'not set'}")
            return value
        return value or ""

    return _VARIABLE.sub(replace, text)


def read_env_file(path: Path) -> dict[str, str]:
    """A compose `.env`: KEY=VALUE lines, `#` comments, quotes; values may use earlier keys."""
    env: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return env
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            env[key] = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            env[key] = interpolate(value[1:-1], env)
        else:
            env[key] = interpolate(re.sub(r"\s+#.*$", "", value), env)
    return env
