"""A failed step leads with its cause.

Dagster wraps an exception from an asset in "Error occurred while executing op ...",
followed by the stack trace, with the useful line at the very bottom. The project's own
errors (the APIs', the network's, the DuckDB file's) already say what went wrong and what
to do, so they are raised as a `dagster.Failure` whose description is that message: the
UI shows it first; the original exception stays attached as the cause.

Only a network failure (no answer after the HTTP session's own retries) lets the step's
RetryPolicy run it again: a refused key or a malformed answer will not mend in a minute.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import dagster as dg
import duckdb
import requests

from jd_helix.clients.jd.client import JdApiError
from jd_helix.clients.verkada.errors import VerkadaError

EXPLAINED = (JdApiError, VerkadaError, requests.RequestException, duckdb.IOException)

# Extract steps are idempotent (each replaces its own table or hours), so a retry of the step
# is safe and saves a whole run retry when the network drops for a moment. helix_events has
# none: its failed posts stay in the ledger for helix_retry_sensor, which re-posts the same
# pinned triple once, and a step retry would only race it for the same events.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def is_transient(error: BaseException) -> bool:
    """A network failure, raised as is or wrapped by a client (`raise ... from None` keeps it as context)."""
    return isinstance(error, requests.RequestException) or isinstance(error.__context__, requests.RequestException)


F = TypeVar("F", bound=Callable)


def explained_failures(fn: F) -> F:
    """Decorate an asset body (under @dg.asset) so that the errors above fail it with their message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EXPLAINED as error:
            raise dg.Failure(
                description=f"{error} ({type(error).__name__})",
                metadata={"cause": type(error).__name__},
                allow_retries=is_transient(error),
            ) from error

    return wrapper  # type: ignore[return-value]
