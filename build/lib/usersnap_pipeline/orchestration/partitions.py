"""Daily UTC partitions over the import-history window."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def daily_partitions(import_history_start: date) -> dg.DailyPartitionsDefinition:
    # A fixed start read once from configuration: a moving "now minus N days" start would change
    # the definition every day and break backfills that are running. end_offset=1 adds today.
    return dg.DailyPartitionsDefinition(start_date=import_history_start.isoformat(), timezone="UTC",
                                        end_offset=1)


def range_tags(first_key: str, last_key: str) -> dict[str, str]:
    """Tags that make one run cover a range of partitions (with a single-run backfill policy)."""
    return {RANGE_START_TAG: first_key, RANGE_END_TAG: last_key}


def window_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date]:
    """The run's partition range as days ``[start, end)`` (one partition, or a whole backfill)."""
    window = getattr(context, "op_execution_context", context).partition_time_window
    return window.start.date(), window.end.date()


def check_window(context: dg.AssetCheckExecutionContext,
                 partitions_def: dg.TimeWindowPartitionsDefinition) -> tuple[date, date]:
    """The days a check covers: its run's partitions, or every partition when run on its own."""
    op_context = context.op_execution_context
    if op_context.has_partition_key or op_context.has_partition_key_range:
        try:
            return window_days(context)
        except dg.DagsterInvariantViolationError:
            pass  # range tags, but no partitioned asset in the run: a check run on its own
    keys = partitions_def.get_partition_keys()
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1]) + timedelta(days=1)
