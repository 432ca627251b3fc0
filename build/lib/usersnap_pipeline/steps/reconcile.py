"""Reconciliation: does the warehouse hold exactly as many items per (project, day) as Usersnap says?

Per project, one filter-count over the whole window is compared with the warehouse. Only when the
totals differ is the window split in halves, recursively, to find the days that differ: a clean
window costs one request per project, a mismatch a few more per differing day.

A day fetched in the last ``SETTLING`` minutes, before the day was over (today, right after an import),
may lack items submitted since, which the change sensor has not brought yet: for such a day both sides
count only the items created before its fetch began, so a live account raises no false alarm. Every other
day is counted whole: an item still missing from it later is missing, and the sweep re-imports the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from ..usersnap import UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.audits import accounted_items, fetch_times
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


SETTLING = timedelta(minutes=15)


def reconcile(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str],
              start: date, end: date, *, now: datetime | None = None) -> Reconciliation:
    before = client.stats.snapshot()["requests"]
    settled = (now or datetime.now(timezone.utc)) - SETTLING
    totals, mismatches = {}, []
    for project_id in project_ids:
        # Days fetched recently, before they ended: counted up to their fetch only.
        cut = {day: fetched for day, fetched in fetch_times(warehouse, project_id, start, end).items()
               if settled < fetched < day_bounds(day)[1]}
        counts = accounted_items(warehouse, [project_id], start, end)
        for day, fetched in cut.items():
            counts[(project_id, day)] = accounted_items(warehouse, [project_id], day, day + timedelta(days=1),
                                                        created_before=fetched).get((project_id, day), 0)

        def usersnap_count(first: date, stop: date) -> int:
            """Usersnap's items in [first, stop), each cut day up to its fetch: one request per whole stretch."""
            total, stretch_start = 0, first
            for day in sorted(d for d in cut if first <= d < stop):
                total += _count(client, project_id, day_bounds(stretch_start)[0], day_bounds(day)[0])
                total += _count(client, project_id, day_bounds(day)[0], cut[day])
                stretch_start = day + timedelta(days=1)
            return total + _count(client, project_id, day_bounds(stretch_start)[0], day_bounds(stop)[0])

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


def _count(client: UsersnapClient, project_id: str, window_start, window_end) -> int:
    if window_end <= window_start:
        return 0
    return client.count_filtered(project_id, created_at_window(window_start, window_end))
