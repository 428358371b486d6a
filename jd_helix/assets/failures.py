"""A failed step leads with its cause.

Dagster wraps an exception from an asset in "Error occurred while executing op ...",
followed by the stack trace, with the useful line at the very bottom. The project's own
errors (the APIs', the network's, the DuckDB file's) already say what went wrong and what
to do, so they are raised as a `dagster.Failure` whose description is that message: the
UI shows it first; the original exception stays attached as the cause.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import dagster as dg
import duckdb
import requests

from jd_helix.clients.jd.client import JdApiError
from jd_helix.clients.verkada.errors import VerkadaError

EXPLAINED = (JdApiError, VerkadaError, requests.RequestException, duckdb.IOException)

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
            ) from error

    return wrapper  # type: ignore[return-value]
