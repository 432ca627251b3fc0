"""Make the warehouse's schema current: new tables and views, and an earlier version's warehouse
upgraded in place, losing nothing.

Every step checks before it acts, so a start interrupted half-way is finished by the next one.
"""

from __future__ import annotations

import sqlalchemy as sa

from . import schema


def to_current_schema(conn: sa.Connection) -> None:
    _rebuilt_derived_tables(conn)
    schema.metadata.create_all(conn)
    _thread_into_fields(conn)
    _added_columns(conn)
    _create_views(conn)


# Columns added since a table was first made: (table, column, since when and why).
ADDED_COLUMNS = (
    (schema.raw_feedback, "deleted_at", "2026-11: an item gone from Usersnap is kept with deleted_at set"),
    (schema.data_points, "deleted_at", "2026-11: an item gone from Usersnap is kept with deleted_at set"),
    (schema.data_point_embeddings, "language", "2026-12: themes centre each language's embeddings"),
)
# Tables recomputed whole by every run of their asset, whose key changed: dropped when their key lacks the
# column (and made anew by create_all), nothing lost. (table, column, since when and why).
REKEYED_DERIVED_TABLES = (
    (schema.theme_trends, "project_id", "2026-12: trends per project as well as overall, with their verdicts"),
)


def _rebuilt_derived_tables(conn: sa.Connection) -> None:
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    for table, name, _ in REKEYED_DERIVED_TABLES:
        if table.name in existing and name not in {column["name"] for column in inspector.get_columns(table.name)}:
            conn.execute(sa.text(f'DROP TABLE "{table.name}"'))


def _added_columns(conn: sa.Connection) -> None:
    inspector = sa.inspect(conn)
    for table, name, _ in ADDED_COLUMNS:
        if name not in {column["name"] for column in inspector.get_columns(table.name)}:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {kind}'))


def _thread_into_fields(conn: sa.Connection) -> None:
    """Until 2026-11 the thread was a table of its own, and every text input was stored twice: there and
    in data_point_fields. Its written-out numbers and yes/no answers move to
    data_point_fields.message_text; the data_point_messages view reads the thread from there."""
    inspector = sa.inspect(conn)
    if "message_text" not in {column["name"] for column in inspector.get_columns("data_point_fields")}:
        conn.execute(sa.text("ALTER TABLE data_point_fields ADD COLUMN message_text TEXT"))
    if "data_point_messages" not in inspector.get_table_names():  # a new warehouse, or one upgraded already
        return
    conn.execute(sa.text(
        "UPDATE data_point_fields SET message_text = (SELECT m.text FROM data_point_messages m"
        " WHERE m.project_id = data_point_fields.project_id AND m.partition_date = data_point_fields.partition_date"
        " AND m.feedback_id = data_point_fields.feedback_id AND m.position = data_point_fields.position)"
        " WHERE field_type <> 'text' OR text_value IS NULL"))  # the view shows text_value for the others
    conn.execute(sa.text("DROP TABLE data_point_messages"))


def _create_views(conn: sa.Connection) -> None:
    existing = set(sa.inspect(conn).get_view_names())
    for view, query in schema.VIEWS.items():
        if view.name not in existing:
            select = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            conn.exec_driver_sql(f'CREATE VIEW "{view.name}" AS {select}')
