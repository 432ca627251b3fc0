"""Imports that survive an unreliable API, live users and a database that drops its connections,
each ending with the warehouse equal to the emulator's truth."""

from __future__ import annotations

import json
import threading

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import ANCHOR, PG_ADMIN_URL, materializations
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import schema

pytestmark = pytest.mark.slow  # long scenarios; CI runs them too

TAGS = range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat())


@pytest.fixture
def pipeline_emulator():
    """Dense enough (about a hundred pages) for every kind of fault to strike many times."""
    from tests.pipeline.conftest import HISTORY_DAYS
    from usersnap_pipeline.emulator import Emulator, generate

    with Emulator(generate(seed=12, items=8000, projects=2, days=HISTORY_DAYS, end=ANCHOR), seed=12) as api:
        yield api


def _raw(pipeline):
    return {row["feedback_id"]: json.loads(row["item_json"]) for row in pipeline.warehouse.rows(schema.raw_feedback)}


def _assert_equal_to_truth(pipeline, emulator):
    truth = {item["feedback_id"]: item for item in emulator.store.items()}
    assert _raw(pipeline) == truth  # same ids, same fields
    points = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    assert {fid: p["status"] for fid, p in points.items()} == {fid: i["status_type"] for fid, i in truth.items()}


def test_a_full_import_through_a_fault_storm_is_exact(pipeline, pipeline_emulator):
    # 10% 5xx, every 20th request 429 + Retry-After, some bodies cut mid-JSON, added latency.
    pipeline_emulator.faults.configure(error_rate=0.1, status_429_every=20, retry_after=0.05,
                                       truncate_rate=0.05, latency=0.002, seed=13)
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(TAGS, None, instance=instance)
    assert result.success
    injected = pipeline_emulator.faults.injected
    assert injected["429"] >= 4 and injected["5xx"] >= 8 and injected["truncated"] >= 3
    reported = materializations(result, "raw_feedback")[0].metadata["api_retries"].value
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    # every injected fault was retried, by the import or by its reconciliation check
    assert reported > 0 and reported <= sum(injected.values())
    assert all(checks.values()), checks
    pipeline_emulator.faults.configure(error_rate=0, status_429_every=0, truncate_rate=0, latency=0)
    _assert_equal_to_truth(pipeline, pipeline_emulator)


def test_live_edits_and_submissions_during_the_import_are_all_caught(pipeline, pipeline_emulator):
    before = {item["feedback_id"] for item in pipeline_emulator.store.items()}
    with dg.instance_for_test() as instance:
        pipeline_emulator.faults.configure(live_edit_rate=0.3, live_submit_rate=0.2, seed=8)
        assert pipeline.materialize(TAGS, None, instance=instance).success
        pipeline_emulator.faults.configure(live_edit_rate=0, live_submit_rate=0)
        assert before <= set(_raw(pipeline))  # created_at order: nothing that existed was skipped
        # The change sensor then brings every edit made during the crawl.
        for _ in range(3):
            requests = pipeline.tick(instance).run_requests
            if not requests:
                break
            for request in requests:
                assert pipeline.execute(request, instance).success
    assert len(pipeline_emulator.store.items()) > len(before)
    truth = {i["feedback_id"]: i for i in pipeline_emulator.store.items()}
    assert _raw(pipeline) == truth  # submissions during the run are "today", inside the window


# What a PostgreSQL restart does to clients (every connection of the database cut), and a connection
# cut exactly while it streams a COPY: either way the run itself must finish, by retrying the write.
EVERY_CONNECTION = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db "
                    "AND pid <> pg_backend_pid()")
ONE_COPY = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid() "
            "AND state = 'active' AND query LIKE 'COPY%' LIMIT 1")


@pytest.mark.postgres
@pytest.mark.parametrize("terminate, times, pause", [(EVERY_CONNECTION, 3, 0.4), (ONE_COPY, 1, 0.002)],
                         ids=["every_connection_three_times", "one_connection_during_copy"])
def test_postgres_cutting_connections_mid_run_is_retried_and_loses_nothing(pipeline_emulator, postgres_url,
                                                                           credentials, terminate, times, pause):
    from tests.conftest import reset_postgres
    from tests.pipeline.conftest import Pipeline

    reset_postgres(postgres_url)
    pipeline = Pipeline(pipeline_emulator.base_url, postgres_url)
    database = sa.make_url(postgres_url).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    pipeline_emulator.faults.configure(latency=0.01)
    killed, run_over = [], threading.Event()

    def terminate_connections():
        with admin.connect() as conn:
            while not run_over.is_set() and len(killed) < times:
                victims = conn.execute(sa.text(terminate), {"db": database}).fetchall()
                if victims:
                    killed.append(len(victims))
                run_over.wait(pause)

    killer = threading.Thread(target=terminate_connections)
    try:
        with dg.instance_for_test() as instance:
            killer.start()
            result = pipeline.materialize(TAGS, None, instance=instance, raise_on_error=False)
            run_over.set()
            killer.join()
            assert killed, "the connections should have been cut during the run"
            assert result.success, "the write is retried within the run, not left to a re-run"
        pipeline_emulator.faults.configure(latency=0)
        _assert_equal_to_truth(pipeline, pipeline_emulator)
        state = {(r["project_id"], r["partition_date"]): r["raw_rows"] for r in pipeline.warehouse.rows(schema.partition_state)}
        counts = {}
        for row in pipeline.warehouse.rows(schema.raw_feedback):
            key = (row["project_id"], row["partition_date"])
            counts[key] = counts.get(key, 0) + 1
        assert {k: v for k, v in state.items() if v} == counts  # every partition whole, none half-written
    finally:
        admin.dispose()
        pipeline.warehouse.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse_url", ["postgres"], indirect=True)  # where it failed with UniqueViolation
def test_an_item_served_on_two_pages_of_a_window_is_kept_once(pipeline, pipeline_emulator):
    """An upstream treating the page cursor as inclusive serves an item twice; the day is still written,
    the item once, and the run says how many came twice."""
    pipeline_emulator.faults.configure(repeat_cursor_item=True)
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(TAGS, None, instance=instance)
    assert result.success
    repeated = pipeline_emulator.faults.injected["repeated"]
    assert repeated > 0  # every page after the first of a day
    assert materializations(result, "raw_feedback")[0].metadata["items_served_twice"].value == repeated
    assert all(e.passed for e in result.get_asset_check_evaluations())
    pipeline_emulator.faults.configure(repeat_cursor_item=False)
    _assert_equal_to_truth(pipeline, pipeline_emulator)
