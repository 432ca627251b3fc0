"""The change sensor keeps the warehouse current: new submissions and edits to months-old items reach it
through the sensor's run requests, an idle tick costs one request per project, nothing is lost."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from tests.conftest import utc as _utc
from tests.pipeline.conftest import Pipeline
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.emulator.data import parse_time
from usersnap_pipeline.usersnap import UsersnapUnavailableError
from usersnap_pipeline.warehouse import schema

pytestmark = pytest.mark.slow  # long scenarios; CI runs them too

HISTORY = timedelta(days=120)


@pytest.fixture
def live_emulator():
    # Four months of history ending now, so the sensor's "today" holds the new submissions.
    from datetime import datetime, timezone
    dataset = generate(seed=21, items=900, projects=2, days=HISTORY.days, end=datetime.now(timezone.utc))
    with Emulator(dataset, seed=21) as api:
        yield api


@pytest.fixture
def live_pipeline(live_emulator, warehouse_url, credentials):
    from datetime import datetime, timezone
    first_day = (datetime.now(timezone.utc) - HISTORY).date()
    built = Pipeline(live_emulator.base_url, warehouse_url, first_day=first_day)
    built.seed(first_day, datetime.now(timezone.utc).date())
    yield built
    built.warehouse.dispose()


def _points(pipeline):
    return {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}


def _settle(pipeline, instance, ticks=3):
    """Tick and run what is requested until a tick asks for nothing."""
    for _ in range(ticks):
        result = pipeline.tick(instance)
        if not result.run_requests:
            return
        for request in result.run_requests:
            assert pipeline.execute(request, instance).success
    raise AssertionError("the sensor kept requesting runs")


def _in_window(pipeline, item):
    return parse_time(item["created_at"]).date() >= pipeline.settings.import_history_start


def test_new_submission_and_old_edit_reach_the_warehouse_through_the_sensor(live_pipeline, live_emulator):
    store = live_emulator.store
    with dg.instance_for_test() as instance:
        _settle(live_pipeline, instance)  # the first tick continues from what the warehouse holds

        project = store.list_projects()[0]
        new = store.submit(project["project_id"], {"email": "new@example.com", "ordered_inputs": [
            {"order": 0, "label": "Comment", "text_value": "Export is broken", "value": "Export is broken",
             "boolean_value": None}]})
        old = next(i for i in store.items() if _in_window(live_pipeline, i)
                   and parse_time(i["created_at"]) < parse_time(new["created_at"]) - timedelta(days=90))
        store.edit(old["feedback_id"], {"status_type": "wont_fix", "priority": "high"})

        result = live_pipeline.tick(instance)
        days = sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                      for r in result.run_requests)
        old_day, new_day = old["created_at"][:10], new["created_at"][:10]
        assert days == [(old_day, old_day), (new_day, new_day)]  # exactly the two changed partitions
        for request in result.run_requests:
            assert request.run_config["ops"]["import_feedback"]["config"]["project_ids"]
            assert live_pipeline.execute(request, instance).success

    points = _points(live_pipeline)
    assert points[new["feedback_id"]]["text"] == "Export is broken"
    assert points[old["feedback_id"]]["status"] == "wont_fix"


def test_an_idle_tick_costs_one_request_per_project(live_pipeline, live_emulator):
    with dg.instance_for_test() as instance:
        _settle(live_pipeline, instance)
        live_emulator.reset_request_counts()
        result = live_pipeline.tick(instance)
    assert not result.run_requests and "no new or edited feedback" in result.skip_message
    assert live_emulator.requests_made() == 2 == live_emulator.requests_made("list")


def test_with_live_edits_on_the_warehouse_converges_to_usersnap(live_pipeline, live_emulator):
    """Users keep editing and submitting while ticks and runs happen; once they stop, one more round
    leaves the warehouse equal to Usersnap, field for field."""
    store = live_emulator.store
    seeded = {i["feedback_id"]: i["updated_at"] for i in store.items()}
    with dg.instance_for_test() as instance:
        live_emulator.faults.configure(live_edit_rate=0.2, live_submit_rate=0.1, seed=4)
        for _ in range(3):
            for project in store.list_projects():
                store.submit(project["project_id"], {})
            for item in store.items()[10:13]:
                store.edit(item["feedback_id"], {"status_type": "in_progress", "priority": None})
            for request in live_pipeline.tick(instance).run_requests:
                assert live_pipeline.execute(request, instance).success
        live_emulator.faults.configure(live_edit_rate=0.0, live_submit_rate=0.0)
        _settle(live_pipeline, instance)
    truth = {i["feedback_id"]: i for i in store.items() if _in_window(live_pipeline, i)}
    edited = [fid for fid, updated in seeded.items() if truth.get(fid, {}).get("updated_at", updated) != updated]
    assert len(truth) > len(seeded) and len(edited) > 3  # users really did submit and edit
    points = _points(live_pipeline)
    assert set(points) == set(truth)
    assert {fid: (p["status"], p["priority"], _utc(p["updated_at"])) for fid, p in points.items()} == \
        {fid: (i["status_type"], i.get("priority"), parse_time(i["updated_at"])) for fid, i in truth.items()}


def test_a_failing_tick_loses_nothing(live_pipeline, live_emulator):
    store = live_emulator.store
    with dg.instance_for_test() as instance:
        _settle(live_pipeline, instance)
        before = live_pipeline.sensor_cursor
        item = store.items()[5]
        store.edit(item["feedback_id"], {"status_type": "done"})
        live_emulator.faults.configure(error_rate=1.0)
        with pytest.raises(UsersnapUnavailableError):
            live_pipeline.tick(instance)
        assert live_pipeline.sensor_cursor == before  # the daemon keeps the cursor of the last good tick
        live_emulator.faults.configure(error_rate=0.0)
        result = live_pipeline.tick(instance)
        assert [r.tags["dagster/asset_partition_range_start"] for r in result.run_requests] == [item["created_at"][:10]]
