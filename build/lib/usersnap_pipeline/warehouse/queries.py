"""Read-side summaries of the warehouse: the demo's report, whether themes exist."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from .schema import data_point_labels, data_points, raw_feedback, rejected_feedback, theme_model
from .store import Warehouse


@dataclass
class Summary:
    raw_items: int
    data_points: int
    rejected: int
    per_project: list[tuple[str, int]]
    per_status: list[tuple[str, int]]
    top_labels: list[tuple[str, int]]


def summarize(warehouse: Warehouse, *, top: int = 5) -> Summary:
    def count(table: sa.Table) -> int:
        return warehouse.fetch(sa.select(sa.func.count()).select_from(table))[0][0]

    def grouped(column: sa.ColumnElement, limit: int | None = None) -> list[tuple[str, int]]:
        n = sa.func.count().label("n")
        query = sa.select(column, n).group_by(column).order_by(n.desc(), column)
        if limit:
            query = query.limit(limit)
        return [(str(key), value) for key, value in warehouse.fetch(query)]

    return Summary(
        raw_items=count(raw_feedback),
        data_points=count(data_points),
        rejected=count(rejected_feedback),
        per_project=grouped(data_points.c.project_id),
        per_status=grouped(sa.func.coalesce(data_points.c.status, "(none)")),
        top_labels=grouped(sa.func.coalesce(data_point_labels.c.name, data_point_labels.c.label_id), top),
    )


def format_summary(summary: Summary, project_names: dict[str, str] | None = None) -> str:
    names = project_names or {}
    lines = [f"{summary.data_points} data points from {summary.raw_items} raw items "
             f"({summary.rejected} rejected)", "", "Data points per project:"]
    lines += [f"  {names.get(pid, pid):<40} {n:>7}" for pid, n in summary.per_project]
    lines += ["", "Data points per status:"] + [f"  {status:<40} {n:>7}" for status, n in summary.per_status]
    lines += ["", "Top labels:"] + [f"  {label:<40} {n:>7}" for label, n in summary.top_labels]
    return "\n".join(lines)


def has_theme_model(warehouse: Warehouse) -> bool:
    """Whether themes were ever discovered (cheap: no model is loaded)."""
    return bool(warehouse.fetch(sa.select(theme_model.c.model_version).limit(1)))
