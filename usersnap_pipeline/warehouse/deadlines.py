"""A deadline on everything the warehouse waits for from PostgreSQL: statements, COPY, fetches, commits, pings.

A server that hangs (a stalled disk, a stopped process, a frozen VM) keeps its connections open, and its
kernel acknowledges every packet: no socket timeout or TCP keepalive notices, and psycopg waits for the
answer forever. Here each wait is armed with a deadline; past it, a watchdog shuts the connection's socket
down, psycopg wakes with "server closed the connection", and the warehouse's retry takes over as for any lost
connection (tried again within its budget, then one sentence). A server that answers, only slowly, cancels
the statement itself first (the warehouse sets its ``statement_timeout``): the client's cut is for one that
cannot.

The watchdog cuts a duplicate of the connection's descriptor, taken when the wait starts: it is the same
socket whatever happens to psycopg's descriptor meanwhile (closed, its number reused by another
connection), so a late cut can only ever hit the connection it was armed for, and only while that wait is
still armed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from ..net import Watchdog

log = logging.getLogger(__name__)
_ARMED = "usersnap_deadline"  # a pooled connection's info key: the wait armed on it, if any
_FRESH = "usersnap_fresh"  # ... set while a new connection has not been handed out: it needs no ping
# One thread for every warehouse of the process (a sensor opens one per tick, in a long-lived code server).
_WATCHDOG = Watchdog("warehouse-deadlines")


class _Wait:
    """One wait on one connection, with the duplicate of its socket the watchdog would cut."""

    def __init__(self, sock: socket.socket, deadline: float, seconds: float):
        self.deadline = deadline
        self.seconds = seconds
        self.finished = False
        self.cut = False
        self._socket = sock
        self._lock = threading.Lock()

    def expire(self, why: str = "") -> bool:
        with self._lock:
            if not self.finished and not self.cut:
                self.cut = True
                log.warning("a wait on PostgreSQL %s: its connection is cut",
                            why or f"passed its deadline ({self.seconds:g} s)")
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the peer closed it already
        return False  # one cut wakes psycopg: nothing to cut again

    def finish(self) -> None:
        with self._lock:
            if not self.finished:
                self.finished = True
                self._socket.close()


class StatementDeadlines:
    """Arms every wait on ``engine``'s connections with ``seconds``; :meth:`stop` cuts them all at once and
    every later one as it starts (the run is being stopped)."""

    def __init__(self, engine: sa.Engine, seconds: float):
        self.seconds = seconds
        self._dialect = engine.dialect
        self._lock = threading.Lock()
        self._in_flight: set[_Wait] = set()
        self._stopped = False
        # A new connection's setup (SQLAlchemy's first-connect queries run with engine events off) is armed
        # before any other listener runs; its first checkout then needs no ping.
        sa.event.listen(engine, "connect", self._connected, insert=True)
        sa.event.listen(engine, "before_cursor_execute", self._before_execute)
        sa.event.listen(engine, "after_cursor_execute", self._after_execute)
        sa.event.listen(engine, "commit", self._before_ending)
        sa.event.listen(engine, "rollback", self._before_ending)
        # The pool's own waits: the ping before a pooled connection is handed out, the rollback when it is
        # handed back. A connection back in the pool, or thrown away, has nothing left to wait for.
        sa.event.listen(engine, "checkout", self._ping)
        sa.event.listen(engine, "reset", self._before_reset)
        sa.event.listen(engine, "checkin", self._back_in_pool)
        sa.event.listen(engine, "invalidate", self._thrown_away)

    @contextmanager
    def guard(self, connection: sa.Connection) -> Iterator[None]:
        """Arm a wait the events do not see (COPY, a streamed read's fetch: on the driver's own cursor)."""
        pooled = connection.connection
        self._arm(pooled.dbapi_connection, pooled.info)
        try:
            yield
        finally:
            self._disarm(pooled.info)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            in_flight = list(self._in_flight)
        for wait in in_flight:
            wait.expire("was in flight when the run was stopped")

    def _arm(self, dbapi_connection: psycopg.Connection, info: dict) -> None:
        self._disarm(info)
        try:
            sock = socket.socket(fileno=os.dup(dbapi_connection.pgconn.socket))
        except (psycopg.Error, OSError):
            return  # closed already: the wait fails at once, with nothing to cut
        wait = _Wait(sock, time.monotonic() + self.seconds, self.seconds)
        info[_ARMED] = wait
        with self._lock:
            self._in_flight.add(wait)
            stopped = self._stopped
        if stopped:
            wait.expire("started after the run was stopped")
        else:
            _WATCHDOG.watch(wait)

    def _disarm(self, info: dict) -> None:
        wait = info.pop(_ARMED, None)
        if wait is not None:
            wait.finish()
            with self._lock:
                self._in_flight.discard(wait)

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._arm(conn.connection.dbapi_connection, conn.connection.info)

    def _after_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._disarm(conn.connection.info)

    def _before_ending(self, conn) -> None:
        # Disarmed when the connection goes back to the pool (its reset re-arms it first). A connection found
        # lost has nothing to wait for: SQLAlchemy only forgets its transaction.
        if conn.invalidated or conn.closed:
            return
        self._arm(conn.connection.dbapi_connection, conn.connection.info)

    def _connected(self, dbapi_connection, record) -> None:
        self._arm(dbapi_connection, record.info)
        record.info[_FRESH] = True

    def _ping(self, dbapi_connection, record, proxy) -> None:
        """SQLAlchemy's pre-ping would wait on a frozen server unguarded: this one runs under the deadline. A
        connection that fails it makes the pool drop every connection it holds, as the pre-ping does (they
        went to the same server), and try a fresh one."""
        if record.info.pop(_FRESH, False):
            self._disarm(record.info)
            return
        self._arm(dbapi_connection, record.info)
        try:
            self._dialect.do_ping(dbapi_connection)
        except (psycopg.Error, OSError) as exc:
            raise sa.exc.InvalidatePoolError(f"the pooled connection failed its ping: {exc}") from exc
        finally:
            self._disarm(record.info)

    def _before_reset(self, dbapi_connection, record, reset_state) -> None:
        self._arm(dbapi_connection, record.info)

    def _back_in_pool(self, dbapi_connection, record) -> None:
        if record is not None:
            self._disarm(record.info)

    def _thrown_away(self, dbapi_connection, record, exception) -> None:
        self._disarm(record.info)
