"""Where a repository states its builds outside compose: `docker build -f X CTX` (also `docker
buildx build`, `podman build`, `--target S`) in Makefiles, shell scripts and CI workflows, and
`docker/build-push-action`'s `context:`/`file:`. Read as evidence for a Dockerfile's context and
stage, below compose and bakegen.toml. Every line is split by hand (no regex over repository text
beyond anchored literals), and files and lines are bounded in size and number.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from bakegen.paths import Outside, Unreadable, inside, is_file, read_text, within

MAX_FILE_CHARS = 512_000  # a build script longer than this is no build script
MAX_LINE_CHARS = 4_096  # a physical line, and a command joined from continuations (cut there)
MAX_FILES = 200
MAX_EVIDENCE = 2_000  # builds kept in all; each Dockerfile is compared with each
MAX_WORDS_BACK = 64  # how far before `-f` a command's `build` word is looked for
# Options of `docker build` / `buildx build` / `podman build` that take a value in the next word.
_WITH_VALUE = frozenset({
    "-t", "--tag", "--build-arg", "--platform", "--cache-from", "--cache-to", "--label", "--secret", "--ssh",
    "--output", "-o", "--progress", "--network", "--env", "--iidfile", "--metadata-file", "--builder",
    "--add-host", "--shm-size", "--ulimit", "--build-context", "--annotation", "--attest", "--allow",
    "--call", "--cgroup-parent", "--memory", "--cpu-shares", "--isolation", "--layers", "--format",
    "--jobs", "--os", "--arch", "--variant", "--volume", "-v", "--from", "--authfile", "--creds",
    "--ignorefile", "--squash-all", "--timestamp", "--sign-by", "--manifest",
})


@dataclass(frozen=True)
class Evidence:
    """One build a file states: its Dockerfile (relative to the root; a part holding a variable
    matches any one folder name), context and stage (None where the file does not say), and where."""

    dockerfile: str
    context: str | None
    stage: str | None
    source: str  # `file:line`

    def matches(self, path: str) -> bool:
        want, have = self.dockerfile.split("/"), path.split("/")
        return len(want) == len(have) and all("$" in w or w == h for w, h in zip(want, have, strict=True))


def evidence_files(root: Path, files: list[str]) -> list[str]:
    """Of the repository's files (relative paths), those that may state builds."""
    wanted = []
    for path in files:
        name = posixpath.basename(path)
        if (name in ("Makefile", "makefile", "GNUmakefile") or name.endswith((".mk", ".sh"))
                or (path.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")))):
            wanted.append(path)
    return sorted(wanted)[:MAX_FILES]


def read_evidence(root: Path, files: list[str]) -> list[Evidence]:
    """The builds stated by `files` (see `evidence_files`); a file that cannot be read says nothing."""
    found: list[Evidence] = []
    for shown in files:
        if len(found) >= MAX_EVIDENCE:
            break
        if not inside(root, shown):  # a link out of the repository: not the repository's word
            continue
        try:
            text = read_text(root / shown, shown)[:MAX_FILE_CHARS]
        except Unreadable:
            continue
        folder = posixpath.dirname(shown) or "."
        workflow = shown.startswith(".github/workflows/")
        found += _from_commands(root, text, shown, "." if workflow else folder)
        if workflow:
            found += _from_build_push_action(root, text, shown)
    return found[:MAX_EVIDENCE]


def _lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with `\\` continuations joined."""
    joined, parts, start = [], [], 0
    for number, line in enumerate(text.splitlines(), 1):
        line = line[:MAX_LINE_CHARS]
        if not parts:
            start = number
        if line.rstrip().endswith("\\") and sum(map(len, parts)) < MAX_LINE_CHARS:
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        joined.append((start, " ".join(parts)[:MAX_LINE_CHARS]))
        parts = []
    return joined


def _from_commands(root: Path, text: str, shown: str, folder: str) -> list[Evidence]:
    """Commands naming a Dockerfile with `-f`/`--file` (`docker build`, `buildx build`, `podman
    build`, a Makefile's `$(OCI_BUILD)`, a script's array of arguments): the words after the last
    `build` before it (or from `-f` on) read as that command's."""
    found = []
    for number, line in _lines(text):
        if len(found) >= MAX_EVIDENCE:
            break
        words = [w for w in line.translate(_SEPARATORS).replace("&&", " ; ").split()
                 if w not in ("(", ")") and not w.endswith("=(")]  # a shell array's brackets
        for i, word in enumerate(words):
            name, eq, value = word.partition("=")
            if word == "build" and i and words[i - 1] in _BUILDERS:  # `docker build [...] CTX`
                start = i + 1
            elif name in ("-f", "--file"):
                value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
                if not _names_a_dockerfile(value):
                    continue
                start = next((j + 1 for j in range(i - 1, max(i - MAX_WORDS_BACK, 0) - 1, -1)
                              if words[j] in ("build", ";")), i)
            else:
                continue
            dockerfile, context, stage = _build_words(words[start:])
            evidence = _placed(root, folder, dockerfile, context, stage, f"{shown}:{number}")
            if evidence is not None:
                found.append(evidence)
            break  # one build per line
    return found


_BUILDERS = frozenset({"docker", "podman", "buildx", "buildah", "nerdctl"})
# Quotes and commas only separate words here (`("-f" "x/Containerfile" ".")`).
_SEPARATORS = str.maketrans({'"': " ", "'": " ", ",": " ", ";": " ; "})


def _names_a_dockerfile(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return "dockerfile" in name or "containerfile" in name


def _build_words(words: list[str]) -> tuple[str | None, str | None, str | None]:
    """The -f file, the context (the positional word) and the --target of one build command."""
    dockerfile = context = stage = None
    i = 0
    while i < len(words) and words[i] not in (";", "|", "||", ">", "2>&1"):
        word = words[i]
        name, eq, value = word.partition("=")
        if name in ("-f", "--file"):
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            dockerfile = value or None
            i += 1 if eq else 2
            continue
        if name == "--target":
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            stage = value if value and "$" not in value else None
            i += 1 if eq else 2
            continue
        if word.startswith("-"):
            i += 2 if (name in _WITH_VALUE and not eq) else 1
            continue
        context = word
        i += 1
    return dockerfile, context, stage


def _placed(root: Path, folder: str, dockerfile: str | None, context: str | None, stage: str | None,
            source: str) -> Evidence | None:
    """The evidence with paths relative to the root: a Makefile runs from its folder, a script
    from its folder or the root (whichever holds the Dockerfile it names)."""
    if context is not None and ("://" in context or context.startswith("git@") or context == "-"):
        return None
    if context is not None and "$" in context:
        context = None
    for base in dict.fromkeys([folder, "."]):
        ctx = _inside(root, context or ".", base)
        if ctx is None:
            continue
        file = posixpath.normpath(posixpath.join(ctx, dockerfile or "Dockerfile")) if not (
            dockerfile or "").startswith("/") else None
        if file is None or file.startswith(".."):
            continue
        if "$" in file or is_file(root / file):  # never raises: a name too long is no file
            return Evidence(file, ctx if context is not None else None, stage, source)
    return None


def _inside(root: Path, path: str, folder: str) -> str | None:
    try:
        return within(root, path, folder)
    except Outside:
        return None


def _from_build_push_action(root: Path, text: str, shown: str) -> list[Evidence]:
    """`uses: docker/build-push-action` steps: their `context:`, `file:` and `target:` (read line by
    line; a value holding `${{` is left out)."""
    found = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if "docker/build-push-action" not in line[:MAX_LINE_CHARS]:
            continue
        indent = len(line) - len(line.lstrip(" -"))
        values: dict[str, str] = {}
        for follow in lines[index + 1:index + 60]:
            body = follow.strip()
            if body.startswith("-") and len(follow) - len(follow.lstrip(" ")) <= indent:
                break  # the next step
            key, colon, value = body.partition(":")
            if colon and key in ("context", "file", "target"):
                values[key] = value.strip().strip("\"'")
        context = values.get("context")
        if context is not None and ("${{" in context or "://" in context):
            context = None
        file = values.get("file")
        if file is not None and "${{" in file:
            continue
        ctx = _inside(root, context or ".", ".")
        if ctx is None:
            continue
        # The action's `file` is relative to the workspace (the root), not to the context.
        path = posixpath.normpath(file) if file else posixpath.join(ctx, "Dockerfile")
        stage = values.get("target") if "${{" not in values.get("target", "${{") else None
        if is_file(root / path):
            found.append(Evidence(path, ctx if context is not None else None, stage, f"{shown}:{index + 1}"))
    return found
