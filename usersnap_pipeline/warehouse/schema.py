"""The warehouse tables and views. Column order matches the row types in ``transform`` (checked at
import), so rows go to the database as tuples without per-row dicts."""

from __future__ import annotations

import sqlalchemy as sa

from ..transform.normalize import CustomDatum, DataPoint, Field, Label, NormalizedBatch, Rejected
from ..transform.raw import RawFeedback

metadata = sa.MetaData()
TIMESTAMP = sa.DateTime(timezone=True)
DELETED_AT = ("when a re-import found the item gone from Usersnap; NULL while it is there. Kept, never "
              "purged by the pipeline; left out of themes and of the completeness counts")


def _partitioned(name: str, *columns: sa.Column, comment: str, key: tuple[str, ...] | None = None) -> sa.Table:
    """Every table carries its partition (project_id, partition_date): a re-run replaces exactly those rows.

    A table with ``key`` holds a data point's metadata rows: its primary key is (partition,
    feedback_id, *key), so rows are stored in partition order and that one index serves the partition
    writes. Keyed by feedback_id first, every row would go to a random place of a second index: at
    200,000 items, 1.7 million of them, the largest part of the database's work during an import.
    Look such rows up with their data point's (project_id, partition_date, feedback_id).
    """
    head = [columns[0], sa.Column("project_id", sa.Text, nullable=False),
            sa.Column("partition_date", sa.Date, nullable=False)]
    if key is None:
        table = sa.Table(name, metadata, *head, *columns[1:], comment=comment)
        sa.Index(f"ix_{name}_partition", table.c.project_id, table.c.partition_date)
        return table
    return sa.Table(name, metadata, *head, *columns[1:],
                    sa.PrimaryKeyConstraint("project_id", "partition_date", columns[0].name, *key), comment=comment)


raw_feedback = _partitioned(
    "raw_feedback",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("created_at", TIMESTAMP),
    sa.Column("updated_at", TIMESTAMP),
    sa.Column("fetched_at", TIMESTAMP, nullable=False),
    sa.Column("item_json", sa.Text, nullable=False),
    sa.Column("deleted_at", TIMESTAMP, comment=DELETED_AT),
    comment="Every feedback item exactly as the API returned it (JSON text), one row per item.",
)

data_points = _partitioned(
    "data_points",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("feedback_number", sa.BigInteger, comment="the number Usersnap shows (#123)"),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP),
    sa.Column("status", sa.Text),
    sa.Column("priority", sa.Text),
    sa.Column("rating", sa.Float, comment="the form's rating as a number, read from the published string value"),
    sa.Column("rating_scale", sa.Text, comment="five_star, nps, smileys or thumbs"),
    sa.Column("submitter_email", sa.Text),
    sa.Column("assignee_id", sa.Text, comment="joins assignees.assignee_id"),
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text, nullable=False, comment="the thread's text inputs in form order"),
    sa.Column("source_url", sa.Text, comment="the feedback in Usersnap"),
    sa.Column("screenshot_url", sa.Text, comment="linked, never copied"),
    sa.Column("page_url", sa.Text, comment="the page the feedback was given on"),
    sa.Column("browser", sa.Text),
    sa.Column("os", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("is_demo", sa.Boolean, nullable=False, comment="Usersnap's sample feedback: kept, left out of themes"),
    sa.Column("deleted_at", TIMESTAMP, comment=DELETED_AT),
    comment="One row per Usersnap submission.",
)

data_point_fields = _partitioned(
    "data_point_fields",
    sa.Column("feedback_id", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("field_type", sa.Text, nullable=False),
    sa.Column("text_value", sa.Text),
    sa.Column("number_value", sa.Float),
    sa.Column("boolean_value", sa.Boolean),
    sa.Column("message_text", sa.Text),
    comment="Every non-empty form input as a typed field (text, number, boolean); message_text is a number "
            "or yes/no written out as the thread (data_point_messages) shows it.",
    key=("position",),
)

data_point_labels = _partitioned(
    "data_point_labels",
    sa.Column("feedback_id", sa.Text, nullable=False),
    sa.Column("label_id", sa.Text, nullable=False),
    sa.Column("identifier", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("color", sa.Text),
    comment="One row per label applied to a data point.",
    key=("label_id",),
)

data_point_custom_data = _partitioned(
    "data_point_custom_data",
    sa.Column("feedback_id", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value_json", sa.Text, nullable=False),
    comment="Custom data flattened to rows: nested keys as dotted paths, values as JSON text.",
    key=("key",),
)

rejected_feedback = _partitioned(
    "rejected_feedback",
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    comment="Raw items that could not become data points, with the reason; the item stays in raw_feedback.",
)

set_aside_feedback = sa.Table(
    "set_aside_feedback", metadata,
    sa.Column("project_id", sa.Text, primary_key=True),
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("listed_day", sa.Date, nullable=False,
              comment="the day of the listing it was served in (the day of the item served before it)"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at_sent", sa.Text, comment="created_at as the API sent it"),
    sa.Column("fetched_at", TIMESTAMP, nullable=False),
    sa.Column("item_json", sa.Text, nullable=False),
    comment="Items the API listed in a window they are not dated in (created_at in the future, before the "
            "window, or unreadable): kept as sent, never filed under a day they are not dated on, where they "
            "would count there and could displace a live item. Replaced whenever the day it was listed on is fetched again.",
)

projects = sa.Table(
    "projects", metadata,
    sa.Column("project_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("is_live", sa.Boolean),
    sa.Column("created_at", TIMESTAMP),
    sa.Column("archived_at", TIMESTAMP),
    comment="The projects imported, with their names: the report's per-project sections read these.",
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

# -- themes: built from data_points by the themes assets, never from the API -----------------------

data_point_embeddings = sa.Table(
    "data_point_embeddings", metadata,
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("encoder", sa.Text, nullable=False, comment="the model and cleaning version that made the vector"),
    sa.Column("text_sha1", sa.Text, nullable=False, comment="of data_points.text and the boilerplate learned in it: "
                                                             "an edit of either re-embeds it"),
    sa.Column("vector", sa.LargeBinary, comment="float16, unit length; NULL when too little is left to embed "
                                                "(the data point is 'Other / unclear')"),
    sa.Column("language", sa.Text, comment="of the cleaned text (ISO 639-1; NULL when too short to tell): themes "
                                           "centre each language's vectors"),
    comment="Each data point's text embedding, cached: themes discover and assign over these, and only new or "
            "edited texts are embedded again.",
)

theme_model = sa.Table(
    "theme_model", metadata,
    sa.Column("model_version", sa.Text, primary_key=True),
    sa.Column("discovered_at", TIMESTAMP, nullable=False),
    sa.Column("data_points", sa.Integer, nullable=False),
    sa.Column("model_json", sa.Text, nullable=False),
    comment="The current theme model (its encoder, one centroid per theme): new data points are "
            "assigned with it until the next deliberate re-discovery. One row.",
)

themes = sa.Table(
    "themes", metadata,
    sa.Column("theme_id", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("keywords_json", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("quotes_json", sa.Text, nullable=False),
    sa.Column("data_points", sa.Integer, nullable=False, comment="at discovery; data_point_themes has the current"),
    sa.Column("first_seen", TIMESTAMP, comment="at discovery"),
    sa.Column("last_seen", TIMESTAMP, comment="at discovery"),
    sa.Column("model_version", sa.Text, nullable=False),
    comment="Themes found in the feedback: label, keywords, an extractive summary with quotes linking back "
            "to Usersnap; written by discovery only (the report and trends count the current assignments).",
)

data_point_themes = sa.Table(
    "data_point_themes", metadata,
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("theme_id", sa.Text, primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    comment="Each data point's theme(s): rank 1 is the best; more only when nearly as close.",
)

theme_assignment_state = sa.Table(
    "theme_assignment_state", metadata,
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("data_point_updated_at", TIMESTAMP),
    sa.Column("assigned_at", TIMESTAMP, nullable=False),
    comment="Which data points were assigned, by which model, as of which edit: what makes assignment incremental.",
)

data_point_sentiment = sa.Table(
    "data_point_sentiment", metadata,
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("sentiment", sa.Text, nullable=False, comment="negative, neutral or positive"),
    sa.Column("score", sa.Float, nullable=False, comment="-1 … 1: P(positive) - P(negative), text and rating together"),
    sa.Column("text_score", sa.Float, comment="the text alone; NULL when there is no text to read"),
    sa.Column("rating_score", sa.Float, comment="the rating alone on -1 … 1; NULL without a rating"),
    sa.Column("model_version", sa.Text, nullable=False, comment="the sentiment weights that scored it"),
    sa.Column("text_sha1", sa.Text, comment="of the text scored (as embedded): an edit scores it again"),
    sa.Column("rating", sa.Float, comment="the rating scored: a changed rating scores it again"),
    sa.Column("rating_scale", sa.Text),
    comment="Each data point's sentiment from its text's embedding and its rating; only new or edited data "
            "points are scored again.",
)

theme_trends = sa.Table(
    "theme_trends", metadata,
    sa.Column("theme_id", sa.Text, primary_key=True),
    sa.Column("granularity", sa.Text, primary_key=True),
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("data_points", sa.Integer, nullable=False),
    sa.Column("share", sa.Float, nullable=False),
    sa.Column("previous_data_points", sa.Integer, nullable=False),
    sa.Column("change", sa.Integer, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("direction", sa.Text, comment="weeks: rising, falling, new, spike, steady, in progress; days: NULL"),
    sa.Column("negative", sa.Integer, comment="data points of the period with negative sentiment"),
    sa.Column("positive", sa.Integer, comment="data points of the period with positive sentiment"),
    sa.Column("sentiment", sa.Float, comment="their mean sentiment score, -1 … 1; NULL when none is scored"),
    # in TrendRow's order: rows are written as its tuples
    sa.Column("project_id", sa.Text, primary_key=True, comment="the project counted; '' = all projects"),
    sa.Column("share_from", sa.Float, comment="the verdict's share before: fitted at the window's start, or the "
                                               "baseline weeks'"),
    sa.Column("share_to", sa.Float, comment="the verdict's share now: fitted at the window's end, or the week's"),
    sa.Column("weeks", sa.Integer, comment="the weeks the verdict was judged over, this one included"),
    sa.Column("p_value", sa.Float, comment="adjusted across the week's themes (Benjamini-Hochberg); NULL: not judged"),
    comment="Data points per theme per day and week, overall and per project, share of all feedback, sentiment, "
            "and each week's verdict (rising, falling, new, spike) with its numbers.",
)

theme_alerts = sa.Table(
    "theme_alerts", metadata,
    sa.Column("theme_id", sa.Text, primary_key=True),
    sa.Column("granularity", sa.Text, primary_key=True),
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False, comment="rising, new or spike: the verdict that raised it"),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("data_points", sa.Integer, nullable=False, comment="in the period when the alert was raised"),
    sa.Column("previous_data_points", sa.Integer, nullable=False),
    sa.Column("message_json", sa.Text, nullable=False, comment="the webhook message, quotes masked"),
    sa.Column("raised_at", TIMESTAMP, nullable=False),
    sa.Column("claimed_at", TIMESTAMP, comment="a run is sending it: no other run sends it meanwhile"),
    sa.Column("delivered_at", TIMESTAMP, comment="NULL: not delivered yet (no webhook, or it failed); retried"),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, comment="why the last attempt failed (never the URL)"),
    comment="One alert per theme and period in which it rose: the row is what makes an alert go out once "
            "across re-runs, and what a failed delivery is retried from.",
)

# -- views: read like tables, written through the tables they read -----------------------------------

views = sa.MetaData()  # apart from ``metadata``: create_all would make them tables

_thread = sa.select(
    *(data_point_fields.c[name] for name in ("feedback_id", "project_id", "partition_date", "position", "label")),
    sa.func.coalesce(data_point_fields.c.message_text, data_point_fields.c.text_value).label("text"))

# The view's columns are its query's: nothing to keep equal by hand.
data_point_messages = sa.Table(
    "data_point_messages", views,
    *(sa.Column(column.name, column.type) for column in _thread.selected_columns),
    sa.PrimaryKeyConstraint("project_id", "partition_date", "feedback_id", "position"),  # what identifies a row
    comment="The thread of a data point: one message per non-empty form input, in form order (a view of "
            "data_point_fields: a thread's texts are stored once).",
)

VIEWS: dict[sa.Table, sa.Select] = {data_point_messages: _thread}

ROW_TYPES: dict[sa.Table, type] = {
    raw_feedback: RawFeedback,
    data_points: DataPoint,
    data_point_fields: Field,
    data_point_labels: Label,
    data_point_custom_data: CustomDatum,
    rejected_feedback: Rejected,
}
NORMALIZED_TABLES = (data_points, data_point_fields, data_point_labels,
                     data_point_custom_data, rejected_feedback)

for _table, _row_type in ROW_TYPES.items():
    if tuple(_table.columns.keys()) != _row_type._fields:
        raise AssertionError(f"{_table.name} columns {_table.columns.keys()} != {_row_type.__name__} fields")

# Which layer each partitioned table belongs to: partition_state versions the writes per layer.
LAYERS: dict[sa.Table, str] = {raw_feedback: "raw", **{table: "normalized" for table in NORMALIZED_TABLES}}
PARTITIONED_TABLES = tuple(LAYERS)


def normalized_rows(batch: NormalizedBatch) -> dict[sa.Table, list]:
    """The rows of a normalized batch, by the table they go to."""
    return {
        data_points: batch.data_points,
        data_point_fields: batch.fields,
        data_point_labels: batch.labels,
        data_point_custom_data: batch.custom_data,
        rejected_feedback: batch.rejected,
    }
# Every item with rows in a partition has a row in one of these there: the other tables' rows are
# written with its data point.
ID_TABLES = (raw_feedback, data_points, rejected_feedback)
