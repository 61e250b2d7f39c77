"""Each command's body: call the library with the options parsed, print what it returns (the
words for a result are bakegen/app/text.py's; every line goes through common.echo)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import bakegen
from bakegen.app import text
from bakegen.cli.common import echo, echo_lines, fail_unless, say, told
from bakegen.reads import replay


def printing(function: str, lines: Callable[[Any, Any], Iterable[str]], ok: Callable[[Any], bool] = lambda r: True,
             says: bool = False, err: bool = False) -> Callable[[Any], None]:
    """A command that prints its result's lines (on stderr: `err`); exit 1 unless `ok` of its result."""

    def show(o: Any) -> None:
        result = getattr(bakegen, function)(*(o, say) if says else (o,))
        echo_lines(lines(result, o), err=err)
        fail_unless(ok(result))

    return show


graph = printing("graph", lambda r, o: r.text.splitlines())
affected = printing("affected", lambda r, o: [json.dumps(r.targets)] if o.format == "json" else r.targets)
impact = printing("impact", lambda r, o: text.impact_lines(r, o.format))
doctor = printing("doctor", lambda r, o: text.doctor_lines(r), lambda r: r.ok)
builder_up = printing("builder_up", lambda r, o: [r.name], says=True)
builder_status = printing("builder_status", lambda r, o: text.status_lines(r), lambda r: r.info.running)
builder_down = printing("builder_down", lambda r, o: [], says=True)
ci_plan = printing("ci_plan", lambda r, o: [f"bakegen ci-plan: {r.reason}",
                                            *(f"  {k}={v}" for k, v in {**r.variables, **r.outputs}.items())])
ci_tags = printing("ci_tags", lambda r, o: (f"bakegen ci-tags: {image} -> {tag}" for image, tag in r.tagged))
digest = printing("digest", lambda r, o: text.digest_lines(r, o.format), says=True)
lock = printing("lock", lambda r, o: text.lock_lines(r, o.check), lambda r: not r.file.outcome.failed, True, True)
ci_lint = printing("ci_lint", lambda r, o: r.problems, lambda r: not r.problems, says=True)


def emit(o: Any) -> None:
    if replay(o, say) is None:  # asked before the readers are imported: nothing they read has changed
        return told(bakegen.emit(o, say), "bakegen emit")
    echo(f"{o.destination} is current (nothing it reads changed)", err=True)


def ci(o: Any) -> None:
    told(bakegen.ci(o), "bakegen ci")


def init(o: Any) -> None:
    echo_lines(text.init_lines(bakegen.init(o, say)), err=True)


def build(o: Any) -> None:
    tell = text.TellBuild(lambda line: echo(line, err=True), say, o.quiet)
    reused = bakegen.build_reused(o, tell, say) if o.reuse else None  # what no image of its inputs exists for
    echo_lines(text.reuse_lines(reused) if reused else [], err=True)
    result = reused.build if reused else bakegen.build(o, tell)
    if result is None:
        return
    if not result.ok:
        say(f"build failed: {result.calls[-1].result.error_line()}")
    fail_unless(result.ok)
    if result.rotation is not None:
        echo(f"local cache rotated for {len(result.rotation.rotated)} targets", err=True)
        echo_lines(text.rotation_lines(result.rotation)[1:], err=True)


def cache_rotate(o: Any) -> None:
    first, *warnings = text.rotation_lines(bakegen.rotate_cache(o))
    echo(first)
    echo_lines(warnings, err=True)


def bench(o: Any) -> None:
    from bakegen.bench.api import run_on_terminal

    outcome = run_on_terminal(o)
    for verdict in outcome.breached:
        say(f"budget breached: {verdict.budget}: {verdict.measured}, {verdict.detail}")
    fail_unless(not outcome.breached)
