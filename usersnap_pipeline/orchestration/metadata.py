"""Materialization metadata helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from ..transform.redact import redact


def preview_table(rows: Iterable[Any], columns: Sequence[str], *, width: int = 80) -> dg.MetadataValue:
    """A few rows as a typed table the UI shows (long text shortened). Objects or dicts alike."""
    records = []
    for row in rows:
        values = {}
        for column in columns:
            value = row.get(column) if isinstance(row, dict) else getattr(row, column)
            if not isinstance(value, (bool, int, float, type(None))):
                value = redact(str(value))  # what customers typed about themselves stays in the warehouse
                value = value if len(value) <= width else value[: width - 1] + "…"
            values[column] = value
        records.append(values)
    kinds = {column: next((_KINDS[type(r[column])] for r in records if r[column] is not None), "string")
             for column in columns}
    return dg.MetadataValue.table(
        records=[dg.TableRecord(record) for record in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(column, kinds[column]) for column in columns]))


_KINDS = {bool: "bool", int: "int", float: "float", str: "string"}
_GENERIC = sqlite.dialect()  # any dialect: it only spells the column types


def table_metadata(table: sa.Table) -> dict[str, Any]:
    """An asset's definition metadata for the warehouse table it writes: the column schema the UI
    shows (names, SQL types, comments, nullability, keys), taken from the table's own definition."""
    keys = {column.name for column in table.primary_key.columns}
    columns = [dg.TableColumn(column.name, str(column.type.compile(dialect=_GENERIC)).lower(),
                              description=column.comment,
                              constraints=dg.TableColumnConstraints(nullable=bool(column.nullable),
                                                                    unique=keys == {column.name}))
               for column in table.columns]
    return {"dagster/column_schema": dg.TableSchema(columns=columns), "dagster/table_name": table.name}

