"""Prefetched: the posting thread's batches made ahead by a thread of their own."""

import threading

import pytest

from jd_helix.clients.verkada.prefetch import Prefetched


def test_items_come_in_order_and_the_source_is_read_at_most_depth_plus_one_ahead() -> None:
    taken = 0
    made_ahead: list[int] = []

    def source():
        nonlocal taken
        for i in range(10):
            taken += 1
            yield i

    items = Prefetched(source(), depth=2)
    got = []
    for item in items:
        made_ahead.append(taken - item - 1)
        got.append(item)
    items.close()
    assert got == list(range(10))
    assert max(made_ahead) <= 3  # two queued and one in the worker's hands


def test_an_error_making_an_item_is_raised_where_the_item_was_wanted() -> None:
    def source():
        yield 1
        raise ValueError("bad event")

    items = Prefetched(source())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad event"):
        next(items)
    assert list(items) == []
    items.close()


def test_close_stops_the_worker_and_closes_a_half_read_source() -> None:
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield "batch"
        finally:
            closed.set()

    items = Prefetched(endless(), depth=1)
    assert next(items) == "batch"
    items.close()
    assert closed.is_set()
    assert list(items) == []
