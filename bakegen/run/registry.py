"""A registry through its HTTP API (distribution v2): is it there, which repositories it holds,
and removing the repositories something pushed (tests and bench clean up after themselves).

Every HTTP request bakegen makes goes through `Registry`, one small client; its `opener` is
urllib's unless a test gives a stand-in. The module functions are shorthands for one call.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bakegen.model import BakegenError

_MANIFESTS = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_PAGE = 1000  # repositories per catalog page (the registry's cap)

Opener = Callable[..., Any]  # urllib.request.urlopen's shape: (request, timeout=...) -> response


_LOOPBACK = ("localhost", "127.", "[::1]")
# distribution's grammar: path components of lowercase alphanumerics and separators; a tag or a digest
_REPOSITORY_PATH = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_REFERENCE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64}")
DOCKER_HUB = "registry-1.docker.io"  # where docker.io's images are served


@dataclass(frozen=True)
class ImageName:
    """An image reference split as registries read it: `python:3.10` is docker.io's
    `library/python`, tag `3.10`; `127.0.0.1:5000/a/b@sha256:...` is that host, `a/b`, a digest."""

    host: str
    repository: str
    reference: str  # a tag, or a digest

    @classmethod
    def parse(cls, ref: str) -> ImageName:
        rest, _, digest = ref.partition("@")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            host, path = first, remainder
        else:
            host, path = "docker.io", rest
        name, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
        if not colon or "/" in tag:
            name, tag = path, ""
        if host in ("docker.io", "index.docker.io"):
            host = DOCKER_HUB
            name = name if "/" in name else f"library/{name}"
        if not name or name != name.lower():
            raise BakegenError(f"'{ref}': not an image reference a registry reads")
        return cls(host, name, digest or tag or "latest")


@dataclass(frozen=True)
class Manifest:
    body: bytes  # exactly as the registry holds it: its digest is the sha256 of these bytes
    media_type: str
    digest: str


class Registry:
    """One registry at `address` (HOST:PORT): plain HTTP unless `scheme` says otherwise (see
    `for_host`). A registry that answers 401 with a Bearer challenge is asked for an anonymous
    token (Docker Hub, GHCR's public images), once per scope."""

    def __init__(self, address: str, opener: Opener = urllib.request.urlopen, scheme: str = "http"):
        self.address = address
        self.scheme = scheme
        self._open = opener
        self._tokens: dict[str, str] = {}  # scope -> bearer token

    @classmethod
    def for_host(cls, host: str, opener: Opener = urllib.request.urlopen) -> Registry:
        """A loopback registry over plain HTTP (as every local test registry is), any other over HTTPS."""
        return cls(host, opener, "http" if host.startswith(_LOOPBACK) else "https")

    def _request(self, path: str, method: str = "GET", data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> urllib.request.Request:
        return urllib.request.Request(f"{self.scheme}://{self.address}/v2/{path}", method=method, data=data,
                                      headers={"Accept": _MANIFESTS, **(headers or {})})

    def _send(self, path: str, method: str, scope: str, data: bytes | None = None,
              headers: dict[str, str] | None = None) -> Any:
        """The response to a request, with the anonymous token of `scope` when the registry asks for one."""
        auth = {"Authorization": f"Bearer {self._tokens[scope]}"} if scope in self._tokens else {}
        try:
            return self._open(self._request(path, method, data, {**(headers or {}), **auth}), timeout=30)
        except urllib.error.HTTPError as e:
            challenge = (e.headers or {}).get("WWW-Authenticate", "") if e.code == 401 else ""
            if not challenge.lower().startswith("bearer ") or scope in self._tokens:
                raise
            self._tokens[scope] = self._anonymous_token(challenge, scope)
            return self._send(path, method, scope, data, headers)

    def _anonymous_token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if not params.get("realm", "").startswith("https://") and self.scheme == "https":
            raise BakegenError(f"registry {self.address}: asks for a token at a realm that is not HTTPS")
        query = urllib.parse.urlencode({"service": params.get("service", ""), "scope": scope})
        try:
            with self._open(urllib.request.Request(f"{params['realm']}?{query}"), timeout=30) as response:
                answer = json.load(response)
        except (KeyError, urllib.error.URLError, OSError, ValueError) as e:
            raise BakegenError(f"registry {self.address}: no anonymous token for {scope} "
                               f"({getattr(e, 'reason', e)}); log in, or make the image public") from None
        return answer.get("token") or answer.get("access_token") or ""

    def _check(self, repository: str, reference: str) -> None:
        """A name no registry holds (a REGISTRY variable with a newline) is refused before any URL is made."""
        if not _REPOSITORY_PATH.fullmatch(repository) or not _REFERENCE.fullmatch(reference):
            raise BakegenError(f"registry {self.address}: '{repository}:{reference}' is no image name")

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest (or index) `reference` names, as stored; None when there is none."""
        self._check(repository, reference)
        try:
            with self._send(f"{repository}/manifests/{reference}", "GET", f"repository:{repository}:pull") as response:
                body = response.read()
                headers = response.headers
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            why = " (bakegen asks anonymously: a private repository needs a login it does not have)" \
                if e.code in (401, 403) else ""
            raise BakegenError(f"registry {self.address}: GET {repository}:{reference}: HTTP {e.code}{why}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        media_type = headers.get("Content-Type") or json.loads(body or b"{}").get("mediaType", "")
        return Manifest(body, media_type, digest)

    def digest_of(self, repository: str, reference: str) -> str | None:
        """The digest `reference` names, by a HEAD (Docker Hub counts GETs of manifests against its
        pull limit, not HEADs); a registry that sends no digest header is asked with a GET."""
        self._check(repository, reference)
        try:
            with self._send(f"{repository}/manifests/{reference}", "HEAD", f"repository:{repository}:pull") as response:
                found = response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise BakegenError(f"registry {self.address}: HEAD {repository}:{reference}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None
        if found and _REFERENCE.fullmatch(found) and found.startswith("sha256:"):
            return found
        manifest = self.manifest(repository, reference)
        return manifest.digest if manifest else None

    def blob(self, repository: str, digest: str, limit: int = 4 * 1024 * 1024) -> bytes:
        """A small blob (an image config), at most `limit` bytes."""
        self._check(repository, digest)
        try:
            with self._send(f"{repository}/blobs/{digest}", "GET", f"repository:{repository}:pull") as response:
                data = response.read(limit + 1)
        except urllib.error.HTTPError as e:
            raise BakegenError(f"registry {self.address}: GET {repository}@{digest}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None
        if len(data) > limit:
            raise BakegenError(f"registry {self.address}: {repository}@{digest}: larger than an image config")
        return data

    def labels(self, repository: str, reference: str) -> dict[str, str] | None:
        """The labels of the image `reference` names (an index: of its first image); None when
        there is no such image."""
        manifest = self.manifest(repository, reference)
        if manifest is None:
            return None
        document = json.loads(manifest.body or b"{}")
        children = [m for m in document.get("manifests") or [] if "attestation-manifest" not in
                    json.dumps(m.get("annotations", {}))]
        if children:
            document = json.loads(self.manifest(repository, children[0]["digest"]).body)
        config = (document.get("config") or {}).get("digest")
        if not config:
            return {}
        return dict((json.loads(self.blob(repository, config)).get("config") or {}).get("Labels") or {})

    def put_blob(self, repository: str, data: bytes) -> str:
        """`data` stored as a blob of `repository` (monolithic upload); returns its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        scope = f"repository:{repository}:pull,push"
        try:
            with self._send(f"{repository}/blobs/uploads/", "POST", scope) as response:
                location = response.headers["Location"]
            separator = "&" if "?" in location else "?"
            url = urllib.parse.urljoin(f"{self.scheme}://{self.address}/", location) + f"{separator}digest={digest}"
            request = urllib.request.Request(url, method="PUT", data=data,
                                             headers={"Content-Type": "application/octet-stream"})
            with self._open(request, timeout=60):
                pass
        except urllib.error.HTTPError as e:
            raise BakegenError(f"registry {self.address}: cannot upload to {repository}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None
        return digest

    def put_manifest(self, repository: str, tag: str, manifest: Manifest) -> None:
        """`manifest` stored under `tag` too: a re-tag in the registry, no layer moved (the layers
        and child manifests it names are in the repository already)."""
        self._check(repository, tag)
        try:
            with self._send(f"{repository}/manifests/{tag}", "PUT", f"repository:{repository}:pull,push",
                            manifest.body, {"Content-Type": manifest.media_type}):
                pass
        except urllib.error.HTTPError as e:
            why = " (bakegen pushes anonymously; `ci-tags --reused` re-tags with docker's login)" \
                if e.code in (401, 403) else ""
            raise BakegenError(f"registry {self.address}: cannot tag {repository}:{tag}: HTTP {e.code}{why}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BakegenError(f"registry {self.address}: {getattr(e, 'reason', e)}") from None

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
