"""Reconciliation: does the warehouse hold exactly as many items per (project, day) as Usersnap says, and
(weekly, by listing ids) exactly the same items?

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

from ..transform.normalize import parse_timestamp
from ..transform.raw import raw_key
from ..usersnap import UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.audits import accounted_items, fetch_times, live_versions
from .changes import plan_runs
from .days import day_bounds
from .import_window import import_window
from .report import ImportReport


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


# Listed days are compared with the warehouse in groups holding at least this many items: memory holds a
# group's ids and versions, whatever the size of the window.
ITEMS_PER_COMPARISON = 5000


@dataclass
class IdReconciliation:
    differing: dict[str, set[date]]  # project -> days whose items differ from Usersnap's
    days: int  # (project, day) partitions compared
    requests: int


def differing_days_by_id(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str],
                         start: date, end: date) -> IdReconciliation:
    """Per project, the days of ``[start, end)`` whose items differ from what Usersnap lists for them: an id
    missing on either side, or another ``updated_at``. Counts cannot see an item deleted and another created
    on the same day; ids can. Costs one crawl of the window per project (its pages, plus a count once it is
    over ten pages): the days are compared as the crawl passes them.

    An item is listed under its ``created_at`` day; one dated outside the window, or not dated, is not
    compared: the import sets it aside, it is in no day. An item of a day already compared (the API
    did not keep ``created_at`` order) makes its day differ: importing it again is what settles it."""
    before = client.stats.snapshot()["requests"]
    differing: dict[str, set[date]] = {}
    for project_id in project_ids:
        days = _ComparedDays(warehouse, project_id, start)
        pages = client.iter_filtered_pages(project_id, created_at_window(day_bounds(start)[0], day_bounds(end)[0]))
        day = start
        for page in pages:
            for item, text in zip(page.items, page.item_texts or [None] * len(page.items), strict=True):
                fields = item if isinstance(item, dict) else {}
                created = parse_timestamp(fields.get("created_at"))
                if created is None or not start <= created.date() < end:
                    continue
                day = created.date()
                days.list(day, raw_key(item, text), parse_timestamp(fields.get("updated_at")))
            days.compare_before(day)
        days.compare_before(end, last=True)
        if days.differing:
            differing[project_id] = days.differing
    return IdReconciliation(differing, len(project_ids) * (end - start).days,
                            client.stats.snapshot()["requests"] - before)


class _ComparedDays:
    """One project's listed days, compared with the warehouse a group at a time as a crawl passes them."""

    def __init__(self, warehouse: Warehouse, project_id: str, start: date):
        self.warehouse, self.project_id = warehouse, project_id
        self.listed: dict[date, dict[str, datetime | None]] = {}
        self.items = 0
        self.compared_before = start  # every day before it is compared
        self.differing: set[date] = set()

    def list(self, day: date, key: str, updated: datetime | None) -> None:
        if day < self.compared_before:
            self.differing.add(day)  # served after a later day's items: its day was compared without it
            return
        self.listed.setdefault(day, {})[key] = updated
        self.items += 1

    def compare_before(self, day: date, *, last: bool = False) -> None:
        """Compare the days before ``day`` (the crawl is past them) once they hold enough items, or when
        ``last``: the window's days in the warehouse that Usersnap listed nothing for differ too."""
        if day <= self.compared_before or not (last or self.items >= ITEMS_PER_COMPARISON):
            return
        stored = live_versions(self.warehouse, self.project_id, self.compared_before, day)
        for compared in set(stored) | {listed for listed in self.listed if listed < day}:
            if self.listed.pop(compared, {}) != stored.get(compared, {}):
                self.differing.add(compared)
        self.items = sum(len(keys) for keys in self.listed.values())
        self.compared_before = day


def reimport_differing_days(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str], start: date,
                            end: date, *, concurrency: int, normalize: bool) -> tuple[ImportReport, IdReconciliation]:
    """The weekly id reconciliation: list the window's ids and versions, then import again exactly the
    (project, day) partitions that differ (one import per range of consecutive days)."""
    check = differing_days_by_id(client, warehouse, project_ids, start, end)
    report = ImportReport(days=(end - start).days)
    for plan in plan_runs(check.differing, first_partition=start, last_partition=end - timedelta(days=1),
                          max_gap_days=0):
        report.add(import_window(client, warehouse, plan.project_ids, plan.first_day,
                                 plan.last_day + timedelta(days=1), concurrency=concurrency, normalize=normalize))
    return report, check
