"""frozen_heap: the objects alive before the block are out of the collector's sight inside it."""

import gc

from jd_helix.domain.frozen_heap import frozen_heap


def test_the_heap_is_frozen_inside_the_block_and_handed_back_after() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 1000  # the modules and objects of this process
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # what the block makes is still collected
    assert gc.get_freeze_count() == 0
