"""Materialization metadata helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg


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
