"""A registry through its HTTP API (distribution v2): is it there, which repositories it holds,
and removing the repositories something pushed (tests and bench clean up after themselves).

Every HTTP request bakegen makes goes through `Registry`, one small client; its `opener` is
urllib's unless a test gives a stand-in. The module functions are shorthands for one call.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bakegen.model import BakegenError

_MANIFESTS = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_PAGE = 1000  # repositories per catalog page (the registry's cap)

Opener = Callable[..., Any]  # urllib.request.urlopen's shape: (request, timeout=...) -> response


class Registry:
    """One registry at `address` (HOST:PORT), over plain HTTP."""

    def __init__(self, address: str, opener: Opener = urllib.request.urlopen):
        self.address = address
        self._open = opener

    def _request(self, path: str, method: str = "GET") -> urllib.request.Request:
        return urllib.request.Request(f"http://{self.address}/v2/{path}", method=method,
                                      headers={"Accept": _MANIFESTS})

    def reachable(self) -> tuple[bool, str]:
        """Whether a registry answers, and what it said (or why nothing did)."""
        try:
            with self._open(self._request(""), timeout=3) as response:
                return True, f"HTTP {response.status}"
        except urllib.error.HTTPError as e:  # 401: there, but wants a login
            return e.code == 401, f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            return False, str(getattr(e, "reason", e))

    def _json(self, path: str) -> dict:
        """The JSON at `path`; {} where the registry has nothing (404)."""
        try:
            with self._open(self._request(path), timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return {}
            raise BakegenError(f"registry {self.address}: GET {path}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None

    def repositories(self, prefix: str = "") -> list[str]:
        names: list[str] = []
        while True:  # pages, each after the last name seen
            page = self._json(f"_catalog?n={_PAGE}" + (f"&last={names[-1]}" if names else "")).get("repositories") or []
            names += page
            if len(page) < _PAGE:
                break
        return sorted(n for n in names if n == prefix.rstrip("/") or n.startswith(prefix))

    def tags(self, repository: str) -> list[str]:
        return sorted(self._json(f"{repository}/tags/list").get("tags") or [])

    def delete_repositories(self, prefix: str) -> int:
        """Delete every manifest of the repositories whose name starts with `prefix`; returns how
        many. The registry's garbage collection frees their blobs."""
        deleted = 0
        for repository in self.repositories(prefix):
            digests = set()
            for tag in self.tags(repository):
                with self._open(self._request(f"{repository}/manifests/{tag}", "HEAD"), timeout=30) as response:
                    digests.add(response.headers["Docker-Content-Digest"])
            for digest in sorted(digests):
                try:
                    with self._open(self._request(f"{repository}/manifests/{digest}", "DELETE"), timeout=30):
                        deleted += 1
                except urllib.error.HTTPError as e:
                    if e.code != 404:
                        raise BakegenError(f"registry {self.address}: cannot delete {repository}@{digest}: "
                                           f"HTTP {e.code} (is deletion enabled?)") from None
        return deleted

    def stored_bytes(self, repository: str) -> int:
        """Bytes of the distinct blobs (layers and configs) that the repository's tags refer to."""
        return sum(self.blobs(repository).values())

    def stored_bytes_under(self, prefix: str) -> int:
        """Bytes of the distinct blobs of every repository whose name starts with `prefix`
        (a blob several of them share counted once, as the registry stores it once)."""
        blobs: dict[str, int] = {}
        for repository in self.repositories(prefix):
            blobs.update(self.blobs(repository))
        return sum(blobs.values())

    def blobs(self, repository: str) -> dict[str, int]:
        """{digest: size} of the blobs the repository's tags refer to."""
        blobs: dict[str, int] = {}
        for tag in self.tags(repository):
            manifest = self._json(f"{repository}/manifests/{tag}")
            for child in manifest.get("manifests") or []:  # an index: its manifests
                blobs.update(_blob_sizes(self._json(f"{repository}/manifests/{child['digest']}")))
            blobs.update(_blob_sizes(manifest))
        return blobs


def _blob_sizes(manifest: dict) -> dict[str, int]:
    found = {layer["digest"]: layer.get("size", 0) for layer in manifest.get("layers") or []}
    if manifest.get("config"):
        found[manifest["config"]["digest"]] = manifest["config"].get("size", 0)
    return found


# Shorthands: one call on a registry (doctor, the tests' clean-up).

def reachable(address: str) -> tuple[bool, str]:
    return Registry(address).reachable()


def repositories(address: str, prefix: str = "") -> list[str]:
    return Registry(address).repositories(prefix)


def tags(address: str, repository: str) -> list[str]:
    return Registry(address).tags(repository)


def delete_repositories(address: str, prefix: str) -> int:
    return Registry(address).delete_repositories(prefix)


def stored_bytes(address: str, repository: str) -> int:
    return Registry(address).stored_bytes(repository)
