"""What is worth telling a user about their inputs, one line per kind of finding."""

from __future__ import annotations

from bakegen import dockerignore
from bakegen.model import Project
from bakegen.paths import Unreadable, is_file, join_path

SHOWN_IN_A_WARNING = 6  # names listed in one summary line before "and N more"


def project_warnings(project: Project) -> list[str]:
    """What is worth telling about the inputs, one line per kind of finding: what discovery could
    not settle, ignore files missing or lacking what their context's kind needs, `# syntax=`
    lines. Reads every context's ignore file, so only `emit` asks for it."""
    missing, lacking, malformed, unread = [], [], [], []
    files = {(dockerignore.ignore_file(project.root, t.context, t.dockerfile), t.context)
             for t in project.targets.values()}  # a context shared by many targets is told once
    for path, context in sorted(files):
        shown = path.relative_to(project.root).as_posix()
        if not is_file(path):
            missing.append(context)
            continue
        wanted = dockerignore.recommended_for(dockerignore.kinds_of(project.root / context))
        try:
            rules = dockerignore.read(project.root / context, path, project.root)
        except Unreadable as e:  # a link out of the repository: never read
            unread.append(str(e))
            continue
        malformed += dockerignore.problems(rules, shown)
        entries = dockerignore.missing_recommended(rules, wanted)
        if entries:
            lacking.append(f"{shown} ({' '.join(entries)})")
    syntax = [f"{join_path(t.context, t.dockerfile)} ({t.parsed.syntax})"
              for t in sorted(project.targets.values(), key=lambda t: t.name) if t.parsed and t.parsed.syntax]
    by_kind: dict[str, list[str]] = {}
    for kind, item in project.warnings:
        by_kind.setdefault(kind, []).append(item)
    warnings = [f"{kind}: {_listed(items)}" for kind, items in by_kind.items()]
    if malformed:
        warnings.append(f"{dockerignore.MALFORMED}: {_listed(malformed)}")
    if unread:
        warnings.append(f"ignore files not read: {_listed(unread)}")
    if missing:
        warnings.append(f"no .dockerignore for {_listed(sorted(set(missing)))}: every file there is sent to the build")
    if lacking:
        warnings.append(f"ignore files lacking entries for what their context builds: {_listed(lacking)}")
    if syntax:
        warnings.append(f"`# syntax=` pulls a frontend image at every build (a registry outage or an air-gapped "
                        f"runner fails it); drop it unless needed: {_listed(syntax)}")
    return warnings


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_IN_A_WARNING])
    more = len(items) - SHOWN_IN_A_WARNING
    return shown + (f" and {more} more" if more > 0 else "")
