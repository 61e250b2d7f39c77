"""The registry client on a stand-in opener (no registry): paging, sizes, deletes, errors."""

from __future__ import annotations

import io
import json
import urllib.error

import pytest

from bakegen.model import BakegenError
from bakegen.run.registry import Registry


class Response(io.BytesIO):
    def __init__(self, body: object = None, status: int = 200, headers: dict[str, str] | None = None):
        super().__init__(json.dumps(body).encode() if body is not None else b"")
        self.status = status
        self.headers = headers or {}


class Answers:
    """A stand-in for urlopen: (method, path) -> a Response or an HTTP status to fail with."""

    def __init__(self, answers: dict[tuple[str, str], object]):
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def __call__(self, request, timeout=None):
        key = (request.get_method(), request.full_url.removeprefix("http://r:5000/v2/"))
        self.asked.append(key)
        answer = self.answers.get(key, 404)
        if isinstance(answer, int):
            raise urllib.error.HTTPError(request.full_url, answer, "no", {}, None)
        return answer


def test_the_catalog_is_read_page_after_page_and_filtered_by_prefix():
    first = [f"a/{i:04}" for i in range(1000)]
    opener = Answers({("GET", "_catalog?n=1000"): Response({"repositories": first}),
                      ("GET", "_catalog?n=1000&last=a/0999"): Response({"repositories": ["b/x", "bx"]})})
    assert Registry("r:5000", opener).repositories("b/") == ["b/x"]
    assert len(opener.asked) == 2


def test_stored_bytes_counts_each_blob_once_across_an_index():
    layer = {"digest": "sha256:l", "size": 100}
    child = {"config": {"digest": "sha256:c", "size": 7}, "layers": [layer, {"digest": "sha256:m", "size": 5}]}
    opener = Answers({
        ("GET", "cache/tags/list"): Response({"tags": ["one", "two"]}),
        ("GET", "cache/manifests/one"): Response({"manifests": [{"digest": "sha256:k"}]}),
        ("GET", "cache/manifests/sha256:k"): Response(child),
        ("GET", "cache/manifests/two"): Response({"layers": [layer]}),
    })
    assert Registry("r:5000", opener).stored_bytes("cache") == 112


def test_delete_removes_each_manifest_once_and_says_when_deletion_is_off():
    def answers(delete: object) -> Answers:
        return Answers({("GET", "_catalog?n=1000"): Response({"repositories": ["p/a"]}),
                        ("GET", "p/a/tags/list"): Response({"tags": ["t1", "t2"]}),
                        ("HEAD", "p/a/manifests/t1"): Response(headers={"Docker-Content-Digest": "sha256:d"}),
                        ("HEAD", "p/a/manifests/t2"): Response(headers={"Docker-Content-Digest": "sha256:d"}),
                        ("DELETE", "p/a/manifests/sha256:d"): delete})

    opener = answers(Response(status=202))
    assert Registry("r:5000", opener).delete_repositories("p/") == 1
    assert opener.asked.count(("DELETE", "p/a/manifests/sha256:d")) == 1
    with pytest.raises(BakegenError, match=r"registry r:5000: cannot delete p/a@sha256:d: HTTP 405 \(is deletion"):
        Registry("r:5000", answers(405)).delete_repositories("p/")


def test_reachable_and_errors_name_the_registry():
    assert Registry("r:5000", Answers({("GET", ""): 401})).reachable() == (True, "HTTP 401")  # there, wants a login
    assert Registry("r:5000", Answers({})).reachable() == (False, "HTTP 404")
    assert Registry("r:5000", Answers({})).tags("gone") == []  # 404: nothing there
    with pytest.raises(BakegenError, match=r"registry r:5000: GET gone/tags/list: HTTP 500"):
        Registry("r:5000", Answers({("GET", "gone/tags/list"): 500})).tags("gone")
