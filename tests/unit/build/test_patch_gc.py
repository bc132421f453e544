"""Rarer collector passes during the lifecycle, and the old thresholds afterwards."""

from __future__ import annotations

import gc

import pytest

from rockpack.build.patch_gc import LIFECYCLE_THRESHOLDS, fewer_collections


@pytest.fixture
def thresholds():
    previous = gc.get_threshold()
    yield
    gc.set_threshold(*previous)


def test_thresholds_are_raised_in_the_block_and_restored_after(thresholds):
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == LIFECYCLE_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error_too(thresholds):
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError
    assert gc.get_threshold() == (700, 10, 10)


def test_higher_thresholds_are_never_lowered(thresholds):
    gc.set_threshold(100_000, 5, 1000)
    with fewer_collections():
        assert gc.get_threshold() == (100_000, 20, 1000)


def test_collection_switched_off_stays_off(thresholds):
    gc.set_threshold(0)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0
