"""Queries that audit the warehouse over a (project, day) window. Table and column names come from
the schema, never from data; every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa

from . import schema
from .store import Warehouse, read_date, read_timestamp

CHILD_TABLES = (schema.data_point_fields, schema.data_point_labels, schema.data_point_custom_data)
REQUIRED_COLUMNS = ("feedback_id", "project_id", "partition_date", "created_at", "text", "is_demo")


def _in_window(table: sa.Table, project_ids: Sequence[str], start: date, end: date) -> tuple:
    return (table.c.project_id.in_(list(project_ids)), table.c.partition_date >= start, table.c.partition_date < end)


def accounted_items(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date,
                    created_before: datetime | None = None) -> dict[tuple[str, date], int]:
    """Items per (project, day) that became a data point or a rejected row (each raw item is one or the other),
    and those set aside from the day's listing (the API counts them where it listed them).

    ``created_before`` limits the data points counted; rejected and set-aside rows, which often lack a
    usable ``created_at``, are always counted.
    """
    counts: dict[tuple[str, date], int] = {}
    for table in (schema.data_points, schema.rejected_feedback):
        where = list(_in_window(table, project_ids, start, end))
        if table is schema.data_points:
            where.append(table.c.deleted_at.is_(None))  # gone from Usersnap: Usersnap does not count them
        if created_before is not None and table is schema.data_points:
            where.append(table.c.created_at < created_before)
        query = (sa.select(table.c.project_id, table.c.partition_date, sa.func.count())
                 .where(*where).group_by(table.c.project_id, table.c.partition_date))
        for project_id, day, n in warehouse.fetch(query):
            key = (project_id, read_date(day))
            counts[key] = counts.get(key, 0) + n
    aside = schema.set_aside_feedback
    for project_id, day, n in warehouse.fetch(
            sa.select(aside.c.project_id, aside.c.listed_day, sa.func.count())
            .where(aside.c.project_id.in_(list(project_ids)), aside.c.listed_day >= start, aside.c.listed_day < end)
            .group_by(aside.c.project_id, aside.c.listed_day)):
        key = (project_id, read_date(day))
        counts[key] = counts.get(key, 0) + n
    return counts


def live_versions(warehouse: Warehouse, project_id: str, start: date, end: date) -> dict[date, dict[str, datetime]]:
    """By day of the window, each item still in Usersnap as far as the warehouse knows, with its ``updated_at``."""
    raw = schema.raw_feedback
    versions: dict[date, dict[str, datetime]] = {}
    for day, feedback_id, updated in warehouse.fetch(
            sa.select(raw.c.partition_date, raw.c.feedback_id, raw.c.updated_at)
            .where(*_in_window(raw, [project_id], start, end), raw.c.deleted_at.is_(None))):
        versions.setdefault(read_date(day), {})[feedback_id] = read_timestamp(updated)
    return versions


def fetch_times(warehouse: Warehouse, project_id: str, start: date, end: date) -> dict[date, datetime]:
    """When each fetched (project, day) partition of the window was last fetched."""
    state = schema.partition_state
    rows = warehouse.fetch(sa.select(state.c.partition_date, state.c.raw_version)
                           .where(*_in_window(state, [project_id], start, end), state.c.raw_version.is_not(None)))
    return {read_date(day): read_timestamp(version) for day, version in rows}


def duplicate_feedback_ids(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date) -> int:
    table = schema.data_points
    query = sa.select(sa.func.count() - sa.func.count(sa.distinct(table.c.feedback_id))).where(
        *_in_window(table, project_ids, start, end))
    return int(warehouse.fetch(query)[0][0] or 0)


def null_counts(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date) -> dict[str, int]:
    table = schema.data_points
    query = sa.select(*(sa.func.count().filter(table.c[name].is_(None)).label(name) for name in REQUIRED_COLUMNS)
                      ).where(*_in_window(table, project_ids, start, end))
    row = warehouse.fetch(query)[0]
    return {name: int(row._mapping[name] or 0) for name in REQUIRED_COLUMNS}


def orphan_counts(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date) -> dict[str, int]:
    """Rows of the metadata tables whose data point does not exist."""
    points = schema.data_points
    counts = {}
    for table in CHILD_TABLES:
        query = (sa.select(sa.func.count()).select_from(table)
                 .outerjoin(points, points.c.feedback_id == table.c.feedback_id)
                 .where(*_in_window(table, project_ids, start, end), points.c.feedback_id.is_(None)))
        counts[table.name] = int(warehouse.fetch(query)[0][0])
    return counts


def rejected_reasons(warehouse: Warehouse, project_ids: Sequence[str], start: date, end: date) -> dict[str, int]:
    """Why items of the window did not become data points: rejected, or set aside from its listings."""
    table, aside = schema.rejected_feedback, schema.set_aside_feedback
    query = (sa.select(table.c.reason, sa.func.count()).where(*_in_window(table, project_ids, start, end))
             .group_by(table.c.reason))
    reasons = {reason: n for reason, n in warehouse.fetch(query)}
    for reason, n in warehouse.fetch(
            sa.select(aside.c.reason, sa.func.count())
            .where(aside.c.project_id.in_(list(project_ids)), aside.c.listed_day >= start, aside.c.listed_day < end)
            .group_by(aside.c.reason)):
        reasons[f"set aside: {reason}"] = reasons.get(f"set aside: {reason}", 0) + n
    return reasons
