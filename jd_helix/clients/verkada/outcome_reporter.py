"""Hands outcomes to the caller's ``on_batch_done`` in a thread of its own, in order.

The caller records outcomes as they become final (the ledger: a DuckDB write per batch).
Done in the posting thread, that write delays the next request: a slot the rate limiter
would have given goes unused, and the whole schedule slides. Here the posting thread
only queues the outcomes; one worker thread calls ``on_batch_done`` with them, in the
order they came, each exactly once. What queued up while a call ran goes in the next call
together: a ledger write costs about the same for 1,000 outcomes as for 5,000 (opening the
file, the commit), so on a busy machine, where a write takes longer than a batch's requests,
the writes catch up instead of leaving a backlog for the end of the posting (measured: 100
writes of ~0.5 s each, 7.6-9.2 s waited for after the last request).

If ``on_batch_done`` raises, the posting thread gets the error at its next ``put`` (or at
``close``) and stops; outcomes queued after the failed call are not handed over, as if
the process had stopped there (the caller's rows stay pending and are sent again, with the
same triple, next time). ``close`` waits until every queued outcome has been handed over.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from jd_helix.clients.verkada.events import PostOutcome


class OutcomeReporter:
    def __init__(self, on_batch_done: Callable[[list[PostOutcome]], None]) -> None:
        self._on_batch_done = on_batch_done
        self._queue: queue.Queue[list[PostOutcome] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="verkada-outcomes", daemon=True)
        self._thread.start()

    def put(self, outcomes: list[PostOutcome]) -> None:
        """Queue ``outcomes`` for ``on_batch_done``; raise what an earlier call raised."""
        self._raise_error()
        self._queue.put(outcomes)

    def close(self) -> None:
        """Wait until every queued outcome has been handed over; raise what a call raised."""
        self._queue.put(None)
        self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        closing = False
        while not closing:
            outcomes = self._queue.get()
            if outcomes is None:  # close() was called
                return
            while True:  # with whatever queued up behind them, in order
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                outcomes = outcomes + more
            if self._error is not None:
                continue  # stopped: what comes after a failed call is not handed over
            try:
                self._on_batch_done(outcomes)
            except BaseException as exc:  # noqa: BLE001 - handed to the posting thread, raised there
                self._error = exc
