"""The target graph, computed once by `load()` after the last change to the project: which
target builds on which (and the reference that made each link), the order bases first, what is
built on what, and which targets a changed path reaches. Plan, affected, impact, steps, the
graph command, bench and CI read it; nothing derives links a second time."""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from bakegen import dockerignore
from bakegen.dockerfile import external_refs
from bakegen.keys import is_reference
from bakegen.model import BakegenError, Kind, Project, Target
from bakegen.names import normalize_image_ref, repository_name, repository_of
from bakegen.paths import context_folder, join_path, relative_to

TARGET_PREFIX = "target:"
IMAGE_PREFIX = "docker-image://"


def bases_first(needs: Mapping[str, Iterable[str]], what: str = "targets") -> list[str]:
    """Every name after all it needs (`needs[name]`); a cycle is an error naming it. The one
    depth-first walk of the house (targets, groups), with an explicit stack: a chain of any depth
    is fine (no recursion limit)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    order: list[str] = []
    for start in sorted(needs):
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(set(needs.get(start, ()))))]
        while stack:
            base = next(stack[-1], None)
            if base is None:
                done = path.pop()
                state[done] = 2
                order.append(done)
                stack.pop()
            elif state.get(base) == 1:  # on the current path: from there back to it is the cycle
                cycle = [*path[path.index(base):], base]
                raise BakegenError(f"cycle between {what}: {' -> '.join(cycle)}")
            elif base not in state:
                state[base] = 1
                path.append(base)
                stack.append(iter(sorted(set(needs.get(base, ())))))
    return order


# --- what of the repository a build reads ------------------------------------------------------


def local_folder(value: str) -> str | None:
    """The folder a named context's value names (relative to the root, normalised), or None for
    what is no local folder (paths.context_folder: another target, an image, a URL, a git remote)."""
    folder = context_folder(value)
    return None if folder is None else posixpath.normpath(folder)


@dataclass(frozen=True)
class Inputs:
    """The files of the repository a target's build reads: its context (less what the ignore
    file leaves out), its Dockerfile, and its local named contexts."""

    context: str
    dockerfile: str  # from the root, normalised
    named: Mapping[str, str]  # local named context: its key -> its folder

    @classmethod
    def of(cls, target: Target) -> Inputs:
        named = {key: folder for key, value in sorted(target.contexts.items())
                 if (folder := local_folder(value)) is not None}
        return cls(target.context, posixpath.normpath(join_path(target.context, target.dockerfile)),
                   MappingProxyType(named))

    def in_context(self, path: str, rules: list[dockerignore.Rule]) -> str | None:
        """`path` relative to the context when it reaches the build (inside, not ignored)."""
        inside = relative_to(path, self.context)
        return None if inside is None or dockerignore.is_ignored(rules, inside) else inside

    def in_named(self, key: str, path: str) -> bool:
        """Whether `path` is inside the local named context `key`."""
        return key in self.named and relative_to(path, self.named[key]) is not None

    def reached_by(self, path: str, rules: list[dockerignore.Rule]) -> bool:
        return (path == self.dockerfile or self.in_context(path, rules) is not None
                or any(self.in_named(key, path) for key in self.named))


# --- the graph -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetGraph:
    links: Mapping[str, Mapping[str, str]]  # target -> {context key (the reference that links): base}
    order: tuple[str, ...]  # every target after all it builds on
    users: Mapping[str, tuple[str, ...]]  # target -> the targets linking to it directly, by name
    inputs: Mapping[str, Inputs]

    @classmethod
    def of(cls, project: Project) -> TargetGraph:
        """The graph of `project` as it is now; a cycle is an error naming it."""
        links = _links(project)
        order = bases_first({name: found.values() for name, found in links.items()})
        users: dict[str, list[str]] = {name: [] for name in links}
        for name in sorted(links):
            for base in set(links[name].values()):
                users[base].append(name)
        return cls(
            links=MappingProxyType({n: MappingProxyType(found) for n, found in links.items()}),
            order=tuple(order),
            users=MappingProxyType({n: tuple(u) for n, u in users.items()}),
            inputs=MappingProxyType({n: Inputs.of(t) for n, t in sorted(project.targets.items())}),
        )

    def bases(self, name: str) -> set[str]:
        """The targets `name` builds on directly."""
        return set(self.links.get(name, {}).values())

    def edges(self) -> list[tuple[str, str]]:
        """(base, target built on it), sorted."""
        return sorted((base, name) for name, found in self.links.items() for base in set(found.values()))

    def built_on(self, names: Iterable[str]) -> set[str]:
        """`names` plus every target that builds on one of them, transitively."""
        result = set(names)
        queue = deque(result)
        while queue:
            for user in self.users.get(queue.popleft(), ()):
                if user not in result:
                    result.add(user)
                    queue.append(user)
        return result

    def nearest_base(self, name: str, wanted: set[str]) -> str | None:
        """The base of `name` in `wanted` fewest links away (breadth first, in the order the
        Dockerfile names them), if any."""
        queue, seen = deque(self.links.get(name, {}).values()), {name}
        while queue:
            base = queue.popleft()
            if base in wanted:
                return base
            if base not in seen:
                seen.add(base)
                queue.extend(self.links.get(base, {}).values())
        return None

    def reached(self, paths: Iterable[str], rules: Mapping[str, list[dockerignore.Rule]]) -> set[str]:
        """The targets whose build reads one of `paths` (relative to the root); `rules` are
        each target's ignore rules."""
        paths = list(paths)
        return {name for name, inputs in self.inputs.items()
                if any(inputs.reached_by(path, rules.get(name, [])) for path in paths)}


def _links(project: Project) -> dict[str, dict[str, str]]:
    """For each target, the references that name another target: {context key: target}.

    A FROM, `COPY --from` or `RUN --mount from=` names a target by its name, by the image bakegen
    tags it with (`<REGISTRY>/<name>`, any tag), or by the image its compose service gives it;
    a digest-pinned reference names a published image and is never a link. Contexts a user
    declares (`target:X`, or `docker-image://` of such an image) count too.
    """
    by_ref: dict[str, str] = {}
    by_repository: dict[str, str] = {}
    for name, target in sorted(project.targets.items()):
        by_ref.setdefault(normalize_image_ref(name), name)
        for registry in _registries(project.registry):
            by_repository.setdefault(f"{registry}/{repository_name(name)}", name)
        for ref in literal_images(target):
            by_ref.setdefault(normalize_image_ref(ref), name)
    for name, target in sorted(project.targets.items()):  # `quay.io/x/cuda` for a target renamed from cuda/
        folder = posixpath.basename(posixpath.dirname(target.origin)) if ": service " not in target.origin else ""
        for registry in _registries(project.registry) if folder else ():
            by_repository.setdefault(f"{registry}/{repository_name(folder)}", name)
    published = {normalize_image_ref(image) for image in project.image_replacements}

    def linked(ref: str) -> str | None:
        if "@" in ref or normalize_image_ref(ref) in published:  # [images] keeps it the published image
            return None
        key = normalize_image_ref(ref)
        return by_ref.get(key) or by_repository.get(repository_of(key))

    links: dict[str, dict[str, str]] = {}
    for name, target in sorted(project.targets.items()):
        found: dict[str, str] = {}
        for ref in external_refs(target.parsed, target.args, target.stage) if target.parsed else []:
            base = linked(ref)
            if base is not None and base != name:
                found[normalize_image_ref(ref)] = base
        for key, value in target.contexts.items():
            base = value[len(TARGET_PREFIX):] if value.startswith(TARGET_PREFIX) else (
                linked(value[len(IMAGE_PREFIX):]) if value.startswith(IMAGE_PREFIX) else None)
            if base in project.targets and base != name:
                found[key] = base
        links[name] = found
    return links


def literal_images(target: Target) -> list[str]:
    """The image and tags a target is known by that bake variables do not decide (a FROM naming one links)."""
    refs = [target.image] if target.image else []
    image = (target.image or "").split("@")[0]
    refs += [t if is_reference(t) or not image else f"{image}:{t}" for t in target.tags or []]
    return [ref for ref in refs if "${" not in ref]


def _registries(registry: str) -> list[str]:
    """Where the repository's own images live: the registry, and for GitHub's default form
    `ghcr.io/<owner>/<repo>` also `ghcr.io/<owner>` (`ghcr.io/<owner>/<image>` is as common)."""
    registry = normalize_image_ref(registry)
    parts = registry.split("/")
    return [registry, "/".join(parts[:2])] if len(parts) == 3 and parts[0] == "ghcr.io" else [registry]


# --- the loaded project --------------------------------------------------------------------------


@dataclass
class LoadedProject(Project):
    """A project as `load()` leaves it: every change made (config, overrides, kinds), and its
    graph computed once from that. Nothing changes it after."""

    graph: TargetGraph = field(kw_only=True)


def loaded(project: Project) -> LoadedProject:
    """`project` finished: its graph computed, and every target others build on made a base
    (built first, in the `bases` group) unless bakegen.toml says otherwise. Links do not depend
    on kinds, so the graph computed before holds after."""
    graph = TargetGraph.of(project)
    mark_bases(project, graph)
    return LoadedProject(**{f.name: getattr(project, f.name) for f in fields(Project)}, graph=graph)


def mark_bases(project: Project, graph: TargetGraph) -> None:
    for base in sorted({b for name in graph.links for b in graph.bases(name)}):
        if not project.targets[base].kind_given:
            project.targets[base].kind = Kind.BASE
