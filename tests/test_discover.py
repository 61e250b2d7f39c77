import pytest

from bakegen.discover import discover, find_dockerfile_dirs
from bakegen.model import BakegenError, Kind

from .helpers import write_tree


def test_targets_bases_services_and_the_last_stage(tmp_path):
    write_tree(tmp_path, {
        "docker/base-python/Dockerfile": "FROM python:3.10-slim-bullseye\n",
        "docker/base-pose/Dockerfile": "FROM base-python\n",
        "pose-service/Dockerfile": "FROM base-pose AS deps\nFROM deps AS runtime\n",
        "web/Dockerfile": "FROM node:18-alpine\n",
    })
    project = discover(tmp_path)
    assert sorted(project.targets) == ["base-pose", "base-python", "pose-service", "web"]
    assert project.targets["base-pose"].kind == Kind.BASE
    assert project.targets["web"].kind == Kind.SERVICE
    assert project.targets["pose-service"].stage is None  # the last stage, as `docker build` builds
    assert project.targets["web"].stage is None
    assert project.targets["pose-service"].context == "pose-service"


def test_skips_vcs_dependency_venv_build_and_gitignored_folders(tmp_path):
    dockerfile = "FROM x\n"
    write_tree(tmp_path, {
        "svc/Dockerfile": dockerfile,
        ".git/x/Dockerfile": dockerfile,
        "svc/node_modules/pkg/Dockerfile": dockerfile,
        "env/pyvenv.cfg": "",
        "env/lib/Dockerfile": dockerfile,
        "dist/Dockerfile": dockerfile,
        "scratch/Dockerfile": dockerfile,
        "nested/.gitignore": "ignored-here/\n",
        "nested/ignored-here/Dockerfile": dockerfile,
        "nested/kept/Dockerfile": dockerfile,
        ".gitignore": "scratch/\n",
    })
    assert find_dockerfile_dirs(tmp_path) == ["nested/kept", "svc"]


def test_nested_gitignore_does_not_leak_to_siblings(tmp_path):
    write_tree(tmp_path, {
        "a/.gitignore": "svc/\n",
        "a/svc/Dockerfile": "FROM x\n",
        "b/svc2/Dockerfile": "FROM x\n",
    })
    assert find_dockerfile_dirs(tmp_path) == ["b/svc2"]


def test_names_made_valid_and_collisions_never_stop(tmp_path):
    write_tree(tmp_path, {"svc.a/Dockerfile": "FROM x\n"})
    assert list(discover(tmp_path).targets) == ["svc_a"]
    write_tree(tmp_path, {"svc_a/Dockerfile": "FROM x\n"})
    project = discover(tmp_path)
    assert {t.origin: name for name, t in project.targets.items()} == {
        "svc.a/Dockerfile": "svc_a", "svc_a/Dockerfile": "svc_a-2"}


def test_bad_dockerfile_named_with_the_way_out(tmp_path):
    write_tree(tmp_path, {"svc/Dockerfile": "RUN x\n"})
    with pytest.raises(BakegenError, match="^svc/Dockerfile: no FROM instruction; fix it, or leave it out with "
                                           "project.exclude"):
        discover(tmp_path)


def test_dockerfiles_read_as_buildkit_reads_them(tmp_path):
    # A byte order mark and Latin-1 bytes in a comment are fine for BuildKit, so for bakegen.
    (tmp_path / "bom").mkdir()
    (tmp_path / "bom/Dockerfile").write_bytes(b"\xef\xbb\xbfFROM base AS runtime\n")
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin/Dockerfile").write_bytes(b"# caf\xe9\nFROM base\n")
    (tmp_path / "base").mkdir()
    (tmp_path / "base/Dockerfile").write_text("FROM scratch\n")
    project = discover(tmp_path)
    assert project.targets["bom"].parsed.stage_names() == {"runtime"}
    assert [s.image for s in project.targets["latin"].parsed.stages] == ["base"]


def test_config_exclude_patterns(tmp_path):
    from bakegen.config import load_project

    write_tree(tmp_path, {
        "svc/Dockerfile": "FROM x\n",
        "tests/e2e/fixture/web/Dockerfile": "FROM y\n",
        "bakegen.toml": '[project]\nexclude = ["tests/"]\n',
    })
    assert list(load_project(tmp_path).targets) == ["svc"]


def test_names_never_start_with_a_dash_and_tags_are_ascii():
    from bakegen.names import TAG, TARGET_NAME, target_name

    assert target_name("-dash") == "_dash" and target_name("a-b") == "a-b"
    assert not TARGET_NAME.match("-dash") and TARGET_NAME.match("_dash")
    assert TAG.match("v1.2_rc-3") and not TAG.match("café") and not TAG.match(".x")


def test_the_default_registry_comes_from_the_origin_remote_never_the_folder(tmp_path):
    import subprocess

    from bakegen.config import load_project

    for folder in ("one", "two"):  # two clones under other folder names emit the same file
        root = tmp_path / folder
        root.mkdir()
        (root / "svc").mkdir()
        (root / "svc/Dockerfile").write_text("FROM scratch\n")
        assert load_project(root).registry == "localhost:5000/app"
    subprocess.run(["git", "-C", str(tmp_path / "one"), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "one"), "remote", "add", "origin",
                    "git@github.com:Acme/Pose.App.git"], check=True)
    assert load_project(tmp_path / "one").registry == "ghcr.io/acme/pose.app"


def test_a_folder_name_that_is_not_utf8_is_an_error_naming_it(tmp_path):
    import os

    import pytest

    from bakegen.config import load_project
    from bakegen.model import BakegenError

    bad = os.path.join(os.fsencode(tmp_path), b"bad\xff")
    os.mkdir(bad)
    with open(os.path.join(bad, b"Dockerfile"), "w") as f:
        f.write("FROM scratch\n")
    with pytest.raises(BakegenError, match=r"b'bad\\xff/Dockerfile': a path that is not UTF-8"):
        load_project(tmp_path)
    (tmp_path / "bakegen.toml").write_text('[project]\nexclude = ["bad*"]\n')
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok/Dockerfile").write_text("FROM scratch\n")
    assert list(load_project(tmp_path).targets) == ["ok"]


def test_an_unreadable_folder_is_an_error_not_a_missing_target():
    """Run as a real non-root user (made for the test when running as root): root reads anything."""
    import os
    import shutil
    import site
    import subprocess
    import tempfile
    from pathlib import Path

    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root to run the check as another user")
    python = shutil.which("python3", path="/usr/bin:/bin")  # the venv's may live under /root, closed to others
    runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if python is None or runuser is None:
        pytest.skip("no system python3 or runuser for the other user")
    user = "bakegen-test-user"
    made_user = subprocess.run(["id", user], capture_output=True).returncode != 0
    if made_user:
        subprocess.run([shutil.which("useradd", path="/usr/sbin:/sbin") or "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    tree = Path(tempfile.mkdtemp(prefix="bakegen-unreadable-"))  # pytest's tmp folders are closed to others
    (tree / "svc").mkdir(parents=True)
    (tree / "svc/Dockerfile").write_text("FROM scratch\n")
    (tree / "locked/inner").mkdir(parents=True)
    (tree / "locked/inner/Dockerfile").write_text("FROM scratch\n")
    (tree / "locked").chmod(0o000)
    for folder in (tree, tree / "svc"):
        folder.chmod(0o755)
    try:
        code = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([code, *site.getsitepackages()])}
        done = subprocess.run([runuser, "-u", user, "--", python, "-m", "bakegen", "emit", "-o", "-", str(tree)],
                              capture_output=True, text=True, cwd="/", env=env)
    finally:
        (tree / "locked").chmod(0o755)
        shutil.rmtree(tree)
        if made_user:  # the machine keeps no account of ours
            subprocess.run([shutil.which("userdel", path="/usr/sbin:/sbin") or "userdel", user], check=True)
    assert done.returncode == 2, done.stdout[-500:] + done.stderr
    assert done.stderr.strip() == ("bakegen: error: locked: cannot read this folder (Permission denied); "
                                   "fix its permissions or leave it out with project.exclude")
