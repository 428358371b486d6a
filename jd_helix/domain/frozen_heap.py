"""Keep the cyclic garbage collector's full passes off a long, latency-bound loop.

A Dagster step process holds millions of long-lived objects (modules, Dagster's machinery).
Python's full (generation 2) collection walks them all: on a 168-hour posting step it ran
5 times for 3.7 s in all, up to 1.4 s at once, holding the GIL while the posting thread had
a request due; the rate limiter's windows slide on the requests actually sent, so a stall
is never made up. `gc.freeze()` moves the objects alive now out of the collector's sight
(they are still freed by reference counting); the objects the loop creates are collected
as usual, and `gc.unfreeze()` hands the old ones back afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
