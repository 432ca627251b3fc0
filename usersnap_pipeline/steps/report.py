"""What an import or a re-normalization did, summed over its (project, day) partitions."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from ..transform.normalize import NormalizedBatch
from ..warehouse import schema

SAMPLE_SIZE = 5


@dataclass
class ImportReport:
    days: int = 0
    items_per_project: Counter = field(default_factory=Counter)  # raw items fetched
    items_per_day: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)  # normalized table name -> rows written
    rejected_reasons: Counter = field(default_factory=Counter)
    data_points_per_project: Counter = field(default_factory=Counter)
    data_points_per_day: Counter = field(default_factory=Counter)  # ISO day -> data points written
    sample: list = field(default_factory=list)  # a few data points for the preview
    duplicates: Counter = field(default_factory=Counter)  # project -> items the API served twice in a window
    drift: Counter = field(default_factory=Counter)  # departure from the published shape -> items
    deleted: Counter = field(default_factory=Counter)  # project -> items found gone from Usersnap (soft-deleted)
    out_of_order: Counter = field(default_factory=Counter)  # project -> days fetched again: served out of order
    set_aside: Counter = field(default_factory=Counter)  # project -> items listed in a window they are not dated in
    listed_short: Counter = field(default_factory=Counter)  # project -> days served fewer items than counted
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def items(self) -> int:
        return sum(self.items_per_project.values())

    @property
    def rejected(self) -> int:
        return sum(self.rejected_reasons.values())

    def add_fetched(self, project_id: str, day: date, items: int) -> None:
        with self._lock:
            self.items_per_project[project_id] += items
            self.items_per_day[day.isoformat()] += items

    def add_deleted(self, project_id: str, items: int) -> None:
        if items:
            with self._lock:
                self.deleted[project_id] += items

    def add_out_of_order(self, project_id: str, days: int) -> None:
        if days:
            with self._lock:
                self.out_of_order[project_id] += days

    def add_set_aside(self, project_id: str, items: int) -> None:
        if items:
            with self._lock:
                self.set_aside[project_id] += items

    def add_listed_short(self, project_id: str, days: int) -> None:
        if days:
            with self._lock:
                self.listed_short[project_id] += days

    def add_duplicate(self, project_id: str) -> None:
        with self._lock:
            self.duplicates[project_id] += 1

    def add(self, other: ImportReport) -> None:
        """Count what ``other`` counted, too (the days excepted)."""
        with self._lock:
            for mine, theirs in ((self.items_per_project, other.items_per_project),
                                 (self.items_per_day, other.items_per_day), (self.rows, other.rows),
                                 (self.rejected_reasons, other.rejected_reasons),
                                 (self.data_points_per_project, other.data_points_per_project),
                                 (self.data_points_per_day, other.data_points_per_day),
                                 (self.duplicates, other.duplicates), (self.drift, other.drift),
                                 (self.deleted, other.deleted),
                                 (self.out_of_order, other.out_of_order), (self.set_aside, other.set_aside),
                                 (self.listed_short, other.listed_short)):
                mine.update(theirs)
            self.sample.extend(other.sample[:SAMPLE_SIZE - len(self.sample)])

    def add_normalized(self, project_id: str, batch: NormalizedBatch) -> None:
        with self._lock:
            for table, rows in schema.normalized_rows(batch).items():
                self.rows[table.name] += len(rows)
            self.data_points_per_project[project_id] += len(batch.data_points)
            self.data_points_per_day.update(point.partition_date.isoformat() for point in batch.data_points)
            self.rejected_reasons.update(r.reason for r in batch.rejected)
            self.drift.update(batch.drift)
            room = SAMPLE_SIZE - len(self.sample)
            if room > 0:
                self.sample.extend(batch.data_points[:room])

