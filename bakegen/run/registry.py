"""A registry through its HTTP API (distribution v2): is it there, which repositories it holds,
and removing the repositories something pushed (tests and bench clean up after themselves)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bakegen.model import BakegenError

_MANIFESTS = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


def reachable(address: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=3) as response:
            return True, f"HTTP {response.status}"
    except urllib.error.HTTPError as e:  # 401: there, but wants a login
        return e.code == 401, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return False, str(getattr(e, "reason", e))


def _request(address: str, path: str, method: str = "GET") -> urllib.request.Request:
    return urllib.request.Request(f"http://{address}/v2/{path}", method=method, headers={"Accept": _MANIFESTS})


def _json(address: str, path: str) -> dict:
    try:
        with urllib.request.urlopen(_request(address, path), timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return {}
        raise BakegenError(f"registry {address}: GET {path}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise BakegenError(f"registry {address}: {getattr(e, 'reason', e)}") from None


def repositories(address: str, prefix: str = "") -> list[str]:
    names: list[str] = []
    while True:  # pages of 1,000 (the registry's cap), each after the last name seen
        page = _json(address, "_catalog?n=1000" + (f"&last={names[-1]}" if names else "")).get("repositories") or []
        names += page
        if len(page) < 1000:
            break
    return sorted(n for n in names if n == prefix.rstrip("/") or n.startswith(prefix))


def tags(address: str, repository: str) -> list[str]:
    return sorted(_json(address, f"{repository}/tags/list").get("tags") or [])


def delete_repositories(address: str, prefix: str) -> int:
    """Delete every manifest of the repositories whose name starts with `prefix`; returns how
    many. The registry's garbage collection frees their blobs."""
    deleted = 0
    for repository in repositories(address, prefix):
        digests = set()
        for tag in tags(address, repository):
            with urllib.request.urlopen(_request(address, f"{repository}/manifests/{tag}", "HEAD"),
                                        timeout=30) as response:
                digests.add(response.headers["Docker-Content-Digest"])
        for digest in sorted(digests):
            try:
                urllib.request.urlopen(_request(address, f"{repository}/manifests/{digest}", "DELETE"), timeout=30)
                deleted += 1
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise BakegenError(f"registry {address}: cannot delete {repository}@{digest}: "
                                       f"HTTP {e.code} (is deletion enabled?)") from None
    return deleted


def stored_bytes(address: str, repository: str) -> int:
    """Bytes of the distinct blobs (layers and configs) that the repository's tags refer to."""
    blobs: dict[str, int] = {}
    for tag in tags(address, repository):
        manifest = _json(address, f"{repository}/manifests/{tag}")
        for child in manifest.get("manifests") or []:  # an index: its manifests
            blobs.update(_blob_sizes(_json(address, f"{repository}/manifests/{child['digest']}")))
        blobs.update(_blob_sizes(manifest))
    return sum(blobs.values())


def _blob_sizes(manifest: dict) -> dict[str, int]:
    found = {layer["digest"]: layer.get("size", 0) for layer in manifest.get("layers") or []}
    if manifest.get("config"):
        found[manifest["config"]["digest"]] = manifest["config"].get("size", 0)
    return found
