"""Dagster's storage as deployed (the top-level dagster.yaml): the event log keeps its connection instead of
opening fresh ones for every event, and survives the server dropping it."""

import time

import dagster as dg
import pytest
import sqlalchemy as sa

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
