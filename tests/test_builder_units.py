"""Pure parts of the builder: what buildx prints, the buildkitd config, request checks."""

import tomllib

import pytest

from bakegen.model import BakegenError
from bakegen.run.builder import UpRequest, buildkitd_config, check_request, parse_inspect, version_tuple

REMOTE = """Name:          team
Driver:        remote
Last Activity: 2026-11-28 09:33:23 +0000 UTC

Nodes:
Name:             n0
Endpoint:         unix:///tmp/a.sock
Status:           running
BuildKit version: v0.26.3
Platforms:        linux/amd64, linux/386
Labels:
 org.mobyproject.buildkit.worker.executor:         oci

Name:             n1
Endpoint:         tcp://127.0.0.1:1234
Status:           inactive
Platforms:        linux/arm64
"""
DOCKER = """Name:   default
Driver: docker

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.0.0+unknown
Platforms:        linux/amd64
"""


def test_inspect_of_a_two_node_builder():
    info = parse_inspect(REMOTE)
    assert (info.name, info.driver) == ("team", "remote")
    assert [(n.name, n.endpoint, n.status, n.buildkit) for n in info.nodes] == [
        ("n0", "unix:///tmp/a.sock", "running", "v0.26.3"), ("n1", "tcp://127.0.0.1:1234", "inactive", "")]
    assert not info.running  # one node is down
    assert info.buildkit_version is None  # unknown for one node: not assumed new enough
    assert info.endpoint == "unix:///tmp/a.sock, tcp://127.0.0.1:1234"


def test_inspect_of_the_docker_driver_has_no_known_version():
    info = parse_inspect(DOCKER)
    assert info.running and info.driver == "docker" and info.buildkit_version is None


@pytest.mark.parametrize(("text", "version"), [("v0.26.3", (0, 26, 3)), ("0.13.1+ds1", (0, 13, 1)), ("", None)])
def test_version_tuple(text, version):
    assert version_tuple(text) == version


def test_buildkitd_config_is_toml_with_loopback_registries_and_gc():
    config = tomllib.loads(buildkitd_config("7GB", ["127.0.0.1:5031", "localhost:5000"]))
    assert config["worker"]["oci"] == {"enabled": True, "gc": True, "maxUsedSpace": "7GB", "minFreeSpace": "10%"}
    assert config["worker"]["containerd"] == {"enabled": False}
    assert sorted(config["registry"]) == ["127.0.0.1:5000", "127.0.0.1:5031", "localhost:5000"]
    assert all(r == {"http": True, "insecure": True} for r in config["registry"].values())


@pytest.mark.parametrize(("request_", "message"), [
    (UpRequest(name="-x"), "--name '-x'"),
    (UpRequest(driver="kubernetes"), "--driver 'kubernetes': unknown driver"),
    (UpRequest(max_storage="20 parsecs"), "--max-storage"),
    (UpRequest(addr="tcp://0.0.0.0:1"), "plain TCP only on loopback"),
    (UpRequest(addr="http://127.0.0.1:1"), "expected unix:///path or tcp://127.0.0.1:PORT"),
    (UpRequest(addr="tcp://127.0.0.1:70000"), "expected unix:///path"),
    (UpRequest(insecure_registries=("a b:1",)), "--insecure-registry 'a b:1'"),
])
def test_bad_requests_are_refused_before_anything_runs(request_, message):
    with pytest.raises(BakegenError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_request(request_)


@pytest.mark.parametrize("size", ["20GB", "500MB", "1.5GiB", "10%", "1024"])
def test_sizes_accepted(size):
    check_request(UpRequest(max_storage=size))
