"""A shared factory for polite `requests.Session`s: urllib3 retries, explicit timeouts, hooks.

Every outside HTTP API the project talks to (the JD retail API, Verkada) goes through a
session made here, so that they all retry the same way:

* **Retries live in urllib3** (:class:`PoliteRetry`, a :class:`urllib3.util.Retry`):
  429/500/502/503/504, connect and read errors, exponential backoff with jitter, bounded
  by ``max_retries``. ``Retry-After`` is honoured (capped at ``retry_after_max_s``) plus a
  little jitter; a 429 that carries no ``Retry-After`` waits ``default_429_wait_s`` plus
  jitter. ``allowed_methods=None``: every method is retried, so only use this for APIs
  whose writes are idempotent (both of ours are). After the last retry the last response
  is *returned* (``raise_on_status=False``) so the caller can read the server's error
  body; exhausted connection/read errors raise ``requests.ConnectionError``/``Timeout``.
  Every retry is logged as a warning (what failed, the attempt, the wait, retries left),
  which inside a run lands in the run's log, so a slow step says it is retrying.
* **Explicit timeouts**: a request sent without ``timeout=`` gets ``(connect_s, read_s)``.
* **Per-attempt hooks**: ``before_attempt(method, url)`` runs right before each HTTP
  request actually goes on the wire (first attempt *and* every urllib3 retry), and
  ``after_attempt(status, headers)`` right after each response head is read. They run
  inside urllib3's connection, below its retry loop, which is the only place where every
  attempt is visible: use them for rate limiters and request counters.

Usage::

    session = make_session(max_retries=5, timeout=(5, 30), before_attempt=limiter.acquire)
    session.get("https://api.example.com/things")
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster import get_dagster_logger
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

# Inside a Dagster run this logger's records land in the run's log (as warnings).
retry_log = get_dagster_logger("jd_helix.http")

BeforeAttempt = Callable[[str, str], None]
AfterAttempt = Callable[[int, Mapping[str, str]], None]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PoliteRetry(Retry):
    """urllib3 ``Retry`` that waits ``default_429_wait_s`` (+ jitter) on a 429 without
    ``Retry-After`` and adds ``retry_after_jitter_s`` of jitter to every server-given wait,
    so that many clients told "wait 5 s" do not all come back on the same millisecond."""

    def __init__(
        self,
        *args: Any,
        default_429_wait_s: float = 5.0,
        retry_after_jitter_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.default_429_wait_s = default_429_wait_s
        self.retry_after_jitter_s = retry_after_jitter_s
        self._sleep = sleep

    def new(self, **kw: Any) -> PoliteRetry:
        kw.setdefault("default_429_wait_s", self.default_429_wait_s)
        kw.setdefault("retry_after_jitter_s", self.retry_after_jitter_s)
        kw.setdefault("sleep", self._sleep)
        return super().new(**kw)

    def server_wait_s(self, response: Any) -> float | None:
        """Seconds the server asked us to wait (Retry-After, or the 429 default), or None."""
        retry_after = self.get_retry_after(response) if self.respect_retry_after_header else None
        if retry_after is not None:
            return retry_after
        if getattr(response, "status", None) == 429:
            return self.default_429_wait_s
        return None

    def wait_s(self, response: Any = None) -> float:
        """The wait before the next attempt: the server's (plus jitter), else the backoff."""
        wait = self.server_wait_s(response) if response is not None else None
        if wait is None:
            return self.get_backoff_time()
        return wait + random.uniform(0, self.retry_after_jitter_s)

    def sleep(self, response: Any = None) -> None:
        wait = self.wait_s(response)
        retry_log.warning(self.describe_retry(wait))
        if wait > 0:
            self._sleep(wait)

    def describe_retry(self, wait: float) -> str:
        """One line a person can read: what failed, which retry this is, how long we wait."""
        last = self.history[-1] if self.history else None
        if last is None:
            return f"HTTP retry: waiting {wait:.1f} s"
        path = urlsplit(last.url or "").path or "/"  # no query string: nothing secret, nothing long
        cause = f"HTTP {last.status}" if last.status else type(last.error).__name__ if last.error else "no answer"
        attempt = len(self.history)
        left = self.total if isinstance(self.total, int) else "?"
        when = f"retrying in {wait:.1f} s" if wait > 0 else "retrying at once"
        return f"{last.method} {path}: {cause} on attempt {attempt}; {when} ({left} retries left)"


def make_retry(
    max_retries: int = 5,
    *,
    backoff_factor: float = 0.5,
    backoff_max_s: float = 30.0,
    backoff_jitter_s: float = 0.5,
    default_429_wait_s: float = 5.0,
    retry_after_max_s: float = 60.0,
    status_forcelist: frozenset[int] = RETRY_STATUSES,
    sleep: Callable[[float], None] = time.sleep,
) -> PoliteRetry:
    """The Retry policy described in the module docstring."""
    return PoliteRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        redirect=3,
        allowed_methods=None,  # retry every method: our writes are idempotent
        status_forcelist=status_forcelist,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max_s,
        backoff_jitter=backoff_jitter_s,
        retry_after_max=retry_after_max_s,
        respect_retry_after_header=True,
        raise_on_status=False,  # hand the last response back: its body says what went wrong
        raise_on_redirect=True,
        default_429_wait_s=default_429_wait_s,
        sleep=sleep,
    )


def _hooked_pool_classes(before_attempt: BeforeAttempt | None, after_attempt: AfterAttempt | None) -> dict[str, type]:
    """Pool classes whose connections call the hooks around every request/response."""

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        if before_attempt is not None:
            before_attempt(method, url)
        parent: Any = super(type(self), self)
        return parent.request(method, url, *args, **kwargs)

    def getresponse(self: Any) -> Any:
        parent: Any = super(type(self), self)
        response = parent.getresponse()
        if after_attempt is not None:
            after_attempt(response.status, response.headers)
        return response

    members = {"request": request, "getresponse": getresponse}
    http_conn = type("HookedHTTPConnection", (HTTPConnection,), dict(members))
    https_conn = type("HookedHTTPSConnection", (HTTPSConnection,), dict(members))
    http_pool = type("HookedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("HookedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
    return {"http": http_pool, "https": https_pool}


class PoliteHTTPAdapter(HTTPAdapter):
    """HTTPAdapter with a default (connect, read) timeout and per-attempt hooks."""

    def __init__(
        self,
        *,
        max_retries: Retry,
        timeout: tuple[float, float],
        before_attempt: BeforeAttempt | None = None,
        after_attempt: AfterAttempt | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        self.default_timeout = timeout
        self._pool_classes = _hooked_pool_classes(before_attempt, after_attempt)
        super().__init__(max_retries=max_retries, pool_maxsize=pool_maxsize)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(self._pool_classes)
        return manager

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


def make_session(
    max_retries: int = 5,
    timeout: tuple[float, float] = (10.0, 30.0),
    *,
    before_attempt: BeforeAttempt | None = None,
    after_attempt: AfterAttempt | None = None,
    retry: Retry | None = None,
    pool_maxsize: int = 10,
    headers: Mapping[str, str] | None = None,
) -> requests.Session:
    """A `requests.Session` that retries politely, always times out and calls the hooks.

    Args:
        max_retries: retries after the first attempt (per request, all causes together).
        timeout: default ``(connect_s, read_s)`` for requests sent without ``timeout=``.
        before_attempt: called as ``before_attempt(method, url)`` before every attempt
            (blocking in it delays the attempt: that is how a rate limiter paces).
        after_attempt: called as ``after_attempt(status, headers)`` after every response.
        retry: a ready Retry to use instead of ``make_retry(max_retries)``.
        pool_maxsize: connections kept per host (raise it for many threads).
        headers: default headers for every request.

    TLS verification is left at requests' default (on). Nothing here logs headers, so
    secrets sent in headers never reach the logs.
    """
    adapter = PoliteHTTPAdapter(
        max_retries=retry if retry is not None else make_retry(max_retries),
        timeout=timeout,
        before_attempt=before_attempt,
        after_attempt=after_attempt,
        pool_maxsize=pool_maxsize,
    )
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if headers:
        session.headers.update(headers)
    return session
