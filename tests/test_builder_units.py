"""Pure parts of the builder: what buildx prints (read through a stand-in runner), the buildkitd
config, request checks."""

import subprocess
import tomllib

import pytest

from bakegen.command import CommandError
from bakegen.model import BakegenError
from bakegen.run.builder import UpRequest, check_request, inspect, parse_ls, version_tuple
from bakegen.run.buildkitd import buildkitd_config

# `docker buildx ls --format json` as buildx 0.13.1 prints it here: a builder once per row of its
# table (so twice for one node), a node that does not answer without Version or Platforms.
DOCKER = ('{"Name":"default","Driver":"docker","LastActivity":"2026-11-30T18:48:35Z","Dynamic":false,"Nodes":'
          '[{"Name":"default","Endpoint":"default","Status":"running","Version":"v0.0.0+unknown",'
          '"IDs":["x3y7"],"Platforms":["linux/amd64","linux/amd64/v2"],"Labels":{"a":"b"}}]}\n')
DEAD = ('{"Name":"dead","Driver":"remote","LastActivity":"2026-11-30T18:58:15Z","Dynamic":false,"Nodes":'
        '[{"Name":"dead0","Endpoint":"tcp://127.0.0.1:1","Status":"inactive"}]}\n')
TEAM = ('{"Name":"team","Driver":"remote","Nodes":[{"Name":"n0","Endpoint":"unix:///tmp/a.sock","Status":"running",'
        '"Version":"v0.26.3","Platforms":["linux/amd64","linux/386"]},'
        '{"Name":"n1","Endpoint":"tcp://127.0.0.1:1234","Status":"inactive"}]}\n')
LS = DEAD * 2 + TEAM * 3 + DOCKER * 2


def test_ls_of_a_two_node_builder():
    info = parse_ls(LS)["team"]
    assert (info.name, info.driver) == ("team", "remote")
    assert [(n.name, n.endpoint, n.status, n.buildkit, n.platforms) for n in info.nodes] == [
        ("n0", "unix:///tmp/a.sock", "running", "v0.26.3", "linux/amd64, linux/386"),
        ("n1", "tcp://127.0.0.1:1234", "inactive", "", "")]
    assert not info.running  # one node is down
    assert info.buildkit_version is None  # unknown for one node: not assumed new enough
    assert info.endpoint == "unix:///tmp/a.sock, tcp://127.0.0.1:1234"


def test_ls_lists_each_builder_once_and_the_docker_driver_has_no_known_version():
    builders = parse_ls(LS)
    assert list(builders) == ["dead", "team", "default"]
    assert builders["default"].running and builders["default"].driver == "docker"
    assert builders["default"].buildkit_version is None
    assert not builders["dead"].running and builders["dead"].buildkit == "?"


def test_ls_output_bakegen_cannot_read_is_one_line_naming_the_command():
    with pytest.raises(BakegenError, match=r"`docker buildx ls --format json` printed what bakegen cannot read"):
        parse_ls("NAME/NODE  DRIVER/ENDPOINT\n")


class Buildx:
    """A stand-in for command.run: canned answers, and every command it was asked."""

    def __init__(self, ls: str, inspect_rc: int = 0, inspect_err: str = ""):
        self.ls, self.inspect_rc, self.inspect_err = ls, inspect_rc, inspect_err
        self.asked: list[list[str]] = []

    def __call__(self, args, *, cwd=None, env=None, timeout=None, check=True, input=None):
        self.asked.append(list(args))
        if args[:3] == ["docker", "buildx", "ls"]:
            return subprocess.CompletedProcess(args, 0, self.ls, "")
        return subprocess.CompletedProcess(args, self.inspect_rc, "Name: ignored\n", self.inspect_err)


def test_inspect_reads_ls_json_and_bootstraps_only_when_asked():
    buildx = Buildx(LS)
    assert inspect("team", run=buildx).nodes[0].buildkit == "v0.26.3"
    assert inspect("nope", run=buildx) is None
    assert buildx.asked == [["docker", "buildx", "ls", "--format", "json"]] * 2
    buildx.asked.clear()
    assert inspect("team", bootstrap=True, run=buildx).name == "team"
    assert buildx.asked == [["docker", "buildx", "inspect", "team", "--bootstrap"],
                            ["docker", "buildx", "ls", "--format", "json"]]


def test_inspect_bootstrap_of_a_missing_builder_is_none_and_other_failures_say_why():
    assert inspect("nope", bootstrap=True, run=Buildx(LS, 1, 'ERROR: no builder "nope" found\n')) is None
    with pytest.raises(CommandError, match="connection refused"):
        inspect("dead", bootstrap=True, run=Buildx(LS, 1, "ERROR: connection refused\n"))


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
