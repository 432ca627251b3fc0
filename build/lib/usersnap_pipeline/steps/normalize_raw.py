"""Normalize the stored raw layer of a (project, day) range again, without calling the API:
after an improvement to the normalizer, or when only the data point tables were asked for."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timezone

from ..transform.normalize import normalize_items
from ..warehouse import Warehouse
from ..warehouse.schema import normalized_rows
from .days import days_between
from .report import ImportReport

_NEVER_FETCHED = datetime(1970, 1, 1, tzinfo=timezone.utc)


def normalize_window(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date) -> ImportReport:
    report = ImportReport(days=(end - start).days)
    for day in days_between(start, end):
        for project_id in project_ids:
            # Version first, rows second: the rows are at least as new as the version they are labelled with.
            version = warehouse.partition_version(project_id, day, "raw") or _NEVER_FETCHED
            stored = warehouse.read_raw(project_id, day)
            items = [(key, _read(text)) for key, text, _ in stored]
            batch = normalize_items(items, project_id=project_id, partition_date=day)
            deleted = {key: when for key, _, when in stored if when is not None}
            if deleted:  # gone from Usersnap: their data points stay marked so
                batch.data_points[:] = [point._replace(deleted_at=deleted.get(point.feedback_id))
                                        for point in batch.data_points]
            warehouse.replace_partition(project_id, day, normalized_rows(batch), version=version,
                                        feedback_ids=(key for key, _ in items))
            report.add_normalized(project_id, batch)
    return report


def _read(text: str):
    """A stored item; None when it is nested too deeply to read (it is then rejected, with the reason)."""
    try:
        return json.loads(text)
    except RecursionError:
        return None
