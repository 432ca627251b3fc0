"""Normalize the raw layer of a (project, day) range into the data point tables."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from ..transform.normalize import NormalizedBatch, normalize_items
from ..warehouse import Warehouse, schema
from .days import days_between

_NEVER_FETCHED = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class NormalizeReport:
    rows: Counter = field(default_factory=Counter)  # table name -> rows written
    rejected_reasons: Counter = field(default_factory=Counter)
    data_points_per_project: Counter = field(default_factory=Counter)
    sample: list = field(default_factory=list)  # a few data points for the preview


def normalize_window(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date,
                     *, sample_size: int = 5) -> NormalizeReport:
    report = NormalizeReport()
    for day in days_between(start, end):
        for project_id in project_ids:
            # Version first, rows second: the rows are at least as new as the version they are labelled with.
            version = warehouse.partition_version(project_id, day, "raw") or _NEVER_FETCHED
            items = [(key, json.loads(text)) for key, text in warehouse.read_raw(project_id, day)]
            batch = normalize_items(items, project_id=project_id, partition_date=day)
            warehouse.replace_partition(project_id, day, tables_of(batch), layer="normalized", version=version,
                                        feedback_ids=(key for key, _ in items))
            _account(report, batch, project_id, sample_size)
    return report


def tables_of(batch: NormalizedBatch) -> dict:
    return {
        schema.data_points: batch.data_points,
        schema.data_point_messages: batch.messages,
        schema.data_point_fields: batch.fields,
        schema.data_point_labels: batch.labels,
        schema.data_point_custom_data: batch.custom_data,
        schema.rejected_feedback: batch.rejected,
    }


def _account(report: NormalizeReport, batch: NormalizedBatch, project_id: str, sample_size: int) -> None:
    for table, rows in tables_of(batch).items():
        report.rows[table.name] += len(rows)
    report.data_points_per_project[project_id] += len(batch.data_points)
    report.rejected_reasons.update(r.reason for r in batch.rejected)
    room = sample_size - len(report.sample)
    if room > 0:
        report.sample.extend(batch.data_points[:room])
