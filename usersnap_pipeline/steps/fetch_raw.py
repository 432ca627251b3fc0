"""Fetch feedback per (project, day) through the filter endpoint and store it in the raw layer.

Each (project, day) is one unit: its created_at window is crawled in ascending order (stable under
edits) and written in one transaction. Units run concurrently, bounded by ``concurrency``; a unit
that fails stops the rest, and the units already written stay complete.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from ..transform.raw import raw_row
from ..usersnap import UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.schema import raw_feedback
from .days import day_bounds, days_between

log = logging.getLogger(__name__)


@dataclass
class FetchReport:
    items_per_project: Counter = field(default_factory=Counter)
    items_per_day: Counter = field(default_factory=Counter)
    days: int = 0

    @property
    def items(self) -> int:
        return sum(self.items_per_project.values())


def fetch_raw_window(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str],
                     start: date, end: date, *, concurrency: int = 4) -> FetchReport:
    units = [(project_id, day) for day in days_between(start, end) for project_id in project_ids]
    report = FetchReport(days=len(set(day for _, day in units)))

    def fetch_unit(unit: tuple[str, date]) -> tuple[str, date, int]:
        project_id, day = unit
        # The version is taken before the first page: a fetch that starts later sees a newer state.
        fetched_at = datetime.now(timezone.utc)
        rows = [raw_row(item, project_id=project_id, partition_date=day, fetched_at=fetched_at)
                for page in client.iter_filtered_pages(project_id, created_at_window(*day_bounds(day)))
                for item in page.items]
        written = warehouse.replace_partition(project_id, day, {raw_feedback: rows}, layer="raw", version=fetched_at,
                                              feedback_ids=(r.feedback_id for r in rows))
        if not written:
            log.info("%s %s: a newer fetch was already stored; this one is dropped", project_id, day)
        return project_id, day, len(rows)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
        futures = [pool.submit(fetch_unit, unit) for unit in units]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                project_id, day, count = future.result()
                report.items_per_project[project_id] += count
                report.items_per_day[day.isoformat()] += count
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            raise failed.exception()
    return report
