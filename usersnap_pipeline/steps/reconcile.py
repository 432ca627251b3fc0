"""Reconciliation: does the warehouse hold exactly as many items per (project, day) as Usersnap says?

Per project, one filter-count over the whole window is compared with the warehouse. Only when the
totals differ is the window split in halves, recursively, to find the days that differ: a clean
window costs one request per project, a mismatch a few more per differing day.

Items created after the window's earliest fetch began may not be imported yet; both sides count
only items created before it, so a live account does not raise false alarms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ..usersnap import UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.audits import accounted_items, earliest_fetch
from .days import day_bounds


@dataclass(frozen=True)
class Mismatch:
    project_id: str
    day: date
    warehouse: int
    usersnap: int


@dataclass
class Reconciliation:
    totals: dict[str, tuple[int, int]]  # project -> (warehouse, usersnap)
    mismatches: list[Mismatch]
    requests: int

    @property
    def passed(self) -> bool:
        return not self.mismatches


def reconcile(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str],
              start: date, end: date) -> Reconciliation:
    before = client.stats.snapshot()["requests"]
    totals, mismatches = {}, []
    for project_id in project_ids:
        cutoff = earliest_fetch(warehouse, project_id, start, end)
        counts = accounted_items(warehouse, [project_id], start, end, created_before=cutoff)

        def usersnap_count(first: date, stop: date) -> int:
            window_start, _ = day_bounds(first)
            window_end, _ = day_bounds(stop)
            if cutoff is not None:
                window_end = min(window_end, cutoff)
            if window_end <= window_start:
                return 0
            return client.count_filtered(project_id, created_at_window(window_start, window_end))

        def ours(first: date, stop: date) -> int:
            return sum(n for (_, day), n in counts.items() if first <= day < stop)

        def localize(first: date, stop: date, theirs: int) -> None:
            mine = ours(first, stop)
            if mine == theirs:
                return
            if (stop - first).days == 1:
                mismatches.append(Mismatch(project_id, first, mine, theirs))
                return
            middle = first + timedelta(days=(stop - first).days // 2)
            left = usersnap_count(first, middle)
            localize(first, middle, left)
            localize(middle, stop, theirs - left)

        total = usersnap_count(start, end)
        totals[project_id] = (ours(start, end), total)
        localize(start, end, total)
    return Reconciliation(totals, mismatches, client.stats.snapshot()["requests"] - before)
