"""uvicorn's h11 protocol with a deadline on each request's head (request line and headers).

uvicorn times out an idle connection only after a response: one that opens and sends its
headers a byte at a time, or never, is held for good (500 such connections were, issue 26).
Here a connection that has not sent a whole request head within `HEAD_TIMEOUT_S` of opening,
or of its last response, is closed. h11 itself bounds the head's size
(`h11_max_incomplete_event_size`, set by `jd-helix serve`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0


class H11ProtocolWithHeadTimeout(H11Protocol):
    head_timeout_s = HEAD_TIMEOUT_S
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._start_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _start_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        # A new request head makes a new cycle: the deadline passes if none has come since.
        waiting_after = self.cycle
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_overdue, waiting_after)

    def _head_overdue(self, waiting_after) -> None:
        idle = self.cycle is None or self.cycle.response_complete  # not answering a request
        if self.cycle is waiting_after and idle and not self.transport.is_closing():
            self.transport.close()


def with_head_timeout(seconds: float) -> type[H11ProtocolWithHeadTimeout]:
    """The protocol class to give uvicorn (it makes one per connection)."""
    return type("H11ProtocolWithHeadTimeout", (H11ProtocolWithHeadTimeout,), {"head_timeout_s": seconds})
