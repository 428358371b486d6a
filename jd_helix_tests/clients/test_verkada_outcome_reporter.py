"""OutcomeReporter: on_batch_done runs in its own thread, in order, each outcome once; its
errors stop the posting and reach the caller."""

from __future__ import annotations

import threading

import pytest

from jd_helix.clients.verkada.events import PostOutcome
from jd_helix.clients.verkada.outcome_reporter import OutcomeReporter
from jd_helix.domain.helix_status import HelixStatus


def _batch(*keys: str) -> list[PostOutcome]:
    return [PostOutcome(key, HelixStatus.POSTED) for key in keys]


def test_outcomes_reach_the_caller_in_order_from_another_thread_and_all_before_close_returns() -> None:
    seen: list[str] = []
    threads: set[str] = set()
    release = threading.Event()

    def on_batch_done(outcomes: list[PostOutcome]) -> None:
        release.wait(5)  # a slow write: put must not wait for it
        threads.add(threading.current_thread().name)
        seen.extend(o.key for o in outcomes)

    reporter = OutcomeReporter(on_batch_done)
    for i in range(5):
        reporter.put(_batch(f"a{i}", f"b{i}"))
    assert seen == []  # the posting thread did not wait for the writes
    release.set()
    reporter.close()
    assert seen == [f"{x}{i}" for i in range(5) for x in "ab"]
    assert threads == {"verkada-outcomes"}


def test_outcomes_queued_while_a_call_runs_go_together_in_the_next_call_in_order() -> None:
    calls: list[list[str]] = []
    writing, release = threading.Event(), threading.Event()

    def on_batch_done(outcomes: list[PostOutcome]) -> None:
        calls.append([o.key for o in outcomes])
        writing.set()
        release.wait(5)  # a slow ledger write, while the posting goes on

    reporter = OutcomeReporter(on_batch_done)
    reporter.put(_batch("a0"))
    assert writing.wait(5)
    for i in range(1, 4):
        reporter.put(_batch(f"a{i}", f"b{i}"))
    release.set()
    reporter.close()
    assert calls == [["a0"], ["a1", "b1", "a2", "b2", "a3", "b3"]]  # one write caught up with three batches


def test_an_error_of_on_batch_done_stops_the_reporting_and_is_raised_to_the_posting_thread() -> None:
    seen: list[str] = []
    handed, failed = threading.Event(), threading.Event()

    def on_batch_done(outcomes: list[PostOutcome]) -> None:
        if any(o.key == "bad" for o in outcomes):
            failed.set()
            raise OSError("database is locked")
        seen.extend(o.key for o in outcomes)
        handed.set()

    reporter = OutcomeReporter(on_batch_done)
    reporter.put(_batch("ok"))
    assert handed.wait(5)  # a call of its own (queued together, they would fail together)
    reporter.put(_batch("bad"))
    assert failed.wait(5)
    with pytest.raises(OSError, match="database is locked"):
        for _ in range(100):  # the error reaches put as soon as the worker has recorded it
            reporter.put(_batch("after"))
            threading.Event().wait(0.01)
    with pytest.raises(OSError, match="database is locked"):
        reporter.close()
    assert seen == ["ok"]  # nothing after the failed call was handed over
