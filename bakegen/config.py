"""Lay a checked `bakegen.toml` over what discovery found: the project bakegen plans from."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path
from typing import Any

from bakegen import schema
from bakegen.contexts import SOURCE_NOT_FOUND, SOURCE_UNRESOLVED, infer_context
from bakegen.discover import NO_DOCKERFILE, discover, kind_of
from bakegen.dockerfile import Unresolved, read_dockerfile, resolved_images
from bakegen.model import BakegenError, Compression, Project, Target
from bakegen.names import RESERVED_NAMES, normalize_image_ref, repository_name, repository_of
from bakegen.paths import Outside, context_folder, exists, is_file, join_path, within
from bakegen.schema import CONFIG_FILE, load_config
from bakegen.variables import ExpansionError

__all__ = ["CONFIG_FILE", "apply_config", "check_bases_resolve", "load_config", "load_project"]


def apply_config(project: Project, config: dict[str, Any], shown: str) -> None:
    """Lay the validated config over the discovered project (in place); then the checks that
    take more than one key or the project itself."""
    project.config_file = shown
    schema.apply(project, config)
    schema.apply(project.cache, config)
    schema.apply(project.ci, config)
    schema.apply(project.defaults, config)
    if project.cache.compression == Compression.GZIP and (project.cache.compression_level or 0) > 9:
        raise BakegenError(f"{shown}: cache.compression_level: gzip levels go from 0 to 9")
    if project.cache.compression == Compression.UNCOMPRESSED and project.cache.compression_level is not None:
        raise BakegenError(f"{shown}: cache.compression_level: no level for uncompressed layers")
    if project.ci.smoke_target and project.ci.smoke_target not in project.targets:
        raise BakegenError(f"{shown}: ci.smoke_target: no target '{project.ci.smoke_target}'")
    for name, fields in config["targets"].items():
        _apply_target(project, name, fields, f"{shown}: targets.{name}")
    for name in [n for n, t in project.targets.items() if t.matrix]:
        expand_matrix(project, name, f"{shown}: targets.{name}.matrix")
    for name in project.overlay_only:  # its cache would be given twice, or to a group
        if name in project.targets or name in project.groups or name in RESERVED_NAMES:
            raise BakegenError(f"{shown}: project.overlay_only: '{name}' names a target bakegen builds, a group "
                               "or one of bakegen's names")
    apply_defaults(project)


def expand_matrix(project: Project, name: str, where: str) -> None:
    """A target with a matrix becomes one target per variant (`base-cuda12-4`) and a group of its
    name. Expanded here, once: every later step (links, caches, graph, affected, impact, CI) sees
    variants as the targets they are, and bake's --print of them is what a `matrix` block gives."""
    target = project.targets.pop(name)
    keys = list(target.matrix)
    variants: list[str] = []
    for values in itertools.product(*(target.matrix[k] for k in keys)):
        chosen = dict(zip(keys, values, strict=True))
        variant = "-".join([name, *(f"{k}{re.sub(r'[^A-Za-z0-9_-]', '-', v)}" for k, v in chosen.items())])
        if variant in project.targets or variant in project.groups:
            raise BakegenError(f"{where}: variant '{variant}' names another target or group")

        def put(text: str, chosen: dict[str, str] = chosen) -> str:  # `${cuda}` is this variant's value
            return re.sub(r"\$\{(" + "|".join(map(re.escape, keys)) + r")\}", lambda m: chosen[m.group(1)], text)

        suffix = "-".join(f"{k}{v}" for k, v in chosen.items())
        copy = dataclasses.replace(
            target, name=variant, matrix={}, origin=f"{target.origin or CONFIG_FILE}, variant {suffix} of {name}",
            args={k: put(v) for k, v in target.args.items()},
            contexts={k: put(v) for k, v in target.contexts.items()},
            image=put(target.image) if target.image else "${lower(REGISTRY)}/" + repository_name(name),
            tags=[put(t) for t in target.tags] if target.tags is not None else [f"${{TAG}}-{suffix}"],
            groups=list(target.groups))
        project.targets[variant] = copy
        variants.append(variant)
    if name in project.groups:
        raise BakegenError(f"{where}: '{name}' would name the group of its variants; a group has that name")
    project.groups[name] = variants


def apply_defaults(project: Project) -> None:
    """[defaults] laid under every target: its own args win, its own platforms replace them. Done
    here, once, so FROM lines resolve, links and caches are planned with the args bake will pass."""
    for target in project.targets.values():
        target.args = {**project.defaults.args, **target.args}
        if not target.platforms and project.defaults.platforms:
            target.platforms = list(project.defaults.platforms)
            target.platforms_from_defaults = True


def _apply_target(project: Project, name: str, fields: dict[str, Any], where: str) -> None:
    context = fields.get("context", project.targets[name].context if name in project.targets else ".")
    if "context" in fields:
        _inside(project.root, fields["context"], ".", f"{where}.context")
    if "dockerfile" in fields:
        _inside(project.root, fields["dockerfile"], context, f"{where}.dockerfile")
    for key, value in fields.get("contexts", {}).items():
        if (folder := context_folder(value)) is not None:
            _inside(project.root, folder, ".", f"{where}.contexts.{key}")
    target = project.targets.get(name)
    if target is None:
        if "context" not in fields:
            raise BakegenError(f"{where}: no folder makes this target; set 'context' to add one")
        context = fields["context"]
        target = project.targets[name] = Target(name=name, kind=kind_of(context), context=context)
    schema.apply(target, fields, prefix="targets.<name>.")
    target.kind_given = target.kind_given or "kind" in fields
    if "args" in fields and not {"context", "dockerfile"} & fields.keys():
        _infer_again(project, target)
    if target.parsed is None or "context" in fields or "dockerfile" in fields:
        shown = join_path(target.context, target.dockerfile)
        path = project.root / shown
        if not is_file(path):
            raise BakegenError(f"{where}: Dockerfile '{shown}' not found")
        target.parsed = read_dockerfile(path, shown)
        if "stage" not in fields:  # the last, as `docker build` builds
            target.stage = None
    if target.stage and target.stage not in target.parsed.stage_names():
        stages = ", ".join(sorted(target.parsed.stage_names())) or "none"
        raise BakegenError(f"{where}.stage: no stage '{target.stage}' in the Dockerfile (stages: {stages})")


def _infer_again(project: Project, target: Target) -> None:
    """A Dockerfile's context inferred again with the configured build args (a `COPY ${APP}/x`
    says where it reads only once APP has a value); compose's and build files' contexts stand."""
    if target.parsed is None or not target.origin or ": service " in target.origin or target.decided:
        return
    folder, _, filename = target.origin.rpartition("/")
    stale = (SOURCE_NOT_FOUND, SOURCE_UNRESOLVED)
    project.warnings = [w for w in project.warnings if not (w[0] in stale and w[1].startswith(f"{target.origin}:"))]
    target.context, target.dockerfile, warnings = infer_context(project.root, folder or ".", filename, target.parsed,
                                                                target.args)
    project.warnings += warnings


def _inside(root: Path, path: str, folder: str, key: str) -> None:
    """The path rule (`paths.within`) for a path of the config: an error naming the key."""
    try:
        within(root, path, folder)
    except Outside as e:
        raise BakegenError(f"{key}: {e}; bake would send files from elsewhere, which a clone of the "
                           "repository does not have") from None


def load_project(root: Path, config_path: Path | None = None, registry: str | None = None) -> Project:
    """Discovery, then `bakegen.toml` (the given one, or the one at the root if present), then
    `registry` (checked) over the config's."""
    if not root.is_dir():
        raise BakegenError(f"{root}: not a folder")
    path = config_path if config_path is not None else root / CONFIG_FILE
    shown = str(config_path) if config_path is not None else CONFIG_FILE
    config = None
    if config_path is None and path.is_symlink():
        _inside(root, CONFIG_FILE, ".", CONFIG_FILE)
    if config_path is not None or exists(path):
        if not path.is_file():
            raise BakegenError(f"{shown}: {'not a regular file' if path.exists() else 'no such file'}")
        config = load_config(path, shown)
    project = discover(root, config["project"].get("exclude") if config else None,
                       config["names"] if config else None,
                       find=config["project"].get("discover", True) if config else True)
    if config is not None:
        apply_config(project, config, shown)
    if registry is not None:
        project.registry = registry
    if not project.targets:
        raise BakegenError(f"{root}: {NO_DOCKERFILE}")
    check_bases_resolve(project)
    return project


# A FROM whose value no build arg gives, or a placeholder (`ARG BASE_IMG=<base>`): that target left out.
FROM_WITHOUT_VALUE = "targets left out because a FROM they build on names no image"
PLACEHOLDER_KEPT = "FROM placeholders that name no image: the build fails until the ARG is set"
BASE_GUESSED = (f"FROM lines without a value taken as the repository's own image they name (set the ARG in "
                f"{CONFIG_FILE} as [targets.<name>.args] to change)")
# What an image reference may hold (a tag, a digest, a port): a placeholder such as `<base>` holds more.
_NOT_IN_A_REFERENCE = re.compile(r"[^A-Za-z0-9._:/@+-]")
# `$X`, `${X}`, `$X/rest`, `${X}/rest`: a FROM whose registry part (or all) is one ARG.
_ARG_FROM = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?(?:/([^$]*))?")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9][A-Za-z0-9._/-]*)>")
MAX_GUESSES = 5  # ARGs filled per target, a bound on the retries


def check_bases_resolve(project: Project) -> None:
    """Every FROM of a built stage names an image once its ARGs are expanded, as BuildKit will
    expand them; else the build fails later with `base name (${X}) should not be blank` and no
    word of why. Where such a FROM names one of the repository's own images (`${IMAGE_REPO}/base`,
    a placeholder `ARG BASE_IMG=<jupyter>`), the ARG is given that image and a warning says so. A
    target whose FROM has no value is left out with a warning naming the file, line, ARG and key,
    so one Dockerfile never stops the rest (when it is the only one, an error); one whose FROM is
    a placeholder naming nothing here (`<ubuntu>`) is kept, with a warning saying what to set."""
    guessed: dict[str, dict[str, str]] = {}  # target -> {ARG: the target its value names}
    placeholders: dict[str, str] = {}
    for _ in range(len(project.targets) + 1):  # each round leaves out one target at least
        problems: dict[str, str] = {}
        for name in sorted(project.targets):
            target = project.targets[name]
            for arg, other in list(guessed.get(name, {}).items()):  # a guess naming a target left out
                if other not in project.targets:
                    del guessed[name][arg], target.args[arg]
            if target.parsed is None:
                continue
            for _ in range(MAX_GUESSES + 1):
                problem, placeholder, guess = _unresolved_base(project, name)
                if guess is None or guess[0] in target.args:
                    break
                target.args[guess[0]] = project.registry if guess[2] else guess[1]
                guessed.setdefault(name, {})[guess[0]] = guess[1]
            if problem:
                problems[name] = problem
            if placeholder:
                placeholders[name] = placeholder
        if not problems:
            break
        if len(problems) == len(project.targets):
            raise BakegenError(next(iter(problems.values())))
        for name, problem in problems.items():
            del project.targets[name]
            project.warnings.append((FROM_WITHOUT_VALUE, problem))
    for name, args in sorted(guessed.items()):
        if name in project.targets:
            target = project.targets[name]
            shown = join_path(target.context, target.dockerfile)
            said = [f"{arg} = {target.args[arg]!r}" for arg in sorted(args)]
            project.warnings += [(BASE_GUESSED, f"{shown}: {s}") for s in said]
            target.decided = ", ".join([*filter(None, [target.decided]), *(f"FROM arg {s} (image of target "
                                                                           f"{args[s.split(' ')[0]]})" for s in said)])
    project.warnings += [(PLACEHOLDER_KEPT, p) for n, p in sorted(placeholders.items()) if n in project.targets]


def _unresolved_base(project: Project, name: str) -> tuple[str, str, tuple[str, str, bool] | None]:
    """Why the target must be left out ("" when it need not), what placeholder it keeps ("" when
    none), and an ARG value that would make a FROM name another target: (ARG, that target, whether
    the value is the registry (`${IMAGE_REPO}/base`) rather than the target's name)."""
    target = project.targets[name]
    assert target.parsed is not None
    shown = join_path(target.context, target.dockerfile)
    try:
        for stage, image in resolved_images(target.parsed, target.args, target.stage):
            if image is not None and _NOT_IN_A_REFERENCE.search(image):
                arg = _ARG_FROM.fullmatch(stage.raw)
                named = _PLACEHOLDER.fullmatch(image)
                other = _target_named(project, named.group(1), name) if named else None
                guess = (arg.group(1), other, False) if arg and other and not arg.group(2) else None
                which = arg.group(1) if arg else "NAME"
                return "", (f"{shown}:{stage.line}: FROM {stage.raw[:80]} is {image[:80]!r}; set "
                            f'[targets.{name}.args] {which} = "..." in {CONFIG_FILE}'), guess
    except Unresolved as e:
        line = e.stage.line if e.stage else 1
        raw = e.stage.raw if e.stage else ""
        said = f" ({e.message!r}, says the Dockerfile)" if e.message else ""
        arg = _ARG_FROM.fullmatch(raw)
        guess = None
        if arg and arg.group(1) == e.name and arg.group(2):  # `${IMAGE_REPO}/base`: the registry part
            last = repository_of(normalize_image_ref(arg.group(2))).rsplit("/", 1)[-1]
            other = _target_named(project, last, name)
            guess = (e.name, other, True) if other else None
        return (f"{shown}:{line}: FROM {raw[:80]}: ARG {e.name} has no value{said}; set it in "
                f'{CONFIG_FILE} as [targets.{name}.args] {e.name} = "..."'), "", guess
    except ExpansionError as e:
        raise BakegenError(f"{shown}: target {name}: {e}") from None
    return "", "", None


def _target_named(project: Project, wanted: str, besides: str) -> str | None:
    """The target (not `besides`) whose name, or image repository, is `wanted`."""
    wanted = wanted.lower()
    return next((n for n in sorted(project.targets) if n != besides and wanted in (n.lower(), repository_name(n))),
                None)
