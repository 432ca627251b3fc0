"""Materialization metadata helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite


def markdown_preview(rows: Iterable[Any], columns: Sequence[str], *, width: int = 60) -> dg.MetadataValue:
    """A few rows as a markdown table (values shortened, pipes escaped), shown in the UI."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = getattr(row, column) if not isinstance(row, dict) else row.get(column)
            text = "" if value is None else str(value).replace("\n", " ").replace("|", "\\|")
            cells.append(text if len(text) <= width else text[: width - 1] + "…")
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines))


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

