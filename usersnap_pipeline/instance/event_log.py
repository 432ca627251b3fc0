"""dagster-postgres's event log, holding a connection open instead of opening fresh ones per event, and
storing a range run's planned checks in one statement compiled once.

dagster-postgres creates its engines with NullPool (so that no DagsterInstance accumulates open
connections): every event a run stores opens new connections, three for an asset event, about 14 ms
on the benchmark machine. A single run over 181 days stores 362 planned-materialization events
before its first step, one by one: 5 s, at 2,000 items as at 200,000. dagster-webserver keeps a
pooled engine for the same reason (``optimize_for_webserver``); this does it in every process that
loads the instance: one connection kept per process, more only while events arrive concurrently,
each checked before use so a restarted server costs a reconnect, not a failed event.
"""

from collections.abc import Mapping
from typing import Any

from dagster import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._serdes import serialize_value
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """``PostgresEventLogStorage`` with a small connection pool; configured exactly like it."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()
        # One connection kept; connections beyond it (events stored concurrently, as in the daemon's
        # threads) are opened and closed as before, never waited for.
        self._engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT", pool_size=1,
                                        max_overflow=-1, pool_pre_ping=True, pool_recycle=3600)

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]) -> "PooledPostgresEventLogStorage":
        return cls(pg_url_from_config(config_value), config_value.get("should_autocreate_tables", True), inst_data,
                   get_token_provider_from_config(config_value))

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """The rows dagster's own method stores, one per check and day of the run, inserted as one
        executemany: dagster serializes the same event again for each day and compiles a VALUES clause
        of every day, which for the five checks of a 3-year backfill was 3.6 s of the run's Python CPU
        (bench/README.md). Dagster is pinned: tests/pipeline/test_instance_storage.py compares the rows."""
        planned = event.dagster_event.event_specific_data
        days = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = {"asset_key": planned.asset_key.to_string(), "check_name": planned.check_name, "run_id": event.run_id,
               "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
               "evaluation_event": serialize_value(event),
               "evaluation_event_timestamp": self._event_insert_timestamp(event),
               "evaluation_event_storage_id": event_id}
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": day} for day in days])
