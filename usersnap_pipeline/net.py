"""HTTP with a total deadline per answer, and a way to stop every request in flight at once.

requests' timeouts bound each socket operation, not an answer: a peer that trickles its headers or its
body a byte at a time never trips them (measured against a hostile API: 148 bytes in 150 s, no end).
Here a request runs under a deadline that covers connecting, the headers and the whole body: a watchdog
thread shuts the connection's socket down when the deadline passes, which wakes the blocked read with an
error. :meth:`DeadlineSession.abort` does the same at once to every request in flight and refuses new
ones, so a run that is being stopped never waits on a slow peer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .deadlines import WATCHDOG, Deadline, expire_now, shut_socket

_current = threading.local()  # the attempt in flight in this thread, if any


class AbortedError(RuntimeError):
    """The session was aborted: no request is made any more."""


class _TellsTheAttempt:
    """Mixed into a connection pool: the attempt in flight learns which connection it took, and forgets it
    when the connection goes back to the pool."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.took(connection, lambda: shut_socket(getattr(connection, "sock", None)))
        return connection

    def _put_conn(self, conn) -> None:
        attempt = getattr(_current, "attempt", None)
        if attempt is not None and conn is not None:
            attempt.gave_back(conn)
        super()._put_conn(conn)


class _DeadlineHTTPPool(_TellsTheAttempt, HTTPConnectionPool):
    pass


class _DeadlineHTTPSPool(_TellsTheAttempt, HTTPSConnectionPool):
    pass


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """An adapter whose connection pools tell the attempt in flight which connection it took."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):  # a SOCKS manager keeps its own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager


class DeadlineSession(requests.Session):
    """A ``requests.Session`` whose requests run under :meth:`deadline`; :meth:`abort` stops them all."""

    def __init__(self, *, pool_size: int = 10):
        super().__init__()
        adapter = _DeadlineAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._aborted = threading.Event()
        self._in_flight: set[Deadline] = set()
        self._lock = threading.Lock()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[Deadline]:
        """Requests made in this block (in this thread), bodies read included, end by ``seconds`` from now:
        past it their connection is cut and the read in progress fails; ``attempt.expired`` says why."""
        attempt = Deadline(seconds)
        with self._lock:
            if self._aborted.is_set():
                raise AbortedError("the session was aborted")
            self._in_flight.add(attempt)
        _current.attempt = attempt
        WATCHDOG.watch(attempt)
        try:
            yield attempt
        finally:
            attempt.finish()
            _current.attempt = None
            with self._lock:
                self._in_flight.discard(attempt)

    def abort(self) -> None:
        """Refuse new requests and cut every request in flight now."""
        with self._lock:
            self._aborted.set()
            in_flight = list(self._in_flight)
        for attempt in in_flight:
            expire_now(attempt)
        self.close()
