"""dagster-postgres's event log, holding a connection open instead of opening fresh ones per event.

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
