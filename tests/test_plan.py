import pytest

from bakegen import dockerignore
from bakegen.affected import affected_targets
from bakegen.config import load_project
from bakegen.generate import load
from bakegen.graph import TargetGraph, loaded
from bakegen.model import BakegenError, CacheBackend
from bakegen.plan import make_plan, plan_groups
from bakegen.plan_cache import branch_slug, cache_from, cache_to
from bakegen.plan_values import Conditional, Expr, Template
from bakegen.render import render_graph

from .helpers import write_tree

TREE = {
    "docker/base-python/Dockerfile": "FROM python:3.10-slim-bullseye\n",
    "docker/base-pose/Dockerfile": "FROM base-python AS wheels\nFROM base-python:latest\n",
    "pose-service/Dockerfile": "FROM base-pose AS deps\nFROM deps AS runtime\n",
    "pose-service/.dockerignore": "*.md\n!README.md\ndata/\n",
    "web/Dockerfile": "FROM node:18-alpine\n",
}


@pytest.fixture
def project(tmp_path):
    return load(write_tree(tmp_path, TREE))


def test_links_are_transitive_and_keyed_by_from_name(project):
    links = project.graph.links
    assert links["pose-service"] == {"base-pose": "base-pose"}
    assert links["base-pose"] == {"base-python": "base-python"}  # `:latest` normalised away
    assert links["web"] == {}


def test_cycle_is_named(tmp_path):
    write_tree(tmp_path, {
        "docker/a/Dockerfile": "FROM c\n",
        "docker/b/Dockerfile": "FROM a\n",
        "docker/c/Dockerfile": "FROM b\n",
    })
    with pytest.raises(BakegenError, match=r"^cycle between targets: a -> c -> b -> a$"):
        load(tmp_path)


def test_self_reference_is_not_a_link(tmp_path):
    # `FROM web` inside web/Dockerfile names the upstream image, not the target itself.
    write_tree(tmp_path, {"web/Dockerfile": "FROM web:1\n", "web2/Dockerfile": "FROM web2\n"})
    assert TargetGraph.of(load_project(tmp_path)).links == {"web": {}, "web2": {}}


def test_groups(project):
    project.groups = {"gpu": ["pose-service", "bases"]}
    project.targets["web"].groups = ["frontend"]
    assert plan_groups(project) == {
        "bases": ["base-pose", "base-python"],
        "default": ["base-pose", "base-python", "pose-service", "web"],
        "frontend": ["web"],
        "gpu": ["bases", "pose-service"],
        "services": ["pose-service", "web"],
    }


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"bases": ["web"]}, "group 'bases' is made by bakegen"),
        ({"web": ["pose-service"]}, "'web' names both a group and a target"),
        ({"gpu": ["nope"]}, "groups.gpu: no target or group named 'nope'"),
    ],
)
def test_group_errors(project, groups, message):
    project.groups = groups
    with pytest.raises(BakegenError, match=message):
        plan_groups(project)


def test_registry_cache_reads_branch_and_default_writes_branch_only(project):
    target = project.targets["pose-service"]
    read = cache_from(target, project)
    assert read[1] == Template(("type=registry,ref=", Expr("lower(CACHE_REPO)"), ":pose-service-main"))
    assert read[0].parts[:2] == ("type=registry,ref=", Expr("lower(CACHE_REPO)"))
    (write,) = cache_to(target, project)
    assert write.parts[:-1] == read[0].parts
    assert write.parts[-1] == ",mode=max,compression=zstd,image-manifest=true,oci-mediatypes=true,ignore-error=true"


def test_local_cache_one_folder_per_target_written_beside(project):
    project.cache.backend = CacheBackend.LOCAL
    target = project.targets["web"]
    assert cache_from(target, project) == [Template(("type=local,src=", Expr("CACHE_DIR"), "/web"))]
    assert cache_to(target, project) == [
        Template(("type=local,dest=", Expr("CACHE_DIR"), "/web.next,mode=max,compression=zstd"))
    ]


def test_cache_export_is_switchable_and_none_means_none(project):
    plan = make_plan(project)
    assert isinstance(plan.targets["web"]["cache-to"], Conditional)
    project.cache.backend = CacheBackend.NONE
    plan = make_plan(project)
    assert "cache-from" not in plan.targets["web"] and "cache-to" not in plan.targets["web"]
    assert "CACHE_EXPORT" not in [v.name for v in plan.variables]


def test_branch_slug():
    assert branch_slug("Feature/Foo Bar") == "feature-foo-bar"
    assert branch_slug("İx") == "ix"  # as Go lowercases it (Python's full mapping gives "i̇x")


def test_names_sharing_a_repository_are_made_distinct(tmp_path):
    write_tree(tmp_path, {"Web/Dockerfile": "FROM x\n", "web/Dockerfile": "FROM y\n"})
    assert sorted(load_project(tmp_path).targets) == ["Web", "web-2"]


def test_configured_names_sharing_a_repository_are_refused(tmp_path):
    write_tree(tmp_path, {"a/Dockerfile": "FROM x\n", "b/Dockerfile": "FROM y\n",
                          "bakegen.toml": '[names]\n"a/Dockerfile" = "Web"\n"b/Dockerfile" = "web"\n'})
    with pytest.raises(BakegenError, match="targets 'Web' and 'web' .*share image repository 'web'"):
        load(tmp_path)


def test_image_replacement_keys_are_normalised(tmp_path):
    write_tree(tmp_path, {"web/Dockerfile": "FROM node:latest\n", "bakegen.toml":
        '[images]\n"docker.io/library/node:latest" = "docker-image://mirror/node:20"\n'})
    plan = make_plan(load(tmp_path))
    assert plan.targets["web"]["contexts"] == {"node": "docker-image://mirror/node:20"}


def test_image_replacements_only_where_used(tmp_path):
    write_tree(tmp_path, {**TREE, "bakegen.toml":
        '[images]\n"python:3.10-slim-bullseye" = "docker-image://mirror/python:3.10"\n'})
    plan = make_plan(load(tmp_path))
    assert plan.targets["base-python"]["contexts"] == {
        "python:3.10-slim-bullseye": "docker-image://mirror/python:3.10"
    }
    assert "python:3.10-slim-bullseye" not in plan.targets["web"].get("contexts", {})


def rules(project):
    return {name: dockerignore.read_for(project.root, t.context, t.dockerfile) for name, t in project.targets.items()}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["pose-service/app.py"], ["pose-service"]),
        (["pose-service/notes.md"], []),  # left out by .dockerignore
        (["pose-service/README.md"], ["pose-service"]),  # brought back by !README.md
        (["pose-service/data/x.bin"], []),
        (["docker/base-python/Dockerfile"], ["base-pose", "base-python", "pose-service"]),
        (["web/src/main.ts", "README.md"], ["web"]),
        (["bakegen.toml"], ["base-pose", "base-python", "pose-service", "web"]),
        ([], []),
    ],
)
def test_affected(project, changed, expected):
    assert affected_targets(project, changed, rules(project)) == expected


def test_affected_by_local_named_context(project):
    project.targets["pose-service"].contexts = {"smpl": "models/smpl", "img": "docker-image://x"}
    project = loaded(project)  # the graph holds the named contexts: computed after the last change
    assert affected_targets(project, ["models/smpl/a.pkl"], rules(project)) == [
        "pose-service"
    ]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("*.md", "a.md", True),
        ("*.md", "sub/a.md", False),  # anchored at the context root, unlike .gitignore
        ("**/*.md", "sub/a.md", True),
        ("data", "data/deep/file", True),  # a parent folder matching leaves the file out
        ("/build/", "build/x", True),
        ("*.md\n!README.md", "README.md", False),
        ("docs/**\n!docs/keep/**", "docs/keep/a", False),
        ("te?t", "test", True),
        ("[a-c].txt", "b.txt", True),
        ("[!a-c].txt", "b.txt", True),  # BuildKit negates with ^ only: [!a-c] is !, a, b or c
        ("[^a-c].txt", "b.txt", False),
        ("# comment\n\n", "x", False),
    ],
)
def test_dockerignore_matching(patterns, path, ignored):
    assert dockerignore.is_ignored(dockerignore.parse(patterns), path) is ignored


@pytest.mark.parametrize("backend", [CacheBackend.REGISTRY, CacheBackend.LOCAL, CacheBackend.GHA])
def test_several_platforms_get_one_cache_target_each(project, backend):
    """buildx 1044: on a builder of several nodes each node overwrites a shared cache ref."""
    project.cache.backend = backend
    project.targets["web"].platforms = ["linux/amd64", "linux/arm/v7"]
    plan = make_plan(project)
    web = plan.targets["web"]
    assert "cache-to" not in web  # the target writes nothing itself
    caches = ["web-cache-linux-amd64", "web-cache-linux-arm-v7"]
    reads = [ref for name in caches for ref in cache_from(project.targets["web"], project, name)]
    assert web["cache-from"] == reads
    for name, platform in zip(caches, ["linux/amd64", "linux/arm/v7"], strict=True):
        child = plan.targets[name]
        assert child["platforms"] == [platform] and child["output"] == ["type=cacheonly"]
        assert "tags" not in child and child["context"] == "web"
        assert child["cache-to"] == Conditional("CACHE_EXPORT", cache_to(project.targets["web"], project, name))
    assert plan.groups["default"] == sorted([*plan.groups["default"]]) and set(caches) <= set(plan.groups["default"])
    assert set(caches) <= set(plan.groups["services"]) and not set(caches) & set(plan.groups["bases"])


def test_one_platform_or_no_cache_export_needs_no_split(project):
    project.targets["web"].platforms = ["linux/amd64"]
    assert not [n for n in make_plan(project).targets if "-cache-" in n]
    project.targets["web"].platforms = ["linux/amd64", "linux/arm64"]
    project.cache.backend = CacheBackend.INLINE
    assert not [n for n in make_plan(project).targets if "-cache-" in n]


def test_a_platform_cache_name_taken_by_a_target_is_an_error(tmp_path):
    project = load(write_tree(tmp_path, {**TREE, "web-cache-linux-amd64/Dockerfile": "FROM scratch\n"}))
    project.targets["web"].platforms = ["linux/amd64", "linux/arm64"]
    with pytest.raises(BakegenError, match="'web-cache-linux-amd64' would name the web cache of one platform"):
        make_plan(project)


def test_affected_names_the_platform_caches_too(project):
    project.targets["web"].platforms = ["linux/amd64", "linux/arm64"]
    names = affected_targets(project, ["web/Dockerfile"], {})
    assert names == ["web", "web-cache-linux-amd64", "web-cache-linux-arm64"]


def test_a_chain_of_any_depth_is_planned_graphed_and_affected(tmp_path):
    """Recursive walks hit Python's recursion limit near 1,000 targets."""
    depth = 1500
    files = {"c0000/Dockerfile": "FROM scratch\n"}
    files.update({f"c{i:04d}/Dockerfile": f"FROM c{i - 1:04d}\n" for i in range(1, depth)})
    project = load(write_tree(tmp_path, files))
    assert project.graph.links["c1499"] == {"c1498": "c1498"}
    plan = make_plan(project)
    assert plan.targets["c1499"]["contexts"] == {"c1498": "target:c1498"}
    text = render_graph(project, "text")
    assert text.splitlines()[-1] == "  " * (depth - 1) + "c1499 (service)"
    assert len(affected_targets(project, ["c0000/Dockerfile"], {})) == depth


def test_group_cycles_are_refused(project):
    project.groups = {"a": ["b", "web"], "b": ["a"]}
    with pytest.raises(BakegenError, match=r"cycle between groups: a -> b -> a"):
        plan_groups(project)


def test_mermaid_keeps_names_that_differ_only_by_dash_apart(tmp_path):
    project = load(write_tree(tmp_path, {"a-b/Dockerfile": "FROM scratch\n", "a_b/Dockerfile": "FROM a-b\n"}))
    text = render_graph(project, "mermaid")
    assert 'n0["a-b (base)"]' in text and 'n1["a_b (service)"]' in text and "n0 --> n1" in text


def test_a_cycle_in_a_long_chain_is_named(tmp_path):
    files = {f"c{i}/Dockerfile": f"FROM c{(i + 1) % 50}\n" for i in range(50)}
    with pytest.raises(BakegenError, match=r"cycle between targets: c0 -> c1 -> .* -> c49 -> c0"):
        load(write_tree(tmp_path, files))
