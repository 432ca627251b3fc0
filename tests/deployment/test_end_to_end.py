"""End to end on a real deployment: webserver + daemon on dagster-postgres, driven through GraphQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from usersnap_pipeline.warehouse import schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def assert_warehouse_matches_emulator(deployment) -> None:
    """Every emulator item is a data point, with the emulator's current updated_at; nothing else is."""
    from tests.conftest import utc

    expected = {item["feedback_id"]: utc(item["updated_at"]) for item in deployment.emulator.store.items()}
    warehouse = deployment.warehouse()
    try:
        dp = schema.data_points.c
        found = {row.feedback_id: row.updated_at for row in warehouse.fetch(sa.select(dp.feedback_id, dp.updated_at))}
    finally:
        warehouse.dispose()
    assert set(found) == set(expected), f"missing {len(set(expected) - set(found))}, extra {len(set(found) - set(expected))}"
    stale = [fid for fid, updated in expected.items() if utc(found[fid]) != updated]
    assert not stale, f"{len(stale)} data points are older than in Usersnap"


def count_data_points(deployment) -> int:
    warehouse = deployment.warehouse()
    try:
        return warehouse.fetch(sa.select(sa.func.count()).select_from(schema.data_points))[0][0]
    finally:
        warehouse.dispose()


def test_a_partition_range_backfill_imports_the_whole_window_in_one_run(deployment, backfilled):
    assert backfilled["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfilled
    assert backfilled["numPartitions"] == len(backfilled["partitions"]) == 7
    assert [run["status"] for run in backfilled["runs"]] == ["SUCCESS"]  # BackfillPolicy.single_run
    assert_warehouse_matches_emulator(deployment)


def test_the_change_sensor_ticks_and_its_runs_import_new_and_edited_feedback(deployment, backfilled):
    store = deployment.emulator.store
    new = [store.submit_random() for _ in range(5)]
    edited = store.edit(store.items()[3]["feedback_id"], {"status_type": "done"})

    deployment.start_instigator("sensor", "usersnap_change_sensor")

    runs = deployment.successful_runs({"dagster/sensor_name": "usersnap_change_sensor"}, timeout=240,
                                      what="the change sensor's runs to succeed")
    state = deployment.instigator_state("sensor", "usersnap_change_sensor")
    deployment.stop_instigator("sensor", "usersnap_change_sensor")  # the tests after this one see no new runs
    assert {run_id for tick in state["ticks"] for run_id in tick["runIds"]} >= {run["runId"] for run in runs}
    assert_warehouse_matches_emulator(deployment)
    warehouse = deployment.warehouse()
    try:
        dp = schema.data_points.c
        statuses = dict(warehouse.fetch(sa.select(dp.feedback_id, dp.status)
                                        .where(dp.feedback_id.in_([edited["feedback_id"], *(i["feedback_id"] for i in new)]))))
    finally:
        warehouse.dispose()
    assert statuses[edited["feedback_id"]] == "done" and len(statuses) == 6


def test_the_schedule_ticks_and_its_run_reimports_the_recent_days(deployment, backfilled):
    deployment.start_instigator("schedule", "usersnap_hourly_recent_import")

    [run, *_] = deployment.successful_runs({"dagster/schedule_name": "usersnap_hourly_recent_import"}, timeout=200,
                                           what="a scheduled run to succeed (the cron ticks every minute)")
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    today = backfilled["partitions"][-1]
    assert tags["dagster/asset_partition_range_end"] == today
    assert tags["dagster/asset_partition_range_start"] == backfilled["partitions"][-2]
    ticks = deployment.instigator_state("schedule", "usersnap_hourly_recent_import")["ticks"]
    assert any(run["runId"] in tick["runIds"] for tick in ticks)
    deployment.stop_instigator("schedule", "usersnap_hourly_recent_import")
    assert_warehouse_matches_emulator(deployment)


def test_the_themes_job_runs_through_the_graphql_client(deployment, themes_run):
    from tests.deployment.conftest import latest_metadata

    warehouse = deployment.warehouse()
    try:
        themes = warehouse.fetch(sa.select(sa.func.count()).select_from(schema.themes))[0][0]
        themed = warehouse.fetch(sa.select(sa.func.count()).select_from(schema.data_point_themes)
                                 .where(schema.data_point_themes.c.rank == 1))[0][0]
        points = warehouse.fetch(sa.select(sa.func.count()).select_from(schema.data_points))[0][0]
    finally:
        warehouse.dispose()
    # Realistic feedback: noise and forms without text stay "Other / unclear", the rest has a theme.
    assert themes >= 6 and themed >= 0.7 * points
    report = latest_metadata(deployment, "theme_report")
    assert report["runId"] == themes_run and "data:image/png;base64," in report["trends_chart"]


def test_the_webserver_and_daemon_log_no_outdated_warning(deployment, backfilled, themes_run):
    """The production commands of the README, run as documented: nothing deprecated or superseded."""
    import re

    from tests.deployment.conftest import LOGS

    for name in ("webserver", "daemon"):
        log = (LOGS / f"{name}.log").read_text()
        assert log and not re.search(r"deprecat|supersede", log, re.IGNORECASE), log[-3000:]
