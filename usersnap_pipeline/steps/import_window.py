"""Import feedback of a range of days: fetch it through the filter endpoint in windows sized by items,
normalize it, and write the raw items and their data point rows together, day by day.

Per project, the range is split on day boundaries into windows of similar item counts (the filter
count endpoint says how many; a few requests per project whatever the number of days). Each window is
crawled in ascending ``created_at`` order (stable under edits), normalized page by page, and cut into
days as it goes; its days are written in transactions of many days each, every day replaced whole, so
the raw layer and the data point tables never disagree and nothing is read back. Windows run
concurrently, bounded by ``concurrency``: while one waits for the API, another normalizes or loads. A
window that fails stops the rest, and the days already written stay complete. Memory holds at most
about ``ITEMS_IN_FLIGHT`` items plus a page per window in flight (on SQLite, a transaction's items per
window), whatever the size of a day or of the range.
"""

from __future__ import annotations

import gc
import logging
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

from ..transform.normalize import normalize_items
from ..transform.raw import RawFeedback, raw_row
from ..usersnap import Page, UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.schema import NORMALIZED_TABLES, normalized_rows, raw_feedback
from ..warehouse.store import DaysChunk, WrittenDays
from .days import day_bounds
from .report import ImportReport

log = logging.getLogger(__name__)

# Items the windows in flight hold together between their fetch and their write, beyond a page each: each
# window hands its pages to the database in groups of this many over the concurrency (a COPY per table
# and an id lookup per group), and commits a transaction once it holds that many items and its days are
# whole (bench/README.md).
ITEMS_IN_FLIGHT = 3200
# A window is worth its count request and its last, partly filled page from this many items on.
WINDOW_ITEMS = 1000
# Windows per unit of concurrency over the whole import: enough to keep every worker busy when windows
# finish at different times, few enough that their extra requests stay a handful per project.
WINDOWS_PER_WORKER = 2


def import_window(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date,
                  *, concurrency: int = 4, normalize: bool = True) -> ImportReport:
    """Fetch every (project, day) of ``[start, end)`` into the raw layer and, with ``normalize``, into
    the data point tables in the same transaction."""
    report = ImportReport(days=(end - start).days)
    tables = [raw_feedback, *NORMALIZED_TABLES] if normalize else [raw_feedback]
    workers = max(1, concurrency)
    items_per_write = ITEMS_IN_FLIGHT // workers

    def write_window(crawl: _Crawl, days: dict[date, ImportReport], expected_items: int | None = None):
        """Fetch the crawl's window into the warehouse; ``days`` receives what each day counted."""
        def stream(from_day: date) -> tuple[datetime, Iterator[DaysChunk]]:
            # The version is taken before the first page: a fetch that starts later sees a newer state.
            fetched_at = datetime.now(timezone.utc)
            pages = client.iter_filtered_pages(
                crawl.project_id, created_at_window(day_bounds(from_day)[0], day_bounds(crawl.stop)[0]),
                expected_items=expected_items if from_day == crawl.first else None)
            return fetched_at, _days_of(pages, crawl, from_day, fetched_at, normalize=normalize, days=days,
                                        items_per_chunk=items_per_write)

        return warehouse.write_days(crawl.project_id, crawl.first, crawl.stop, tables, stream,
                                    items_per_transaction=items_per_write)

    def import_span(project_id: str, first: date, stop: date, expected_items: int) -> None:
        days: dict[date, ImportReport] = {}  # what each day's last fetch counted
        crawl = _Crawl(project_id, first, stop)
        written = write_window(crawl, days, expected_items)
        marked = warehouse.mark_gone(project_id, written, except_days=crawl.late | _short_listings(client, crawl, written))
        warehouse.set_aside(project_id, first, stop, list(crawl.set_aside.values()))
        # A day some of whose items came after a later day's (the API did not keep created_at order) may have
        # been written without them: it is fetched again on its own, and that fetch says what is gone from it.
        for late_day in sorted(crawl.late):
            refetch = _Crawl(project_id, late_day, late_day + timedelta(days=1))
            day_written = write_window(refetch, days)
            marked.update(warehouse.mark_gone(project_id, day_written,
                                              except_days=_short_listings(client, refetch, day_written)))
            written.update(day_written)
            warehouse.set_aside(project_id, late_day, refetch.stop, list(refetch.set_aside.values()))
            crawl.short |= refetch.short
            crawl.set_aside.update(refetch.set_aside)
        for day in sorted(written.days):
            if day in days:
                report.add(days[day])
        for day, ids in marked.items():
            report.add_deleted(project_id, len(ids))
        report.add_out_of_order(project_id, len(crawl.late))
        report.add_set_aside(project_id, len(crawl.set_aside))  # by id: once, whichever fetch set it aside
        report.add_listed_short(project_id, len(crawl.short))
        if written.stale:
            log.info("%s: %d day(s) from %s had a newer fetch stored already; this one's were dropped",
                     project_id, len(written.stale), min(written.stale))

    with _bulk_allocation():
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import")
        try:
            spans = plan_spans(client, project_ids, start, end, windows=WINDOWS_PER_WORKER * workers, pool=pool)
            futures = [pool.submit(import_span, *span) for span in spans]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                raise failed.exception()
        except BaseException:
            # A window failed, or the run is being stopped (Dagster turns SIGTERM into an exception here):
            # windows waiting to retry, the API or the database, wake up and stop instead of waiting on.
            client.close()
            warehouse.stop()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return report


def plan_spans(client: UsersnapClient, project_ids: Sequence[str], start: date, end: date, *, windows: int,
               pool: ThreadPoolExecutor) -> list[tuple[str, date, date, int]]:
    """(project, first day, stop day, items counted) windows covering ``[start, end)`` for each project, split
    on day boundaries into about ``windows`` windows over all projects, by share of the items, none under
    ``WINDOW_ITEMS`` items unless a project has fewer. Largest first, so the longest crawls start first.
    The counts bound each window's crawl (an API that pages on past them is stopped).

    A project's largest windows are halved (by days) until it has its share: one count per split, the
    splits of a round counted concurrently. A window of one day is never split.
    """
    def count(project_id: str, first: date, stop: date) -> int:
        return client.count_filtered(project_id, created_at_window(day_bounds(first)[0], day_bounds(stop)[0]))

    totals = dict(zip(project_ids, pool.map(lambda project_id: count(project_id, start, end), project_ids)))
    everything = max(1, sum(totals.values()))
    wanted = {project_id: max(1, min(total // WINDOW_ITEMS, math.ceil(windows * total / everything)))
              for project_id, total in totals.items()}
    spans = {project_id: [(total, start, end)] for project_id, total in totals.items()}  # (items, first, stop)
    while True:
        splits = []  # (project, items, first, stop)
        for project_id, parts in spans.items():
            splittable = sorted((part for part in parts if part[0] and (part[2] - part[1]).days >= 2), reverse=True)
            for part in splittable[:wanted[project_id] - len(parts)]:
                parts.remove(part)
                splits.append((project_id, *part))
        if not splits:
            break
        lower_halves = pool.map(lambda split: count(split[0], split[2], _middle(split[2], split[3])), splits)
        for (project_id, items, first, stop), lower in zip(splits, lower_halves):
            middle = _middle(first, stop)
            spans[project_id] += [(lower, first, middle), (max(0, items - lower), middle, stop)]
    ordered = sorted(((items, project_id, first, stop) for project_id, parts in spans.items()
                      for items, first, stop in parts), key=lambda span: (-span[0], span[1], span[2]))
    return [(project_id, first, stop, items) for items, project_id, first, stop in ordered]



def _middle(first: date, stop: date) -> date:
    return first + timedelta(days=(stop - first).days // 2)


class _Crawl:
    """One window's crawl: the days whose items came after a later day's (to be fetched again alone), the
    items it served per day, those it set aside (``set_aside_feedback`` rows by id) and the days whose
    listing was shorter than their count."""

    def __init__(self, project_id: str, first: date, stop: date):
        self.project_id, self.first, self.stop = project_id, first, stop
        self.late: set[date] = set()
        self.served: Counter[date] = Counter()
        self.set_aside: dict[str, dict] = {}
        self.short: set[date] = set()


def _short_listings(client: UsersnapClient, crawl: _Crawl, written: WrittenDays) -> set[date]:
    """The days with items gone whose listing served fewer items than the API counts for them: a listing
    that ended early (a page lost, ``has_more`` false too soon) is no proof of deletion, and nothing of such
    a day is marked deleted; the next import judges it again. One count per day with items gone."""
    for day, ids in sorted(written.gone.items()):
        if not ids or day in crawl.late:
            continue
        counted = client.count_filtered(crawl.project_id, created_at_window(*day_bounds(day)))
        if counted > crawl.served[day]:
            log.warning("%s %s: the listing served %d item(s) where the API counts %d; the %d item(s) not "
                        "served are not marked deleted", crawl.project_id, day, crawl.served[day], counted,
                        len(ids))
            crawl.short.add(day)
    return crawl.short


def _days_of(pages: Iterator[Page], crawl: _Crawl, from_day: date, fetched_at: datetime, *,
             normalize: bool, days: dict[date, ImportReport], items_per_chunk: int) -> Iterator[DaysChunk]:
    """A window's pages from ``from_day`` on as chunks of days of at least ``items_per_chunk`` items, ending
    whole at the window's stop day.

    Each item goes to the day it says it was created on (UTC), whatever order the API serves it in. The
    crawl asks for ``created_at`` order, so once a chunk is handed over its days are taken as whole: an
    item of such a day arriving later is not filed now, its day is marked ``late`` for a fetch of its own.
    An item dated outside the window, or without a readable ``created_at``, is set aside (``crawl.set_aside``,
    with the reason and the day it was listed on): filed under a day it is not dated on, it would count there,
    and take the place of the live item of its id. ``days`` receives what each day counted.

    An item the window already served (an API glitch repeating it on a later page) is kept once, as
    first served, and counted: a second copy would break the write.
    """
    project_id, stop = crawl.project_id, crawl.stop
    seen: set[str] = set()
    held: dict[date, tuple[list, list]] = {}  # day -> (raw rows, items) not handed over yet
    count, day, handed_before = 0, from_day, from_day  # days before handed_before are written, or being written
    for counted in (days, crawl.served):  # a fetch counts its days anew
        for refetched in [day for day in counted if from_day <= day < stop]:
            del counted[refetched]
    for page in pages:
        texts = page.item_texts or [None] * len(page.items)
        for item, text in zip(page.items, texts, strict=True):
            row = raw_row(item, project_id=project_id, partition_date=day, fetched_at=fetched_at, text=text)
            created = row.created_at.date() if row.created_at is not None else None  # parsed as UTC
            if created is None or not crawl.first <= created < stop:
                crawl.set_aside[row.feedback_id] = _set_aside_row(row, item, crawl)
                continue
            if created < handed_before:
                crawl.late.add(created)
                continue
            day = max(day, created)
            if created != row.partition_date:
                row = row._replace(partition_date=created)
            if row.feedback_id in seen:
                days.setdefault(row.partition_date, ImportReport()).add_duplicate(project_id)
                continue
            seen.add(row.feedback_id)
            crawl.served[row.partition_date] += 1
            rows, items = held.setdefault(row.partition_date, ([], []))
            rows.append(row)
            items.append(item)
            count += 1
        if count >= items_per_chunk:
            yield DaysChunk(_rows_by_day(held, project_id, normalize, days), whole_before=day)
            held, count, handed_before = {}, 0, day
    yield DaysChunk(_rows_by_day(held, project_id, normalize, days), whole_before=stop)


def _set_aside_row(row: RawFeedback, item: object, crawl: _Crawl) -> dict:
    sent = item.get("created_at") if isinstance(item, dict) else None
    if row.created_at is None:
        reason = "created_at missing or not an ISO 8601 timestamp"
    else:
        reason = (f"dated {row.created_at.date()}, after the window it was listed in" if row.created_at.date() >= crawl.stop
                  else f"dated {row.created_at.date()}, before the window it was listed in")
    return {"project_id": row.project_id, "feedback_id": row.feedback_id, "listed_day": row.partition_date,
            "reason": f"{reason} ({crawl.first} to {crawl.stop - timedelta(days=1)})",
            "created_at_sent": sent if isinstance(sent, str) else None, "fetched_at": row.fetched_at,
            "item_json": row.item_json}


def _rows_by_day(held: dict[date, tuple[list, list]], project_id: str, normalize: bool,
                 days: dict[date, ImportReport]) -> dict:
    """By day, the raw rows and, with ``normalize``, the data point rows of the items held, counted into
    ``days``."""
    chunk = {}
    for day, (raw_rows, items) in sorted(held.items()):
        report = days.setdefault(day, ImportReport())
        rows: dict = {raw_feedback: raw_rows}
        report.add_fetched(project_id, day, len(raw_rows))
        if normalize:
            keyed = [(row.feedback_id, item) for row, item in zip(raw_rows, items, strict=True)]
            batch = normalize_items(keyed, project_id=project_id, partition_date=day)
            rows.update(normalized_rows(batch))
            report.add_normalized(project_id, batch)
        chunk[day] = (rows, [row.feedback_id for row in raw_rows])
    return chunk


@contextmanager
def _bulk_allocation():
    """Fewer garbage-collector passes while items are parsed and normalized.

    Every item becomes dozens of short-lived containers. CPython's default collects the youngest
    generation every 700 allocations and, as the heap grows, walks everything alive, Dagster's own
    objects included: a third of the normalizer's time (bench/README.md). Objects alive before the
    import are frozen out of the collector's walks, and the youngest generation is collected less
    often; both are restored after.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
