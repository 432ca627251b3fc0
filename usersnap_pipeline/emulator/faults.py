"""Fault injection for the emulator, switchable per instance and at run time."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields


@dataclass
class Faults:
    """What the emulator does to requests, besides answering them.

    - ``status_429_every``: every Nth request is answered 429 with ``Retry-After: retry_after``.
    - ``error_rate``: share of requests answered 500, 502 or 503.
    - ``truncate_rate``: share of successful answers whose body is cut mid-JSON.
    - ``latency``: seconds added to every request (the real API is far away).
    - ``live_edit_rate`` / ``live_submit_rate``: chance per request that a Usersnap user edits a random
      item or submits a new one just before the answer is computed (edits during a crawl).
    - ``repeat_cursor_item``: a page asked for ``after`` an item starts with that item again, so it is
      served on two pages of one crawl (an upstream treating the cursor as inclusive).

    Hostile answers (an API that is broken, or not Usersnap):

    - ``serve_order``: filter pages are served in this order (ascending) whatever the body asks, e.g.
      ``"rating"``: items of a ``created_at`` window arrive out of ``created_at`` order. Counts are unchanged.
    - ``endless_pages``: every page after a crawl's first is empty, says ``has_more: true`` and gives a
      fresh ``next.after``: a crawl that trusts ``has_more`` never ends.
    - ``phantom_pages``: past the last item, pages of made-up items (fresh ids) follow, each saying
      ``has_more: true``: only the count endpoint, which counts the real items, tells the crawl is over.
    - ``listing_pages``: a filter listing ends after this many pages (that page says ``has_more: false``)
      whatever is left: a cut listing, which the count endpoint, counting every item, contradicts.
    - ``body_bytes_per_second``: pages of feedback are sent this slowly (headers at once, then the body a
      byte at a time): no read ever times out, the answer never ends in reasonable time.
    """

    status_429_every: int = 0
    retry_after: float = 1.0
    error_rate: float = 0.0
    truncate_rate: float = 0.0
    latency: float = 0.0
    live_edit_rate: float = 0.0
    live_submit_rate: float = 0.0
    repeat_cursor_item: bool = False
    serve_order: str | None = None
    endless_pages: bool = False
    phantom_pages: bool = False
    listing_pages: int = 0
    body_bytes_per_second: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Decision:
    status: int | None = None  # answer this status instead of the real one
    retry_after: float | None = None
    truncate: str | None = None  # "short" (valid HTTP, cut JSON) or "close" (connection dropped mid-body)
    latency: float = 0.0
    live_edit: bool = False
    live_submit: bool = False


class FaultInjector:
    def __init__(self, faults: Faults | None = None):
        self._lock = threading.Lock()
        self.requests = 0
        self.injected: dict[str, int] = {"429": 0, "5xx": 0, "truncated": 0, "repeated": 0}
        self.configure(faults or Faults())

    def configure(self, faults: Faults | None = None, **changes) -> Faults:
        with self._lock:
            base = faults or getattr(self, "faults", Faults())
            values = {f.name: getattr(base, f.name) for f in fields(Faults)}
            values.update(changes)
            self.faults = Faults(**values)
            self._rng = random.Random(self.faults.seed)
            return self.faults

    def repeat_cursor_item(self) -> bool:
        """Whether this page repeats its cursor's item (counted when it does)."""
        with self._lock:
            if self.faults.repeat_cursor_item:
                self.injected["repeated"] += 1
            return self.faults.repeat_cursor_item

    def decide(self) -> Decision:
        with self._lock:
            self.requests += 1
            f, rng = self.faults, self._rng
            live_edit = f.live_edit_rate > 0 and rng.random() < f.live_edit_rate
            live_submit = f.live_submit_rate > 0 and rng.random() < f.live_submit_rate
            if f.status_429_every and self.requests % f.status_429_every == 0:
                self.injected["429"] += 1
                return Decision(status=429, retry_after=f.retry_after, latency=f.latency)
            if f.error_rate and rng.random() < f.error_rate:
                self.injected["5xx"] += 1
                return Decision(status=rng.choice([500, 502, 503]), latency=f.latency)
            truncate = None
            if f.truncate_rate and rng.random() < f.truncate_rate:
                self.injected["truncated"] += 1
                truncate = rng.choice(["short", "close"])
            return Decision(truncate=truncate, latency=f.latency, live_edit=live_edit, live_submit=live_submit)
