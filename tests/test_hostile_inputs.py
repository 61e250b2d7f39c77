"""What bakegen reads from a repository is hostile or careless input (issue 25, the input side):
paths that leave the repository, files that are no files, untracked values, inputs built to make
the work explode. Each case ends in the bake file or one line naming the file (and key), exit 2
where it is an error, never a traceback or a hang; nothing from outside the tree reaches the
output. Hangs run in a subprocess with a generous timeout, so a regression fails, not hangs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakegen import dockerignore
from bakegen.compose import MAX_YAML_NODES
from bakegen.render import BAKE_FILE
from bakegen.variables import MAX_LENGTH

from .helpers import bake_print, need_buildx, write_tree

SECRET = "s3cr3t-from-outside"
IGNORE = ".git/\n.env\n*.log\n"  # keeps the warnings about missing .dockerignore entries quiet
SERVICE = {"app/Dockerfile": "FROM alpine\nARG VERSION\n", "app/.dockerignore": IGNORE}


def bakegen(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own: a hang fails the test after 20 s."""
    done = subprocess.run([sys.executable, "-m", "bakegen", *args], cwd=root, capture_output=True, text=True,
                          timeout=20, env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in done.stderr, done.stderr
    assert all(line.startswith(("bakegen:", "wrote")) for line in done.stderr.splitlines()), done.stderr
    return done


def emit(root: Path) -> subprocess.CompletedProcess[str]:
    done = bakegen(root, "emit", str(root))
    assert done.returncode == 0, done.stderr
    assert SECRET not in (root / BAKE_FILE).read_text()
    return done


def error(root: Path, *args: str) -> str:
    """The one line of an error (exit 2)."""
    done = bakegen(root, *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert SECRET not in done.stderr
    return done.stderr


def warning(done: subprocess.CompletedProcess[str], text: str) -> str:
    """The one warning line containing `text`."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("bakegen: warning:") and text in line]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository beside a folder it must never read: `outside` (a Dockerfile, a secret)."""
    outside = write_tree(tmp_path / "outside", {"Dockerfile": "FROM alpine\n", "secret.env": f"VERSION={SECRET}\n"})
    assert outside.is_dir()
    root = tmp_path / "repo"
    root.mkdir()
    return root


def compose(build: str, extra: str = "") -> str:
    return f"services:\n  web:\n    build:\n{build}{extra}"


# --- 1. one rule for paths ---------------------------------------------------------------------

@pytest.mark.parametrize(("build", "key", "link"), [
    ("      context: /etc\n", "build.context: '/etc' is outside the repository (an absolute path)", None),
    ("      context: ../../..\n", "build.context: '../../..' is outside the repository (.. leads out)", None),
    ("      context: out\n", "build.context: 'out' is outside the repository (a symlink leads out)", "out"),
    ("      context: app\n      dockerfile: ../../outside/Dockerfile\n", "build.dockerfile: '../../outside/Dockerfile'",
     None),
    ("      context: app\n      dockerfile: link/Dockerfile\n", "build.dockerfile: 'link/Dockerfile' is outside", "app/link"),
    ("      context: app\n      additional_contexts:\n        etc: /etc\n", "build.additional_contexts.etc: '/etc'", None),
    ("      context: app\n      additional_contexts:\n        - up=../..\n", "build.additional_contexts.up: '../..'", None),
    ("      context: app\n      additional_contexts:\n        o: out\n", "build.additional_contexts.o: 'out'", "out"),
    ("      context: app\n      x-bake:\n        contexts:\n          etc: /etc\n", "build.x-bake.contexts.etc: '/etc'",
     None),
])
def test_compose_paths_leaving_the_repository_leave_the_service_out(repo, build, key, link):
    write_tree(repo, {**SERVICE, "compose.yaml": compose(build)})
    if link:
        (repo / link).symlink_to(repo.parent / "outside")
    done = emit(repo)
    line = warning(done, "compose services left out")
    assert f"compose.yaml: web ({key}" in line
    assert list(bake_print(repo)["target"]) == ["app"]  # the Dockerfile itself, from its own folder


def test_a_dotenv_linking_out_of_the_repository_is_never_read(repo):
    write_tree(repo, {**SERVICE, "compose.yaml": compose("      context: app\n      args:\n        VERSION: "
                                                         "${VERSION:-1.0}\n")})
    (repo / ".env").symlink_to(repo.parent / "outside/secret.env")
    done = emit(repo)
    assert ".env files not read" in warning(done, ".env (") and "a symlink leads out" in done.stderr
    assert bake_print(repo)["target"]["web"]["args"] == {"VERSION": "1.0"}


def test_compose_env_file_is_never_read(repo):
    """`env_file` is the container's environment, not the build's: bakegen has no reason to open it."""
    write_tree(repo, {**SERVICE, "compose.yaml": compose("      context: app\n", "    env_file: /etc/passwd\n")})
    emit(repo)
    assert "root:" not in (repo / BAKE_FILE).read_text()


@pytest.mark.parametrize(("toml", "key"), [
    ('[targets.app]\ncontexts = { etc = "/etc" }\n', "targets.app.contexts.etc: '/etc' is outside the repository"),
    ('[targets.app]\ncontexts = { up = "../outside" }\n', "targets.app.contexts.up: '../outside' is outside"),
    ('[targets.app]\ncontexts = { o = "out" }\n', "targets.app.contexts.o: 'out' is outside the repository (a symlink"),
])
def test_config_paths_leaving_the_repository_are_refused(repo, toml, key):
    write_tree(repo, {**SERVICE, "bakegen.toml": toml})
    (repo / "out").symlink_to(repo.parent / "outside")
    assert f"bakegen.toml: {key}" in error(repo, "emit", str(repo))
    assert not (repo / BAKE_FILE).exists()


def test_config_contexts_that_are_no_folder_are_kept(repo):
    write_tree(repo, {**SERVICE, "bakegen.toml": '[targets.app]\ncontexts = { i = "docker-image://alpine", '
                                                 'g = "https://github.com/a/b.git" }\n'})
    emit(repo)
    assert bake_print(repo)["target"]["app"]["contexts"] == {"i": "docker-image://alpine",
                                                              "g": "https://github.com/a/b.git"}


def test_a_config_file_linking_out_of_the_repository_is_refused(repo):
    write_tree(repo, SERVICE)
    (repo.parent / "outside/bakegen.toml").write_text('[project]\nregistry = "evil.example/x"\n')
    (repo / "bakegen.toml").symlink_to(repo.parent / "outside/bakegen.toml")
    assert "bakegen.toml: 'bakegen.toml' is outside the repository (a symlink leads out)" in error(
        repo, "emit", str(repo))


# --- discovery reads regular files only ---------------------------------------------------------

@pytest.mark.parametrize("fifo", ["svc/Dockerfile", ".env", ".gitignore", "app/.dockerignore", "compose.yaml",
                                  "bakegen.toml"])
def test_a_fifo_is_never_opened(repo, fifo):
    write_tree(repo, {**SERVICE, "compose.yaml": compose("      context: app\n")})
    (repo / fifo).unlink(missing_ok=True)
    (repo / fifo).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(repo / fifo)  # opening it for reading would block forever: no writer ever comes
    if fifo == "bakegen.toml":
        assert "bakegen.toml: not a regular file" in error(repo, "emit", str(repo))
        return
    done = emit(repo)
    if fifo == "svc/Dockerfile":
        assert "svc/Dockerfile: not a regular file (a FIFO)" in warning(done, "files not read")
    if fifo == "compose.yaml":
        assert "compose.yaml (not a regular file (a FIFO); not read)" in warning(done, "compose files not read")
    if fifo == ".env":
        assert ".env (not a regular file (a FIFO); not read)" in warning(done, ".env files not read")
    if fifo == ".gitignore":
        assert ".gitignore: not a regular file (a FIFO)" in warning(done, "files not read")
    (repo / fifo).unlink()  # buildx itself would block on a FIFO .env or compose.yaml
    assert bake_print(repo)["target"]


def test_a_huge_file_is_not_read_whole(repo):
    write_tree(repo, {**SERVICE, "compose.yaml": compose("      context: app\n") + "#" * (5 * 1024 * 1024) + "\n"})
    assert "compose.yaml (larger than 4 MB; not read)" in warning(emit(repo), "compose files not read")


# --- 2. untracked or ignored files never decide the committed bake file --------------------------

def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


@pytest.mark.parametrize("how", ["untracked", "gitignored"])
def test_an_env_file_git_does_not_track_gives_no_value(repo, how):
    files = {**SERVICE, "compose.yaml": compose("      context: app\n      args:\n        VERSION: ${VERSION:-1.0}\n"
                                                "        OTHER: ${OTHER:-x}\n")}
    if how == "gitignored":
        files[".gitignore"] = ".env\n"
    write_tree(repo, files)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    (repo / ".env").write_text("VERSION=9.9-on-my-laptop\nUNUSED=1\n")
    line = warning(emit(repo), ".env values ignored")
    assert line.endswith("(the compose files' own defaults are used): .env (VERSION)")
    assert bake_print(repo)["target"]["web"]["args"] == {"VERSION": "1.0", "OTHER": "x"}
    git(repo, "add", "-f", ".env")  # once committed, a clean clone has it too: it counts
    emit(repo)
    assert bake_print(repo)["target"]["web"]["args"]["VERSION"] == "9.9-on-my-laptop"


def test_outside_a_git_repository_the_env_file_counts(repo):
    write_tree(repo, {**SERVICE, "compose.yaml": compose("      context: app\n      args:\n        VERSION: ${VERSION}\n"),
                      ".env": "VERSION=2.0\n"})
    done = emit(repo)
    assert ".env" not in done.stderr
    assert bake_print(repo)["target"]["web"]["args"] == {"VERSION": "2.0"}


# --- 3. bounded work ---------------------------------------------------------------------------

BACKTRACKING = ["*a*a*a*a*a*a*a*a*a*b", "**/" * 300 + "x", "a*" * 40 + "b"]


def test_ignore_patterns_that_backtrack_finish(repo):
    """Python's `re` takes minutes on these; BuildKit's (Go's) regexp and RE2 are linear."""
    deep = "a" * 60 + "/" + "a/" * 100 + "a" * 60
    write_tree(repo, {**SERVICE, "app/.dockerignore": IGNORE + "\n".join(BACKTRACKING) + "\n", f"app/{deep}": "x\n",
                      "bakegen.toml": f"[project]\nexclude = {BACKTRACKING!r}\n".replace("'", '"')})
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    (repo / "app" / deep).write_text("changed\n")
    emit(repo)
    done = bakegen(repo, "affected", str(repo), "--since", "HEAD")
    assert done.returncode == 0 and done.stdout.split() == ["app"], done.stderr


def test_gitignore_patterns_that_backtrack_finish(repo):
    """Not in a git repository: git's own wildmatch backtracks on these lines too (see the report)."""
    deep = "a" * 60 + "/" + "a/" * 100 + "a" * 60
    write_tree(repo, {**SERVICE, ".gitignore": "\n".join(BACKTRACKING) + "\n", f"app/{deep}": "x\n",
                      f"{deep}/Dockerfile": "FROM alpine\n"})
    emit(repo)
    assert sorted(bake_print(repo)["target"]) == ["a" * 60, "app"]


def test_backtracking_patterns_match_as_buildkit_does():
    rules = dockerignore.parse("\n".join(BACKTRACKING))
    assert dockerignore.is_ignored(rules, "xaxaxaxaxaxaxaxaxab")
    assert dockerignore.is_ignored(rules, "d/e/f/x")
    assert not dockerignore.is_ignored(rules, "a" * 100)


# moby/patternmatcher's own table (patternmatcher_test.go, TestMatches and TestMatch): the matcher
# must keep BuildKit's answers while it changes engine.
@pytest.mark.parametrize(("pattern", "path", "ignored"), [
    ("**", "dir/file", True), ("**/", "file", True), ("**/**", "dir/file", True), ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**file", "dir/dir/file", True), ("**/file*txt", "dir/dir/file.txt", True), ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True), ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt**", "a/file.txt", True), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc?def", "abcZdef", True),
    ("abc/**", "abc", False), ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True), ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True), ("a\\*b", "a*b", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("a?b", "a☺b", True), ("[a-ζ]*", "α", True), ("[\\]a]", "]", True),
    ("[x\\-]", "-", True), ("a?b", "a/b", False),
])
def test_ignore_patterns_match_as_buildkit_does(pattern, path, ignored):
    assert dockerignore.is_ignored(dockerignore.parse(pattern), path) is ignored


@pytest.mark.parametrize("pattern", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a["])
def test_patterns_go_calls_malformed_match_nothing(pattern):
    (rule,) = dockerignore.parse(pattern)
    assert rule.problem and not dockerignore.is_ignored([rule], pattern)


@pytest.mark.parametrize(("line", "problem"), [
    ("[z-a]", "invalid character class range"),  # Go's regexp refuses it, as RE2 does
    ("[", "an empty or unclosed [ ]"),  # Go's filepath.Match refuses it
    ("a[^bc", "an unclosed ["),
    ("!", "a lone !"),
])
def test_a_malformed_dockerignore_line_is_one_warning_naming_file_and_line(repo, line, problem):
    write_tree(repo, {**SERVICE, "app/.dockerignore": f"{IGNORE}{line}\n"})
    done = emit(repo)
    assert f"app/.dockerignore:4 {line} ({problem})" in warning(done, "ignore patterns that are no pattern")
    assert "syntax error in pattern" in done.stderr  # what BuildKit will say when it builds this context


def test_a_malformed_gitignore_line_is_one_warning_and_matches_nothing(repo):
    write_tree(repo, {**SERVICE, ".gitignore": "[z-a]\nother/\n", "other/Dockerfile": "FROM alpine\n",
                      "other/.dockerignore": IGNORE})
    done = emit(repo)
    assert ".gitignore:1 [z-a]" in warning(done, ".gitignore lines that are no pattern")
    assert list(bake_print(repo)["target"]) == ["app"]  # line 2 still holds


def test_a_malformed_exclude_pattern_is_refused_naming_the_key(repo):
    write_tree(repo, {**SERVICE, "bakegen.toml": '[project]\nexclude = ["[z-a]"]\n'})
    assert "project.exclude: '[z-a]' is not a pattern" in error(repo, "emit", str(repo))


BILLION_LAUGHS = (  # 9 levels of 9 aliases: 9**9 strings once expanded, from a few hundred bytes
    'services:\n  web:\n    build:\n      context: app\n      args:\n'
    '        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"        {n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
              for p, n in zip("abcdefgh", "bcdefghi", strict=True))
)


def test_a_yaml_alias_bomb_is_refused_in_one_line(repo):
    assert len(BILLION_LAUGHS) < 600
    write_tree(repo, {**SERVICE, "compose.yaml": BILLION_LAUGHS})
    line = warning(emit(repo), "compose files not read")
    assert "compose.yaml (compose.yaml:" in line and f"aliases expand to more than {MAX_YAML_NODES} values" in line


@pytest.mark.parametrize(("text", "said"), [
    ("services:\n  web:\n    build:\n      args: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),  # libyaml's own bound (1000 levels) or ours
    ("x: &a [1]\nservices: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "nested more than 100 levels"),
    ("services:\n  web:\n    build: app\n    x: " + "9" * 5000 + "\n", "Exceeds the limit (4300 digits)"),
    ("services:\n  web: [\n", "malformed YAML"),
])
def test_compose_files_beyond_the_bounds_are_one_warning(repo, text, said):
    write_tree(repo, {**SERVICE, "compose.yaml": text})
    line = warning(emit(repo), "compose files not read")
    assert line.count("compose.yaml") >= 1 and said in line


def test_an_env_file_doubling_its_value_is_refused_naming_file_and_variable(repo):
    env = "A=x\n" + "A=${A}${A}\n" * 40
    # In a folder of its own: buildx reads a `.env` where it runs, and fails on this one itself.
    write_tree(repo, {**SERVICE, "app/compose.yaml": compose("      context: .\n      args:\n        VERSION: ${A:-1}\n"),
                      "app/.env": env})
    line = warning(emit(repo), ".env files not read")
    assert f"app/.env (A: expands to more than {MAX_LENGTH} characters)" in line
    assert bake_print(repo)["target"]["web"]["args"] == {"VERSION": "1"}


def test_compose_interpolation_nested_too_deep_leaves_the_service_out(repo):
    deep = "${B:-" * 600 + "x" + "}" * 600
    write_tree(repo, {**SERVICE, "compose.yaml": compose(f"      context: app\n      args:\n        V: '{deep}'\n")})
    assert "compose.yaml: web (B: variables nested more than 32 deep)" in warning(emit(repo), "services left out")


def test_from_nested_too_deep_is_one_error_naming_file_line_and_variable(repo):
    deep = "${A:-" * 600 + "alpine" + "}" * 600
    write_tree(repo, {"svc/Dockerfile": f"ARG A\nFROM {deep}\n"})
    assert "svc/Dockerfile:2: FROM ${A:-${A:-" in (line := error(repo, "emit", str(repo)))
    assert line.rstrip().endswith("A: variables nested more than 32 deep")


def test_arg_defaults_doubling_are_one_error_naming_the_variable(repo):
    write_tree(repo, {"svc/Dockerfile": "ARG A=x\n" + "ARG A=${A}${A}\n" * 41 + "FROM alpine:$A\n"})
    assert f"svc/Dockerfile:43: the ARGs before this FROM: A: expands to more than {MAX_LENGTH}" in error(
        repo, "emit", str(repo))


def test_a_syntax_directive_padded_with_spaces_is_read_quickly(repo):
    """`(.+?)\\s*$` over 50,000 spaces took 14 s; the directive is split by hand now."""
    write_tree(repo, {"svc/Dockerfile": "# syntax = docker/dockerfile:1" + " " * 50_000 + "x\nFROM alpine\n",
                      "svc/.dockerignore": IGNORE, "svc/.env": "A=1" + " " * 50_000 + "x #c\n"})
    done = emit(repo)
    assert "docker/dockerfile:1" in warning(done, "`# syntax=` pulls a frontend image")


@pytest.mark.parametrize(("toml", "said"), [
    ("[project]\ntag = " + "9" * 5000 + "\n", "bakegen.toml:2: malformed TOML: Exceeds the limit (4300 digits)"),
    ("[project]\nexclude = " + "[" * 3000 + "]" * 3000 + "\n", "bakegen.toml: malformed TOML: arrays or tables nested"),
])
def test_toml_beyond_pythons_limits_is_one_error(repo, toml, said):
    write_tree(repo, {**SERVICE, "bakegen.toml": toml})
    assert said in error(repo, "emit", str(repo))


# --- 4. wrong answers and errors ---------------------------------------------------------------

@pytest.mark.parametrize(("build", "key"), [
    ("      context: app\n      additional_contexts: 5\n", "build.additional_contexts: expected a mapping or a list, got a number"),
    ("      context: app\n      args: yes\n", "build.args: expected a mapping or a list, got a boolean"),
    ("      context: [app]\n", "build.context: expected a path, got a list"),
    ("      context: app\n      args:\n        A: {b: 1}\n", "build.args.A: expected text, got a mapping"),
    ("      context: app\n      target: true\n", "build.target: expected a stage name, got a boolean"),
    ("      context: app\n      additional_contexts:\n        - [x]\n", "build.additional_contexts: expected K=V items, got a list"),
    ("      context: app\n      x-bake: [contexts]\n", "build.x-bake: expected a mapping, got a list"),
    ("      context: app\n      x-bake:\n        contexts: 5\n", "build.x-bake.contexts: expected a mapping or a list, got a number"),
])
def test_compose_values_of_the_wrong_type_are_a_warning_naming_file_service_key(repo, build, key):
    write_tree(repo, {**SERVICE, "compose.yaml": compose(build)})
    assert f"compose.yaml: web ({key})" in warning(emit(repo), "compose services left out")


def test_required_variable_in_from_takes_its_value(repo):
    write_tree(repo, {"svc/Dockerfile": "ARG X=alpine\nFROM ${X:?set-X-to-a-base}\n", "svc/.dockerignore": IGNORE})
    emit(repo)
    assert list(bake_print(repo)["target"]) == ["svc"]


def test_required_variable_in_from_unset_quotes_the_message(repo):
    write_tree(repo, {"svc/Dockerfile": "ARG X\nFROM ${X:?set-X-to-a-base}\n"})
    line = error(repo, "emit", str(repo))
    assert "svc/Dockerfile:2: FROM ${X:?set-X-to-a-base}: ARG X has no value ('set-X-to-a-base', says the " in line
    write_tree(repo, {"bakegen.toml": '[targets.svc.args]\nX = "alpine"\n', "svc/.dockerignore": IGNORE})
    emit(repo)  # the advice given fixes it


def test_two_names_entries_giving_one_name_are_an_error_naming_both(repo):
    write_tree(repo, {"a/Dockerfile": "FROM alpine\n", "b/Dockerfile": "FROM alpine\n",
                      "bakegen.toml": '[names]\n"a/Dockerfile" = "web"\n"b/Dockerfile" = "web"\n'})
    assert ("bakegen.toml: names.a/Dockerfile and names.b/Dockerfile: both name 'web'; one target would replace "
            "the other") in error(repo, "emit", str(repo))


@pytest.mark.parametrize("folder", ["-", "-x", "https:", "github.com/x", "a@b"])
def test_a_folder_whose_name_bake_reads_as_stdin_or_a_remote_stays_a_local_context(tmp_path, folder):
    need_buildx()
    root = tmp_path / "repo"
    (root / folder).mkdir(parents=True)
    (root / folder / "Dockerfile").write_text("FROM alpine\nCOPY . /app\n")
    done = subprocess.run([sys.executable, "-m", "bakegen", "emit", "-q", str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    printed = bake_print(root)
    (target,) = printed["target"].values()
    assert target["context"] == f"./{folder}" or target["context"] == folder
    assert (root / target["context"]).resolve() == (root / folder).resolve()


def test_a_folder_bake_reads_as_a_git_remote_is_left_out_with_a_warning(tmp_path):
    need_buildx()
    root = write_tree(tmp_path / "repo", {"git@host:repo/Dockerfile": "FROM alpine\n", "web/Dockerfile": "FROM alpine\n"})
    done = subprocess.run([sys.executable, "-m", "bakegen", "emit", str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "reads as a git remote" in done.stderr and "git@host:repo/Dockerfile" in done.stderr
    assert set(bake_print(root)["target"]) == {"web"}


def test_a_dockerignore_linked_out_of_the_repository_is_never_read(tmp_path):
    outside = tmp_path / "outside-ignore"
    outside.write_text("*\n")  # would hide every change from `affected` if it were read
    root = write_tree(tmp_path / "repo", {"web/Dockerfile": "FROM alpine\nCOPY . /app\n"})
    (root / "web/.dockerignore").symlink_to(outside)
    done = subprocess.run([sys.executable, "-m", "bakegen", "emit", str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ignore files not read: web/.dockerignore" in done.stderr and "outside the repository" in done.stderr
    from bakegen import dockerignore
    from bakegen.paths import Unreadable
    with pytest.raises(Unreadable, match="outside the repository"):
        dockerignore.read_for(root, "web", "Dockerfile")


@pytest.mark.parametrize("value", ["oci-layout:///etc/layout", "oci-layout://../../layout:v1", "oci-layout://../x@sha256:ab"])
def test_an_oci_layout_context_outside_the_repository_is_refused_naming_the_key(tmp_path, value):
    root = write_tree(tmp_path / "repo", {**SERVICE, "bakegen.toml": f'[targets.app.contexts]\nlayout = "{value}"\n'})
    done = bakegen(root, "emit")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "targets.app.contexts.layout" in done.stderr and "outside the repository" in done.stderr


def test_an_oci_layout_context_inside_the_repository_is_kept(tmp_path):
    root = write_tree(tmp_path / "repo", {**SERVICE, "layouts/base/index.json": "{}\n",
                                          "bakegen.toml": '[targets.app.contexts]\nlayout = "oci-layout://layouts/base:v1"\n'})
    done = bakegen(root, "emit")
    assert done.returncode == 0, done.stderr
    from bakegen.paths import context_folder
    assert context_folder("oci-layout://layouts/base:v1@sha256:ab") == "layouts/base"
    assert context_folder("target:base") is None and context_folder("docker-image://x") is None
    assert context_folder("../x") == "../x"


def test_build_scripts_naming_absurd_paths_cost_nothing_and_stop_nothing(repo):
    """A script's `-f` of a million characters (no file system takes such a name), a Makefile line
    of 200,000 flags and 50,000 unclosed `$(`: read within bounds, the Dockerfile still a target."""
    write_tree(repo, {
        "svc/Dockerfile": "FROM alpine\nCOPY . /x\n",
        "build.sh": f'docker build -f "{"a" * 1_000_000}" .\ndocker buildx build --target {" " * 500_000}x svc\n',
        "Makefile": "build:\n\tdocker build " + "-f " * 200_000 + "svc/Dockerfile .\n\t" + "$(" * 50_000 + "\n",
    })
    done = emit(repo)
    assert "svc" in (repo / BAKE_FILE).read_text() and len(done.stderr) < 2_000


def test_an_error_naming_a_huge_path_is_one_short_line(repo):
    done = bakegen(repo, "emit", str(repo), "-c", "x" * 5_000)  # a config path no file system takes
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and len(done.stderr) < 2_100


def test_a_matrix_of_millions_of_variants_is_one_line_at_once(repo):
    values = ", ".join(f'"{i}"' for i in range(200))
    write_tree(repo, {"svc/Dockerfile": "FROM alpine\n",
                      "bakegen.toml": f"[targets.svc.matrix]\na = [{values}]\nb = [{values}]\nc = [{values}]\n"})
    done = bakegen(repo, "emit", str(repo))  # 8,000,000 targets were made, one by one, before
    assert done.returncode == 2 and "targets.svc.matrix: 8000000 variants; at most 256" in done.stderr
    assert not (repo / BAKE_FILE).exists()


@pytest.mark.parametrize("toml, key", [
    ('[defaults]\nplatforms = ["linux/amd64\\n"]\n', "defaults.platforms"),
    ('[targets.svc]\ntags = ["v1\\n"]\n', "targets.svc.tags"),
    ('[project]\ntag = "v1\\n"\n', "project.tag"),
    ('[project]\nregistry = "ghcr.io/acme\\n"\n', "project.registry"),
], ids=["platform", "tag", "project-tag", "registry"])
def test_a_value_ending_in_a_newline_is_refused(repo, toml, key):
    """`$` in a Python pattern also matches before a last newline: every check anchors with \\Z."""
    write_tree(repo, {"svc/Dockerfile": "FROM alpine\n", "bakegen.toml": toml})
    done = bakegen(repo, "emit", str(repo))
    assert done.returncode == 2 and key in done.stderr and not (repo / BAKE_FILE).exists()
