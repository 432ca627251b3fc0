"""A bounded soak on dagster-postgres: the change sensor, the hourly schedule and the reconciliation sweep
ticking while users submit, edit and delete feedback and the API fails now and then; at the end the
warehouse is exactly Usersnap, the deleted items kept and marked."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import dagster as dg
import pytest

from tests.conftest import deployed_dagster_home, reset_postgres
from tests.pipeline.conftest import FIRST_DAY, Pipeline
from usersnap_pipeline.warehouse import schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TICKS = 24


def _schedule_requests(pipeline: Pipeline, name: str, instance) -> list[dg.RunRequest]:
    with dg.build_schedule_context(instance=instance, resources=pipeline.defs.resources,
                                   scheduled_execution_time=datetime.now(timezone.utc)) as context:
        result = pipeline.defs.resolve_schedule_def(name).evaluate_tick(context)
    return list(result.run_requests or [])


def test_a_soak_of_ticks_with_live_changes_deletions_and_faults_ends_exact(
        pipeline_emulator, postgres_url, postgres_databases, credentials, tmp_path, monkeypatch):
    for name, value in deployed_dagster_home(tmp_path / "dagster_home", postgres_databases("soak_dagster")).items():
        monkeypatch.setenv(name, value)
    reset_postgres(postgres_url)
    pipeline = Pipeline(pipeline_emulator.base_url, postgres_url, first_day=FIRST_DAY)
    store, rng = pipeline_emulator.store, random.Random(8)
    deleted: set[str] = set()
    runs = 0
    try:
        with dg.DagsterInstance.get() as instance:
            assert "Postgres" in type(instance.run_storage).__name__
            for tick in range(TICKS):
                pipeline_emulator.faults.configure(error_rate=0.05, truncate_rate=0.02, seed=tick)
                for _ in range(rng.randint(0, 3)):
                    store.submit_random()
                for _ in range(rng.randint(0, 3)):
                    store.edit_random()
                if tick % 4 == 3:  # a user deletes feedback: no list shows that, the sweep finds it
                    victim = rng.choice(store.items())["feedback_id"]
                    store.delete(victim)
                    deleted.add(victim)
                requests = list(pipeline.tick(instance).run_requests or [])
                if tick % 6 == 5:
                    requests += _schedule_requests(pipeline, "usersnap_hourly_recent_import", instance)
                if tick % 8 == 7:
                    pipeline_emulator.faults.configure(error_rate=0, truncate_rate=0)
                    requests += _schedule_requests(pipeline, "usersnap_daily_reconciliation", instance)
                for request in requests:
                    assert pipeline.execute(request, instance).success
                    runs += 1
            # The last word: faults off, one more tick of each, then the sweep finds nothing to do.
            pipeline_emulator.faults.configure(error_rate=0, truncate_rate=0)
            for request in [*pipeline.tick(instance).run_requests,
                            *_schedule_requests(pipeline, "usersnap_daily_reconciliation", instance)]:
                assert pipeline.execute(request, instance).success
                runs += 1
            assert not _schedule_requests(pipeline, "usersnap_daily_reconciliation", instance)
            assert instance.get_runs_count() >= runs > TICKS // 2
    finally:
        pipeline.warehouse.dispose()

    truth = {item["feedback_id"]: item for item in store.items()}
    points = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    current = {fid: row for fid, row in points.items() if row["deleted_at"] is None}
    assert set(current) == set(truth)
    assert {fid: row["status"] for fid, row in current.items()} == {fid: i["status_type"] for fid, i in truth.items()}
    assert {fid for fid, row in points.items() if row["deleted_at"] is not None} == deleted
