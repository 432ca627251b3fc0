"""Import feedback per (project, day): fetch it through the filter endpoint, normalize it, and write
the raw items and their data point rows together.

Each (project, day) is one unit: its created_at window is crawled in ascending order (stable under
edits), normalized page by page, and written in one transaction, so the raw layer and the data point
tables never disagree and nothing is read back. Units run concurrently, bounded by ``concurrency``:
while one waits for the API, another normalizes or loads. A unit that fails stops the rest, and the
units already written stay complete. On PostgreSQL, which loads pages as they come, memory holds at
most ``ITEMS_IN_FLIGHT`` items plus a page per unit in flight, whatever the size of a day; on SQLite,
the units in flight; never the window.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import date, datetime, timezone

from ..transform.normalize import normalize_items
from ..transform.raw import raw_row
from ..usersnap import Page, UsersnapClient, created_at_window
from ..warehouse import Warehouse
from ..warehouse.schema import NORMALIZED_TABLES, normalized_rows, raw_feedback
from ..warehouse.store import Chunk, gathered
from .days import day_bounds, days_between
from .report import ImportReport

log = logging.getLogger(__name__)

# Items the windows in flight hold together between their fetch and their write, beyond a page each. A
# window writes its pages in groups of this many over the concurrency: with a few windows in flight, one
# write per day, as a COPY per table and a moved-item lookup for every page cost 15% more time; with many,
# a write per page, memory staying the same whatever the size of a day (bench/README.md).
ITEMS_IN_FLIGHT = 3200


def import_window(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date,
                  *, concurrency: int = 4, normalize: bool = True) -> ImportReport:
    """Fetch every (project, day) of ``[start, end)`` into the raw layer and, with ``normalize``, into
    the data point tables in the same transaction."""
    units = [(project_id, day) for day in days_between(start, end) for project_id in project_ids]
    report = ImportReport(days=(end - start).days)

    tables = [raw_feedback, *NORMALIZED_TABLES] if normalize else [raw_feedback]
    items_per_write = ITEMS_IN_FLIGHT // max(1, concurrency)

    def import_unit(unit: tuple[str, date]) -> None:
        project_id, day = unit
        # The version is taken before the first page: a fetch that starts later sees a newer state.
        fetched_at = datetime.now(timezone.utc)
        attempts: list[ImportReport] = []  # one per try: the write is retried whole, the pages fetched again

        def pages() -> Iterator[Chunk]:
            attempts.append(ImportReport())
            seen: set[str] = set()
            for page in client.iter_filtered_pages(project_id, created_at_window(*day_bounds(day))):
                yield _page_rows(page, project_id, day, fetched_at, normalize=normalize, report=attempts[-1],
                                 seen=seen)

        gone: list[str] = []
        if warehouse.stream_partition(project_id, day, tables, lambda: _in_groups(pages(), items_per_write),
                                      version=fetched_at, gone=gone):
            attempts[-1].add_deleted(project_id, len(gone))
            report.add(attempts[-1])
        else:
            log.info("%s %s: a newer fetch was already stored; this one is dropped", project_id, day)

    with _bulk_allocation():
        pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="import")
        try:
            futures = [pool.submit(import_unit, unit) for unit in units]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                raise failed.exception()
        except BaseException:
            # A unit failed, or the run is being stopped (Dagster turns SIGTERM into an exception here):
            # windows waiting to retry wake up and stop instead of sleeping out a Retry-After.
            client.close()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return report


def _page_rows(page: Page, project_id: str, day: date, fetched_at: datetime, *, normalize: bool,
               report: ImportReport, seen: set[str]) -> Chunk:
    """A page's raw rows and, with ``normalize``, its data point rows, counted into ``report``.

    An item the window already served (``seen``: an API glitch repeating it on a later page) is
    kept once, as first served, and counted: a second copy would break the partition's write.
    """
    texts = page.item_texts or [None] * len(page.items)
    raw_rows, items = [], []
    for item, text in zip(page.items, texts, strict=True):
        row = raw_row(item, project_id=project_id, partition_date=day, fetched_at=fetched_at, text=text)
        if row.feedback_id in seen:
            report.add_duplicate(project_id)
            continue
        seen.add(row.feedback_id)
        raw_rows.append(row)
        items.append(item)
    rows: dict = {raw_feedback: raw_rows}
    report.add_fetched(project_id, day, len(raw_rows))
    if normalize:
        keyed = [(row.feedback_id, item) for row, item in zip(raw_rows, items, strict=True)]
        batch = normalize_items(keyed, project_id=project_id, partition_date=day)
        rows.update(normalized_rows(batch))
        report.add_normalized(project_id, batch)
    return rows, [row.feedback_id for row in raw_rows]


def _in_groups(chunks: Iterable[Chunk], items: int) -> Iterator[Chunk]:
    """``chunks`` gathered into groups of at least ``items`` items (the last one smaller)."""
    group: list[Chunk] = []
    held = 0
    for chunk in chunks:
        group.append(chunk)
        held += len(chunk[1])
        if held >= items:
            yield gathered(group)
            group, held = [], 0
    if group:
        yield gathered(group)


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
