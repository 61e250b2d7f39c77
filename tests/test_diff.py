"""`emit --check`'s diff: correct for any change, and its cost grows with the change, not the file."""

import re

from hypothesis import given
from hypothesis import strategies as st

from bakegen.render import bounded_diff

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply(diff: str, original: str) -> str:
    """Apply a unified diff (the way `patch` would) and return the new text."""
    old = original.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for line in diff.splitlines(keepends=True):
        m = HUNK.match(line)
        if m:
            start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
            out += old[at:start]
            at = start
        elif line.startswith(("---", "+++")) and not out and at == 0:
            continue
        elif line.startswith(" "):
            assert old[at] == line[1:]
            out.append(old[at])
            at += 1
        elif line.startswith("-"):
            assert old[at] == line[1:]
            at += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return "".join(out + old[at:])


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "target\n", "}\n"]), max_size=40)


@given(lines, lines)
def test_the_diff_turns_the_file_on_disk_into_the_generated_one(old, new):
    before, after = "".join(old), "".join(new)
    diff = bounded_diff(before, after, "docker-bake.hcl")
    if len(old) + len(new) <= 2000:
        assert apply(diff, before) == after


def test_one_changed_line_in_a_huge_file_is_one_small_hunk():
    """Its time is a benchmark (tests/test_bench.py); here: only the change and its context are diffed."""
    old = "".join(f"line {i}\n" for i in range(200_000))
    new = old.replace("line 100000\n", "line 100000 changed\n")
    diff = bounded_diff(old, new, "f")
    assert diff.count("\n@@ ") == 1 and "@@ -99998,7 +99998,7 @@" in diff
    assert apply(diff, old) == new


def test_a_change_too_large_to_read_is_summarised():
    old = "".join(f"old {i}\n" for i in range(3000))
    new = "".join(f"new {i}\n" for i in range(3000))
    diff = bounded_diff(old, new, "f")
    assert "lines 1-3000 on disk differ from lines 1-3000 generated: 3000 and 3000 lines, too many to show" in diff
    assert len(diff.splitlines()) == 3
