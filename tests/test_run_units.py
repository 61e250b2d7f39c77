"""Pure parts of the run layer: reading BuildKit's progress, rotating local cache folders."""

import json

from bakegen.run.cache import rotate_local_cache
from bakegen.run.progress import ProgressReader, as_step


def rawjson(*messages: dict) -> list[str]:
    """What buildx writes with --progress=rawjson: pretty-printed objects, one after another."""
    return [line + "\n" for m in messages for line in json.dumps(m, indent=2).splitlines()]


def test_progress_reader_tells_cached_from_executed_and_reports_as_vertices_complete():
    seen = []
    lines = [
        "#0 building with \"default\" instance using docker driver\n",
        *rawjson({"vertexes": [{"digest": "a", "name": "[pose deps 2/3] RUN pip install -r r.txt",
                                "started": "2026-01-01T00:00:00.000000001Z"}]}),
        *rawjson({"vertexes": [{"digest": "a", "name": "[pose deps 2/3] RUN pip install -r r.txt",
                                "started": "2026-01-01T00:00:00.000000001Z",
                                "completed": "2026-01-01T00:00:02.500000999Z"},
                               {"digest": "b", "name": "[base 1/2] RUN make", "cached": True,
                                "started": "2026-01-01T00:00:00Z", "completed": "2026-01-01T00:00:00Z"},
                               {"digest": "c", "name": "[pose] exporting cache to registry",
                                "error": "connection refused", "completed": "2026-01-01T00:00:03Z"}]}),
    ]
    reader = ProgressReader(on_vertex=lambda v: seen.append(v.name)).feed(lines)
    steps = {s.instruction: s for s in reader.steps()}
    assert steps["RUN pip install -r r.txt"].cached is False
    assert steps["RUN pip install -r r.txt"].target == "pose" and steps["RUN pip install -r r.txt"].stage == "deps"
    assert abs(steps["RUN pip install -r r.txt"].seconds - 2.5) < 0.001
    assert steps["RUN make"].cached and steps["RUN make"].stage is None
    assert len(reader.steps()) == 2  # the cache export is a vertex, not a Dockerfile step
    assert seen == ["[pose deps 2/3] RUN pip install -r r.txt", "[base 1/2] RUN make", "[pose] exporting cache to registry"]
    assert reader.other_lines == ['#0 building with "default" instance using docker driver']


def test_step_name_forms():
    from bakegen.run.progress import Vertex

    assert as_step(Vertex("[internal] load build definition from Dockerfile")) is None
    step = as_step(Vertex("[odd__HOME_dir runtime 10/12] COPY --from=build /a /b"))
    assert (step.target, step.stage, step.instruction) == ("odd__HOME_dir", "runtime", "COPY --from=build /a /b")
    # BuildKit pads the step number to the width of the count (seen with 12 steps)
    step = as_step(Vertex("[base-python-pose runtime  9/12] RUN --mount=type=bind,from=x true"))
    assert (step.target, step.stage, step.instruction) == ("base-python-pose", "runtime",
                                                           "RUN --mount=type=bind,from=x true")
    step = as_step(Vertex("[1/2] COPY a /a"))  # one target built: no label; a stage without a name
    assert (step.target, step.stage, step.instruction) == ("", None, "COPY a /a")


CACHE = ["index.json", "oci-layout"]


def make_folders(root, folders: dict[str, list[str]]) -> None:
    for name, files in folders.items():
        (root / name).mkdir()
        for f in files:
            (root / name / f).write_text(f)


def test_rotation_swaps_finished_caches_only(tmp_path):
    make_folders(tmp_path, {"web": [*CACHE, "old.blob"], "web.next": [*CACHE, "new.blob"],
                            "api": [*CACHE, "keep.blob"], "api.next": ["partial.blob"], "pose.old": ["stale"]})
    assert rotate_local_cache(tmp_path, ["web", "api", "pose"]) == (["web"], [])
    assert sorted(p.name for p in (tmp_path / "web").iterdir()) == ["index.json", "new.blob", "oci-layout"]
    assert (tmp_path / "api" / "keep.blob").exists()  # an unfinished export never replaces a cache
    assert not (tmp_path / "web.next").exists() and not (tmp_path / "web.old").exists()
    assert rotate_local_cache(tmp_path / "missing", ["web"]) == ([], [])


def test_rotation_never_touches_what_is_not_a_cache(tmp_path):
    """`[cache] directory = "."` with svc.next/ and notes.next/ beside the sources."""
    make_folders(tmp_path, {"svc": ["Dockerfile", "app.py"], "svc.next": [*CACHE],
                            "notes": ["todo.md"], "notes.next": [*CACHE], "docs.old": ["keep.md"]})
    assert rotate_local_cache(tmp_path, ["svc"]) == ([], ["svc"])
    assert sorted(p.name for p in (tmp_path / "svc").iterdir()) == ["Dockerfile", "app.py"]
    assert (tmp_path / "notes" / "todo.md").exists() and (tmp_path / "notes.next").exists()  # not a target
    assert (tmp_path / "docs.old" / "keep.md").exists()


def test_missing_cache_refs_are_one_note_and_real_failures_stay_warnings():
    from bakegen.run.bake import BakeResult
    from bakegen.run.progress import Vertex

    vertices = [
        Vertex("[api] importing cache manifest from r/c:api-feature", error="r/c:api-feature: not found"),
        Vertex("[web] importing cache manifest from r/c:web-feature", error="r/c:web-feature: not found"),
        Vertex("[web] exporting cache to registry", error="connection refused"),
    ]
    result = BakeResult(0, 1.0, [], [], vertices)
    assert result.caches_not_there_yet() == ["r/c:api-feature", "r/c:web-feature"]
    assert result.cache_problems()[-1] == "[web] exporting cache to registry: connection refused"
