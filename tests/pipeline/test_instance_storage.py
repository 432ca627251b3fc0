"""Dagster's storage as deployed (deploy/dagster.yaml): the event log keeps its connection instead of
opening fresh ones for every event, survives the server dropping it, and stores a range run's planned
checks as dagster-postgres does."""

import time

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster import DagsterEvent, DagsterEventType, EventLogEntry
from dagster._core.events import AssetCheckEvaluationPlanned
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster_postgres import PostgresEventLogStorage

from tests.conftest import PG_ADMIN_URL, deployed_dagster_home
from usersnap_pipeline.instance.event_log import PooledPostgresEventLogStorage

pytestmark = pytest.mark.postgres

@pytest.fixture
def deployed_instance(postgres_databases, tmp_path, monkeypatch):
    database = postgres_databases("dagster_storage")
    for name, value in deployed_dagster_home(tmp_path, database).items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance, database


def _sessions(database: str) -> int:
    """Connections ever opened to ``database`` (PostgreSQL's own count)."""
    admin = sa.create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
            return conn.execute(sa.text("SELECT sessions FROM pg_stat_database WHERE datname = :name"),
                                {"name": database}).scalar_one()
    finally:
        admin.dispose()


def _materialize(instance: dg.DagsterInstance, count: int) -> None:
    for index in range(count):
        instance.report_runless_asset_event(dg.AssetMaterialization("storage_probe", partition=f"p{index}"))


def _stored(instance: dg.DagsterInstance) -> int:
    return len(instance.fetch_materializations(dg.AssetKey("storage_probe"), limit=1000).records)


def test_the_event_log_reuses_its_connection(deployed_instance):
    instance, database = deployed_instance
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    _materialize(instance, 1)
    time.sleep(1.1)  # PostgreSQL publishes session counts at most once a second
    before = _sessions(database)
    _materialize(instance, 40)
    time.sleep(1.1)
    # dagster-postgres as shipped opens two connections for each of them: 80 here.
    assert _sessions(database) - before <= 3
    assert _stored(instance) == 41


def test_a_dropped_connection_costs_a_reconnect_not_an_event(deployed_instance):
    instance, database = deployed_instance
    _materialize(instance, 1)
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            dropped = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                           "WHERE datname = :name AND pid <> pg_backend_pid()"),
                                   {"name": database}).scalar_one()
    finally:
        admin.dispose()
    assert dropped >= 1  # the connection the event log kept
    _materialize(instance, 2)
    assert _stored(instance) == 3


def _check_rows(instance: dg.DagsterInstance) -> list[dict]:
    """The check execution rows, less the columns the database fills in."""
    with instance.event_log_storage.index_connection() as conn:
        rows = conn.execute(sa.select(AssetCheckExecutionsTable)).mappings().all()
    return sorted(({key: value for key, value in row.items() if key not in ("id", "create_timestamp")}
                   for row in rows), key=lambda row: str(row["partition"]))


def test_a_range_runs_planned_checks_are_stored_as_dagster_stores_them(deployed_instance):
    """One planned row per check and day of the run, equal column for column to dagster-postgres's own."""
    instance, _ = deployed_instance
    storage = instance.event_log_storage
    days = dg.DailyPartitionsDefinition(start_date="2023-01-01")
    planned = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value, job_name="__ASSET_JOB",
        event_specific_data=AssetCheckEvaluationPlanned(
            asset_key=dg.AssetKey("data_points"), check_name="feedback_id_unique",
            partitions_subset=days.subset_with_partition_keys(days.get_partition_keys_in_range(
                dg.PartitionKeyRange("2023-01-01", "2025-12-31"))).to_serializable_subset()))
    event = EventLogEntry(error_info=None, level="DEBUG", user_message="", run_id="a-range-run",
                          timestamp=time.time(), dagster_event=planned)

    PostgresEventLogStorage._store_asset_check_evaluation_planned(storage, event, 7)
    dagsters = _check_rows(instance)
    with storage.index_connection() as conn:
        conn.execute(AssetCheckExecutionsTable.delete())
    storage._store_asset_check_evaluation_planned(event, 7)

    assert len(dagsters) == 1_096
    assert _check_rows(instance) == dagsters
