"""A builder of two BuildKit nodes, one platform each, as a team scales out: a two-platform
target built from the generated file keeps both platforms' cache.

With one cache ref per target, each node exports its own platform's cache to that ref and the
last writer wins (buildx issue 1044): the contrast test shows it on these very nodes. bakegen
writes one cache-only target per platform, each with its own ref, and the target reads them all.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from bakegen import generate
from bakegen.run import registry
from bakegen.run.bake import BakeResult, run_bake
from bakegen.run.scenario import prune

from ..helpers import write_tree
from .conftest import PREFIX, REGISTRY, bakegen, buildkitd_binary, busybox_rootfs

pytestmark = pytest.mark.engine
PLATFORMS = ("linux/amd64", "linux/386")
DOCKERFILE = 'FROM busybox:stable\nARG TARGETPLATFORM\nARG RUN\nRUN echo "$RUN heavy for $TARGETPLATFORM" > /heavy\n'
CI = {"CACHE_EXPORT": "true"}


def docker(*args: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture(scope="module")
def team(engine, buildkitd_for_team, tmp_path_factory):
    """Two buildkitd nodes made by `bakegen builder up`, joined as one builder, and a busybox
    image for both platforms in the loopback registry."""
    states, nodes = [], []
    name = f"{PREFIX}-team"
    try:
        for i, platform in enumerate(PLATFORMS):
            state = tmp_path_factory.mktemp(f"node{i}")
            node = f"{PREFIX}-node{i}"
            up = bakegen("builder", "up", "--name", node, "--driver", "remote", "--buildkitd", buildkitd_for_team,
                         "--state", str(state))
            assert up.returncode == 0, up.stderr
            states.append((node, state))
            append = ["--append"] if i else []
            docker("buildx", "create", *append, "--name", name, "--driver", "remote", "--node", f"n{i}",
                   "--platform", platform, f"unix://{state}/buildkitd.sock")
            nodes.append(platform)
        base = f"{REGISTRY}/{PREFIX}/busybox"
        engine.images.get("local/busybox:latest").tag(f"{base}-amd64", "latest")
        engine.images.push(f"{base}-amd64", tag="latest")
        docker("import", "--platform", "linux/386", "-", f"{base}-386:latest", stdin=busybox_rootfs())
        docker("push", "-q", f"{base}-386:latest")
        docker("buildx", "imagetools", "create", "-t", f"{base}-multi:latest", f"{base}-amd64:latest",
               f"{base}-386:latest")
        for ref in (f"{base}-amd64:latest", f"{base}-386:latest"):
            engine.images.remove(ref, force=True)
        yield name, f"docker-image://{base}-multi:latest"
    finally:
        subprocess.run(["docker", "buildx", "rm", name], capture_output=True)
        registry.delete_repositories(REGISTRY, f"{PREFIX}/busybox-")
        for node, state in states:
            bakegen("builder", "down", "--name", node, "--state", str(state), "--purge")


@pytest.fixture(scope="module")
def buildkitd_for_team(buildkit_builder) -> str:
    return buildkitd_binary()


def heavy_steps(result: BakeResult) -> dict[str, bool]:
    """For each platform, whether its RUN step came from the cache."""
    found: dict[str, bool] = {}
    for vertex in result.vertices:
        for platform in PLATFORMS:
            if f"heavy for {platform}" in vertex.name:
                found[platform] = found.get(platform, True) and vertex.cached
    return found


def project(root: Path, busybox: str, platforms: tuple[str, ...], run: str) -> str:
    repository = f"{PREFIX}/multinode-{run}"
    write_tree(root, {
        "web/Dockerfile": DOCKERFILE,
        "bakegen.toml": (f'[project]\nregistry = "localhost:5000/{repository}"\nsource = "{PREFIX}"\n'
                         f'[images]\n"busybox:stable" = "{busybox}"\n'
                         f'[targets.web]\nplatforms = {list(platforms)!r}\nargs = {{ RUN = "{run}" }}\n'.replace("'", '"')),
    })
    (root / "docker-bake.hcl").write_text(generate(root))
    return repository


def test_each_platform_keeps_its_cache_across_two_nodes(team, tmp_path):
    builder, busybox = team
    repository = project(tmp_path, busybox, PLATFORMS, f"split-{uuid.uuid4().hex[:8]}")
    try:
        cold = run_bake(tmp_path, builder=builder, env=CI)
        assert cold.ok, cold.error_line()
        assert heavy_steps(cold) == {"linux/amd64": False, "linux/386": False}
        assert registry.tags(REGISTRY, f"{repository}/build-cache") == [
            "web-cache-linux-386-main", "web-cache-linux-amd64-main"]
        prune(builder)  # both nodes forget everything: a fresh pair of runners
        fresh = run_bake(tmp_path, builder=builder)
        assert fresh.ok, fresh.error_line()
        assert heavy_steps(fresh) == {"linux/amd64": True, "linux/386": True}
    finally:
        registry.delete_repositories(REGISTRY, repository)


def test_one_shared_ref_loses_a_platform_on_two_nodes(team, tmp_path):
    """What bakegen avoids: the same target with one cache ref for both platforms."""
    builder, busybox = team
    repository = project(tmp_path, busybox, PLATFORMS[:1], f"shared-{uuid.uuid4().hex[:8]}")
    both = ["--set", f"web.platform={','.join(PLATFORMS)}"]
    try:
        cold = run_bake(tmp_path, builder=builder, env=CI, extra_args=both)
        assert cold.ok, cold.error_line()
        assert heavy_steps(cold) == {"linux/amd64": False, "linux/386": False}
        prune(builder)
        fresh = run_bake(tmp_path, builder=builder, extra_args=both)
        assert fresh.ok, fresh.error_line()
        assert sorted(heavy_steps(fresh).values()) == [False, True]  # one platform's cache was overwritten
    finally:
        registry.delete_repositories(REGISTRY, repository)
