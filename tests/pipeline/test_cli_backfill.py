"""The README's range backfill command, run as a user would: a separate `dagster` process, one run
for the whole range, on the production instance config (dagster-postgres) and on the embedded default;
and a run killed mid-backfill leaves no partial partition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import ANCHOR, deployed_dagster_home
from tests.pipeline.conftest import FIRST_DAY, HISTORY_DAYS
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.warehouse import Warehouse, schema

pytestmark = pytest.mark.slow  # long scenarios; CI runs them too

SELECTION = "raw_feedback,data_points"
ROOT = Path(__file__).resolve().parents[2]


def _backfill_command(first, last):
    """The README's one-run range backfill, `dg launch`, on this project from any working directory."""
    return [str(Path(sys.executable).with_name("dg")), "launch", "--target-path", str(ROOT), "--assets", SELECTION,
            "--partition-range", f"{first.isoformat()}...{last.isoformat()}"]


def _environment(api_url, warehouse_url, dagster_home, **extra):
    return {**os.environ, "USERSNAP_API_URL": api_url, "USERSNAP_JWT_ID": DEFAULT_JWT_ID,
            "USERSNAP_JWT_SECRET": DEFAULT_JWT_SECRET, "USERSNAP_IMPORT_HISTORY_START": FIRST_DAY.isoformat(),
            "USERSNAP_WAREHOUSE_URL": warehouse_url, "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",  # as ./dev sets them
            "USERSNAP_PROJECT_IDS": "", **extra}


@pytest.mark.postgres
def test_cli_range_backfill_is_one_run_on_dagster_postgres(pipeline_emulator, postgres_databases, tmp_path):
    dagster_db = postgres_databases("dagster")
    warehouse_url = f"postgresql://postgres@127.0.0.1:5432/{postgres_databases('cli_warehouse')}"
    home = tmp_path / "dagster_home"
    env = _environment(pipeline_emulator.base_url, warehouse_url, home, **deployed_dagster_home(home, dagster_db))
    done = subprocess.run(_backfill_command(FIRST_DAY, ANCHOR.date()), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    warehouse = Warehouse(warehouse_url)
    try:
        ids = {row["feedback_id"] for row in warehouse.rows(schema.data_points)}
        assert ids == {item["feedback_id"] for item in pipeline_emulator.store.items()}
    finally:
        warehouse.dispose()
    # The run was recorded in Dagster's own Postgres database, as one run for the whole range, and
    # every day of both assets is materialized there (batched event writes, as ./dev sets them).
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{dagster_db}")
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT status FROM runs")).scalars().all()
            materialized = conn.execute(sa.text(
                "SELECT asset_key, count(DISTINCT partition) FROM event_logs "
                "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key")).all()
    finally:
        engine.dispose()
    assert runs == ["SUCCESS"]
    days = (ANCHOR.date() - FIRST_DAY).days + 1
    assert sorted(materialized) == [('["data_points"]', days), ('["raw_feedback"]', days)]


def _partition_state(warehouse):
    """(project, day) -> set of fetched_at values and row count, per raw partition."""
    state = defaultdict(lambda: [set(), 0])
    for row in warehouse.rows(schema.raw_feedback):
        entry = state[(row["project_id"], row["partition_date"])]
        entry[0].add(row["fetched_at"])
        entry[1] += 1
    return state


@pytest.fixture
def dense_emulator():
    """~250 items per (project, day): each partition takes three pages, so a kill lands inside one."""
    with Emulator(generate(seed=5, items=3000, projects=2, days=HISTORY_DAYS, end=ANCHOR), seed=5) as api:
        yield api


def test_a_backfill_killed_mid_partition_leaves_no_partial_partition(dense_emulator, tmp_path, monkeypatch):
    pipeline_emulator = dense_emulator
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = _environment(pipeline_emulator.base_url, warehouse_url, home, USERSNAP_FETCH_CONCURRENCY="1")
    truth = defaultdict(int)
    for item in pipeline_emulator.store.items():
        truth[(item["project_id"], item["created_at"][:10])] += 1

    # Every page is slow: the kill lands while a (project, day) is being crawled.
    pipeline_emulator.faults.configure(latency=0.05)
    process = subprocess.Popen(_backfill_command(FIRST_DAY, ANCHOR.date()), cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    warehouse = Warehouse(warehouse_url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                written = len(_partition_state(warehouse))
            except sa.exc.OperationalError:
                written = 0  # the tables do not exist yet
            if written >= 3:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

        state = _partition_state(warehouse)
        assert 3 <= len(state) < len(truth), "the kill should land mid-backfill"
        for key, (fetched, count) in state.items():
            project_id, day = key
            assert len(fetched) == 1 and count == truth[(project_id, day.isoformat())], key

        # Re-running the backfill completes it: every item once, every partition whole.
        pipeline_emulator.faults.configure(latency=0.0)
        done = subprocess.run(_backfill_command(FIRST_DAY, ANCHOR.date()), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        state = _partition_state(warehouse)
        assert {(p, d.isoformat()): n for (p, d), (_, n) in state.items() if n} == dict(truth)
        points = [row["feedback_id"] for row in warehouse.rows(schema.data_points)]
        assert len(points) == len(set(points)) == sum(truth.values())
    finally:
        warehouse.dispose()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        statuses = [run.status for run in instance.get_runs()]
    assert dg.DagsterRunStatus.SUCCESS in statuses
