"""Total deadlines for blocking I/O that has none of its own, and a way to end it from another thread.

A read blocked on a socket wakes only when data comes or the socket is shut: a peer that trickles an answer
a byte at a time, or a database server that froze (its kernel still acknowledges every packet, so TCP never
gives up), holds the thread forever. Here each guarded operation is a :class:`Deadline`; the sockets it
uses are registered with it, and one watchdog thread shuts them down when the deadline passes, which wakes
the blocked read with an error. :meth:`Deadline.expire` does the same at once (a run being stopped).
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable


class Deadline:
    """One operation under a deadline: what cuts each resource it holds, and whether it ran out of time."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._cuts: dict[int, Callable[[], None]] = {}  # id(resource) -> what cuts it
        self._lock = threading.Lock()

    def took(self, resource: object, cut: Callable[[], None]) -> None:
        with self._lock:
            self._cuts[id(resource)] = cut
            if self.expired:
                cut()

    def gave_back(self, resource: object) -> None:
        """A resource back in its pool is another operation's to use: never cut it for this one."""
        with self._lock:
            self._cuts.pop(id(resource), None)

    def expire(self) -> bool:
        """Cut the operation's resources; True while the operation still runs (the watchdog cuts again a
        moment later: a connection still being opened has no socket to cut yet)."""
        with self._lock:
            if self.finished:
                return False
            self.expired = True
            for cut in self._cuts.values():
                cut()
            return True

    def finish(self) -> None:
        with self._lock:
            self.finished = True


def shut_socket(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def shut_descriptor(fd: int) -> None:
    """Shut down the socket behind a file descriptor a C library owns (libpq's): its blocked read returns."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return  # closed meanwhile
    with socket.socket(fileno=duplicate) as sock:
        shut_socket(sock)


class _Watchdog:
    """One thread that expires deadlines when they pass."""

    RECHECK = 0.1  # seconds between cuts of an expired operation that is still running (still connecting)

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline, due: float | None = None) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.deadline if due is None else due, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
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
                due, _, deadline = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if deadline.expire():
                    heapq.heappush(self._heap, (time.monotonic() + self.RECHECK, next(self._order), deadline))


WATCHDOG = _Watchdog()


def expire_now(deadline: Deadline) -> None:
    """Cut ``deadline``'s resources at once, and again shortly while its operation still runs."""
    if deadline.expire():
        WATCHDOG.watch(deadline, due=time.monotonic() + _Watchdog.RECHECK)
