"""Worker start-up: the garbage collector's pace."""

from __future__ import annotations

import gc

from streamapp.worker import collect_in_full_less_often


def test_a_worker_collects_in_full_at_the_set_pace_and_young_objects_as_before(settings):
    before = gc.get_threshold()
    try:
        collect_in_full_less_often(settings.model_copy(update={"full_collection_every": 77}))
        assert gc.get_threshold() == (before[0], before[1], 77)
    finally:
        gc.set_threshold(*before)
