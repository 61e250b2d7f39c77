"""Commands of content-addressed images: digest (each target's inputs as one digest) and lock
(upstream images pinned by digest in bakegen.lock)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import bakegen
from bakegen.cli.common import EXIT_CHECK_FAILED, config_option, echo, echo_text, plural, project_root, say


@click.command()
@project_root
@click.argument("targets", nargs=-1)
@config_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: `<digest>  <target>` lines; json: an object of target -> \"sha256:<hex>\".")
def digest(root: Path, targets: tuple[str, ...], config: Path | None, output_format: str) -> None:
    """One digest per target over every input of its build, the same in any clone on any machine.

    It covers the Dockerfile's instructions (as BuildKit reads them; not its comments or line
    numbers), build args, platforms, stage, labels, secret ids, the files the context sends after
    the ignore file (path, content, executable bit; symlinks as links), named contexts, the
    digests of the targets it builds on, and upstream images' digests from bakegen.lock (an
    upstream image bakegen.lock does not pin enters by its name: said on stderr).
    `bakegen build --reuse` builds only targets whose digest names no image in the registry.
    """
    result = bakegen.digest(bakegen.DigestOptions(root=root, config=config, targets=targets), say)
    if output_format == "json":
        echo_text(json.dumps({name: d.digest for name, d in result.digests.items()}, indent=2) + "\n")
    else:
        for name, found in result.digests.items():
            echo(f"{found.digest}  {name}")
    if result.unlocked:
        say(f"{plural(len(result.unlocked), 'upstream image')} not locked, digests use the name only "
            f"(`bakegen lock` pins them): {', '.join(result.unlocked)}")


@click.command()
@project_root
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a tag moved upstream or the lock is stale.")
@click.option("--update", is_flag=True, help="Ask the registry again for every image and move the lock to it.")
def lock(root: Path, config: Path | None, check: bool, update: bool) -> None:
    """Pin every upstream image (FROM, COPY --from) to the digest its tag names now, in PATH/bakegen.lock.

    Each image's registry is asked over HTTPS (anonymously: public images; plain HTTP for a
    loopback registry). `bakegen emit` then pins each FROM to its digest through a named
    context (`docker-image://<image>@<digest>`), and `bakegen digest` covers it. An image
    already locked is kept unless --update; --check asks again and fails when a tag moved.
    """
    if check and update:
        raise click.UsageError("--check and --update exclude each other")
    result = bakegen.lock(bakegen.LockOptions(root=root, config=config, check=check, update=update), say)
    for image, (before, now) in sorted(result.moved.items()):
        echo(f"{image}: moved {before} -> {now}", err=True)
    for image in result.added:
        echo(f"{image}: {'not locked' if check else 'locked'} ({result.locked[image]})", err=True)
    for image in result.dropped:
        echo(f"{image}: locked, but no Dockerfile names it{'' if check else ' (dropped)'}", err=True)
    if check:
        outcome = result.file.outcome
        if outcome.failed:
            fix = "bakegen lock --update" if outcome == "stale" else "bakegen lock"
            echo(f"{result.file.path}: {outcome}; run `{fix}`", err=True)
            sys.exit(EXIT_CHECK_FAILED)
        echo(f"{result.file.path} is current ({plural(len(result.locked), 'image')})", err=True)
    else:
        echo(f"wrote {result.file.path} ({plural(len(result.locked), 'image')})", err=True)
