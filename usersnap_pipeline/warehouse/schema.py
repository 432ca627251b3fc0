"""The warehouse tables. Column order matches the row types in ``transform`` (checked at import),
so rows go to the database as tuples without per-row dicts."""

from __future__ import annotations

import sqlalchemy as sa

from ..transform.normalize import CustomDatum, DataPoint, Field, Label, Message, Rejected
from ..transform.raw import RawFeedback

metadata = sa.MetaData()
TIMESTAMP = sa.DateTime(timezone=True)


def _partitioned(name: str, *columns: sa.Column, comment: str) -> sa.Table:
    """Every table carries its partition (project_id, partition_date): a re-run replaces exactly those rows."""
    head = [columns[0], sa.Column("project_id", sa.Text, nullable=False),
            sa.Column("partition_date", sa.Date, nullable=False)]
    table = sa.Table(name, metadata, *head, *columns[1:], comment=comment)
    sa.Index(f"ix_{name}_partition", table.c.project_id, table.c.partition_date)
    return table


raw_feedback = _partitioned(
    "raw_feedback",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("created_at", TIMESTAMP),
    sa.Column("updated_at", TIMESTAMP),
    sa.Column("fetched_at", TIMESTAMP, nullable=False),
    sa.Column("item_json", sa.Text, nullable=False),
    comment="Every feedback item exactly as the API returned it (JSON text), one row per item.",
)

data_points = _partitioned(
    "data_points",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("feedback_number", sa.BigInteger),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP),
    sa.Column("status", sa.Text),
    sa.Column("priority", sa.Text),
    sa.Column("rating", sa.Float),
    sa.Column("rating_scale", sa.Text),
    sa.Column("submitter_email", sa.Text),
    sa.Column("assignee_id", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source_url", sa.Text),
    sa.Column("screenshot_url", sa.Text),
    sa.Column("page_url", sa.Text),
    sa.Column("browser", sa.Text),
    sa.Column("os", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("is_demo", sa.Boolean, nullable=False),
    comment="One row per Usersnap submission.",
)

data_point_messages = _partitioned(
    "data_point_messages",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    comment="The thread of a data point: one row per non-empty form input, in form order.",
)

data_point_fields = _partitioned(
    "data_point_fields",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("field_type", sa.Text, nullable=False),
    sa.Column("text_value", sa.Text),
    sa.Column("number_value", sa.Float),
    sa.Column("boolean_value", sa.Boolean),
    comment="Every non-empty form input as a typed field (text, number, boolean).",
)

data_point_labels = _partitioned(
    "data_point_labels",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("label_id", sa.Text, primary_key=True),
    sa.Column("identifier", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("color", sa.Text),
    comment="One row per label applied to a data point.",
)

data_point_custom_data = _partitioned(
    "data_point_custom_data",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
    comment="Custom data flattened to rows: nested keys as dotted paths, values as JSON text.",
)

rejected_feedback = _partitioned(
    "rejected_feedback",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    comment="Raw items that could not become data points, with the reason; the item stays in raw_feedback.",
)

assignees = sa.Table(
    "assignees", metadata,
    sa.Column("project_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),  # unique per project only
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("full_name", sa.Text),
    sa.Column("gravatar_url", sa.Text),
    comment="Users feedback can be assigned to, per project: resolves data_points.assignee_id to a name.",
)

partition_state = sa.Table(
    "partition_state", metadata,
    sa.Column("project_id", sa.Text, primary_key=True),
    sa.Column("partition_date", sa.Date, primary_key=True),
    sa.Column("raw_version", TIMESTAMP, comment="when the fetch that wrote raw_feedback started"),
    sa.Column("normalized_version", TIMESTAMP, comment="raw_version the normalized tables were built from"),
    sa.Column("raw_rows", sa.Integer),
    sa.Column("data_points", sa.Integer),
    comment="Import status per (project, day). Versions make writes compare-and-set: when two runs import "
            "the same partition, the newest fetch wins whatever order they commit in.",
)

ROW_TYPES: dict[sa.Table, type] = {
    raw_feedback: RawFeedback,
    data_points: DataPoint,
    data_point_messages: Message,
    data_point_fields: Field,
    data_point_labels: Label,
    data_point_custom_data: CustomDatum,
    rejected_feedback: Rejected,
}
NORMALIZED_TABLES = (data_points, data_point_messages, data_point_fields, data_point_labels,
                     data_point_custom_data, rejected_feedback)

for _table, _row_type in ROW_TYPES.items():
    if tuple(_table.columns.keys()) != _row_type._fields:
        raise AssertionError(f"{_table.name} columns {_table.columns.keys()} != {_row_type.__name__} fields")
