"""`bakegen lock`: upstream images resolved to digests through a real registry process of the
test's own; emit pins them (as the real `docker buildx bake --print` reads it); `--check` fails
when a tag moved and `--update` moves the lock and the digests of the targets on it."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error

import pytest
from click.testing import CliRunner

from bakegen.cli.main import main
from bakegen.digest import digests
from bakegen.generate import load
from bakegen.lock import parse_lock, read_lock, render_lock
from bakegen.model import BakegenError
from bakegen.run.registry import ImageName, Registry
from tests.helpers import bake_print, write_tree
from tests.local_registry import local_registry, push_image  # noqa: F401 (a fixture)


@pytest.mark.parametrize(("ref", "host", "repository", "reference"), [
    ("python:3.10-slim", "registry-1.docker.io", "library/python", "3.10-slim"),
    ("python", "registry-1.docker.io", "library/python", "latest"),
    ("docker.io/nvidia/cuda:12.1.1-devel-ubuntu22.04", "registry-1.docker.io", "nvidia/cuda",
     "12.1.1-devel-ubuntu22.04"),
    ("ghcr.io/acme/base", "ghcr.io", "acme/base", "latest"),
    ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000", "a/b", "1"),
    ("localhost/x@sha256:" + "a" * 64, "localhost", "x", "sha256:" + "a" * 64),
])
def test_image_references_split_as_registries_read_them(ref, host, repository, reference):
    assert ImageName.parse(ref) == ImageName(host, repository, reference)


class _Response(io.BytesIO):
    def __init__(self, body: bytes, headers: dict[str, str]):
        super().__init__(body)
        self.headers, self.status = headers, 200


def test_a_public_registry_is_asked_for_an_anonymous_token_once_per_scope():
    asked: list[tuple[str, str | None]] = []
    manifest = b'{"schemaVersion": 2}'

    def opener(request, timeout=None):
        asked.append((request.full_url, request.get_header("Authorization")))
        if request.full_url.startswith("https://auth.example/token"):
            return _Response(json.dumps({"token": "t0k"}).encode(), {})
        if request.get_header("Authorization") != "Bearer t0k":
            challenge = 'Bearer realm="https://auth.example/token",service="reg.example",scope="x"'
            raise urllib.error.HTTPError(request.full_url, 401, "no", {"WWW-Authenticate": challenge}, None)
        return _Response(manifest, {"Content-Type": "application/vnd.oci.image.index.v1+json"})

    registry = Registry.for_host("reg.example", opener)
    first = registry.manifest("library/python", "3.10")
    registry.manifest("library/python", "3.11")
    assert first is not None and first.digest.startswith("sha256:") and first.media_type.endswith("index.v1+json")
    assert asked[0] == ("https://reg.example/v2/library/python/manifests/3.10", None)
    assert asked[1][0] == ("https://auth.example/token?service=reg.example&scope=repository%3Alibrary%2Fpython%3Apull")
    assert asked[2:] == [("https://reg.example/v2/library/python/manifests/3.10", "Bearer t0k"),
                         ("https://reg.example/v2/library/python/manifests/3.11", "Bearer t0k")]


def test_a_loopback_registry_is_plain_http_and_any_other_https():
    assert Registry.for_host("127.0.0.1:5000").scheme == "http"
    assert Registry.for_host("localhost:5000").scheme == "http"
    assert Registry.for_host("ghcr.io").scheme == "https"


def test_the_lock_file_reads_back_what_it_wrote():
    locked = {"python:3.10-slim": "sha256:" + "a" * 64, "nvidia/cuda:12.1.1-devel-ubuntu22.04": "sha256:" + "b" * 64}
    assert parse_lock(render_lock(locked)) == locked


@pytest.mark.parametrize(("text", "message"), [
    ("[images\n", "bakegen.lock: not TOML"),
    ('[images]\n"a" = 1\n', "bakegen.lock: images.'a': not a digest"),
    ('[other]\n"a" = "b"\n', "bakegen.lock: expected one table [images]"),
])
def test_a_broken_lock_is_one_line_naming_it(text, message):
    with pytest.raises(BakegenError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_lock(text)


def test_a_lock_linking_out_of_the_repository_is_refused(tmp_path):
    (tmp_path / "outside.lock").write_text('[images]\n')
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "bakegen.lock").symlink_to(tmp_path / "outside.lock")
    with pytest.raises(BakegenError, match="bakegen.lock: .*outside the repository"):
        read_lock(tmp_path / "repo")


def _repo(root, address):
    return write_tree(root, {
        "docker/base/Dockerfile": f"FROM {address}/up/python:3.10\nRUN echo base\n",
        "svc/Dockerfile": "FROM base\nCOPY . /app\n",
        "svc/app.py": "1\n",
    })


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_lock_pins_check_fails_on_a_moved_tag_and_update_moves_it(tmp_path, local_registry):  # noqa: F811
    first = push_image(local_registry, "up/python", "3.10", "first")
    root = _repo(tmp_path, local_registry)
    unlocked = digests(load(root))
    assert unlocked["base"].unlocked == (f"{local_registry}/up/python:3.10",)

    done = _run("lock", str(root))
    assert done.exit_code == 0, done.output
    assert read_lock(root) == {f"{local_registry}/up/python:3.10": first}
    assert (root / "bakegen.lock").read_text().startswith("# Generated by `bakegen lock`")
    locked = digests(load(root))
    assert locked["base"].unlocked == () and locked["base"].digest != unlocked["base"].digest
    assert _run("lock", str(root), "--check").exit_code == 0

    moved = push_image(local_registry, "up/python", "3.10", "second")  # the same tag, re-pushed
    check = _run("lock", str(root), "--check")
    assert check.exit_code == 1
    assert f"moved {first} -> {moved}" in check.stderr
    assert read_lock(root)[f"{local_registry}/up/python:3.10"] == first  # --check writes nothing
    assert digests(load(root)) == locked  # nor does the digest move before the lock does

    assert _run("lock", str(root)).exit_code == 0  # without --update a locked image is kept
    assert read_lock(root)[f"{local_registry}/up/python:3.10"] == first
    assert _run("lock", str(root), "--update").exit_code == 0
    assert read_lock(root)[f"{local_registry}/up/python:3.10"] == moved
    after = digests(load(root))
    assert {n for n in after if after[n].digest != locked[n].digest} == {"base", "svc"}


def test_an_image_the_registry_does_not_have_is_one_line(tmp_path, local_registry):  # noqa: F811
    root = _repo(tmp_path, local_registry)
    done = _run("lock", str(root))
    assert done.exit_code == 2
    assert f"upstream image {local_registry}/up/python:3.10: {local_registry} has no up/python:3.10" in done.stderr
    assert not (root / "bakegen.lock").exists()


def test_emit_pins_each_locked_from_through_a_named_context(tmp_path):
    digest = "sha256:" + "c" * 64
    root = write_tree(tmp_path, {
        "docker/base/Dockerfile": "FROM python:3.10-slim\nRUN echo base\n",
        "other/Dockerfile": "FROM node:18\nCOPY . /x\n",
        "bakegen.lock": render_lock({"python:3.10-slim": digest}),
    })
    assert _run("emit", str(root)).exit_code == 0
    printed = bake_print(root)["target"]
    assert printed["base"]["contexts"] == {"python:3.10-slim": f"docker-image://python:3.10-slim@{digest}"}
    assert "contexts" not in printed["other"]  # not locked: named as it is


def test_a_digest_is_asked_by_head_and_by_get_only_when_no_header_says_it():
    asked: list[str] = []
    body = b'{"schemaVersion": 2}'

    def opener(headers):
        def answer(request, timeout=None):
            asked.append(request.get_method())
            return _Response(b"" if request.get_method() == "HEAD" else body, headers)
        return answer

    digest = "sha256:" + "f" * 64
    assert Registry("r:5000", opener({"Docker-Content-Digest": digest})).digest_of("a/b", "1") == digest
    assert asked == ["HEAD"]
    asked.clear()
    assert Registry("r:5000", opener({})).digest_of("a/b", "1") == "sha256:" + hashlib.sha256(body).hexdigest()
    assert asked == ["HEAD", "GET"]


def test_lock_check_with_nothing_to_lock_and_no_file_is_current(tmp_path):
    root = write_tree(tmp_path, {"svc/Dockerfile": "FROM scratch\nCOPY . /x\n"})
    done = _run("lock", str(root), "--check")
    assert done.exit_code == 0 and "is current (0 images)" in done.stderr
    assert not (root / "bakegen.lock").exists()


def test_a_private_repository_is_one_line_saying_why():
    def opener(request, timeout=None):
        raise urllib.error.HTTPError(request.full_url, 401, "no", {}, None)

    with pytest.raises(BakegenError, match=r"HTTP 401 \(bakegen asks anonymously"):
        Registry.for_host("ghcr.io", opener).manifest("acme/private", "latest")
