"""Runs last among the end-to-end tests (files run in name order): the user's builder and
engine are as they were before the suite, and nothing the suite made is left behind."""

from __future__ import annotations

import pytest

from bakegen.run import registry
from bakegen.run.scenario import cache_records

from .conftest import MARKER_TEXT, PREFIX, REGISTRY, SOURCE_LABEL, build_marker, remove_labelled_images

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", autouse=True)
def every_build_is_over(engine):
    """The images the suite built go now, after its last build, before this module looks."""
    remove_labelled_images(engine)


def test_the_users_builder_keeps_its_cache(engine, user_state, tmp_path):
    """The marker built on the user's builder before every other e2e test is still cached."""
    assert any(MARKER_TEXT in text for text in cache_records(user_state.builder).values())
    again = build_marker(user_state.builder, tmp_path)
    assert again.ok, again.error_line()
    marker_steps = [v for v in again.vertices if MARKER_TEXT in v.name]
    assert marker_steps and all(v.cached for v in marker_steps)


def test_the_users_cache_records_and_images_are_all_there(engine, user_state):
    assert user_state.records <= set(cache_records(user_state.builder))
    assert user_state.images <= {image.id for image in engine.images.list(all=True)}


def test_nothing_the_suite_pushed_or_tagged_is_left(engine):
    leftover = [tag for image in engine.images.list() for tag in image.tags if PREFIX in tag]
    assert leftover == []
    # Images the docker driver loaded untagged (linked bases) carry the session's source label.
    assert engine.images.list(all=True, filters={"label": f"{SOURCE_LABEL}={PREFIX}"}) == []
    left = [repo for repo in registry.repositories(REGISTRY, PREFIX) if registry.tags(REGISTRY, repo)]
    # The session's private builder pushed its base image under PREFIX: removed at session end,
    # after this test; everything else is gone already.
    assert left in ([], [f"{PREFIX}/busybox"])
