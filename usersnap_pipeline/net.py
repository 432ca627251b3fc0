"""HTTP with a total deadline per answer, and a way to stop every request in flight at once.

requests' timeouts bound each socket operation, not an answer: a peer that trickles its headers or its
body a byte at a time never trips them (measured against a hostile API: 148 bytes in 150 s, no end).
Here a request runs under a deadline that covers connecting, the headers and the whole body: a watchdog
thread shuts the connection's socket down when the deadline passes, which wakes the blocked read with an
error. :meth:`DeadlineSession.abort` does the same at once to every request in flight and refuses new
ones, so a run that is being stopped never waits on a slow peer.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)
_current = threading.local()  # the attempt in flight in this thread, if any


class AbortedError(RuntimeError):
    """The session was aborted: no request is made any more."""


class Attempt:
    """One request under a deadline: the connections it took from the pool, and whether it ran out of time."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self._connections: list = []
        self._lock = threading.Lock()

    def took(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.expired:
                _shut(connection)

    def gave_back(self, connection) -> None:
        """A connection back in the pool is another request's to use: never cut it for this one."""
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def expire(self) -> bool:
        """Cut the attempt's connections; True while the attempt still runs (the watchdog cuts again a moment
        later: a connection still being opened has no socket to cut yet)."""
        with self._lock:
            if self.finished:
                return False
            self.expired = True
            for connection in self._connections:
                _shut(connection)
            return True

    def finish(self) -> None:
        with self._lock:
            self.finished = True


def _shut(connection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class Watchdog:
    """One thread that expires what it watches when its deadline passes: anything with a ``deadline``
    (time.monotonic()), a ``finished`` flag and an ``expire()`` that returns True to be expired again a
    moment later (an HTTP attempt still connecting has no socket to cut yet). The warehouse's statement
    deadlines run on an instance of their own."""

    RECHECK = 0.1  # seconds between cuts of an expired attempt that is still running (still connecting)
    COMPACT_FROM = 1024  # entries: past twice the unfinished ones, finished entries are dropped

    def __init__(self, name: str):
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Any]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._compact_at = self.COMPACT_FROM

    def watch(self, watched, due: float | None = None) -> None:
        with self._cond:
            if len(self._heap) >= self._compact_at:
                # Finished entries leave from the top of the heap only: behind one long wait, thousands of
                # short ones that finished long ago would pile up.
                self._heap = [entry for entry in self._heap if not entry[2].finished]
                heapq.heapify(self._heap)
                self._compact_at = max(self.COMPACT_FROM, 2 * len(self._heap))
            heapq.heappush(self._heap, (watched.deadline if due is None else due, next(self._order), watched))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, watched = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                try:
                    again = watched.expire()
                except Exception:  # noqa: BLE001 - one bad cut must not end every deadline after it
                    log.exception("%s: cutting %r failed", self._name, watched)
                    continue
                if again:
                    heapq.heappush(self._heap, (time.monotonic() + self.RECHECK, next(self._order), watched))


_WATCHDOG = Watchdog("http-deadlines")


class _TellsTheAttempt:
    """Mixed into a connection pool: the attempt in flight learns which connection it took, and forgets it
    when the connection goes back to the pool."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.took(connection)
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
        self._in_flight: set[Attempt] = set()
        self._lock = threading.Lock()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[Attempt]:
        """Requests made in this block (in this thread), bodies read included, end by ``seconds`` from now:
        past it their connection is cut and the read in progress fails; ``attempt.expired`` says why."""
        attempt = Attempt(time.monotonic() + seconds)
        with self._lock:
            if self._aborted.is_set():
                raise AbortedError("the session was aborted")
            self._in_flight.add(attempt)
        _current.attempt = attempt
        _WATCHDOG.watch(attempt)
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
            if attempt.expire():
                _WATCHDOG.watch(attempt, due=time.monotonic() + Watchdog.RECHECK)
        self.close()
