"""The daily reconciliation sweep: the warehouse drifted from Usersnap (feedback deleted there, rows
removed here behind the pipeline's back) and the sweep alone finds exactly those days and heals them."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from tests.conftest import ANCHOR, materializations
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.emulator.data import fmt_time, parse_time
from usersnap_pipeline.warehouse import schema

SWEEP = "usersnap_daily_reconciliation"


def _sweep(pipeline, instance):
    """One tick of the sweep, as the daemon (or Test schedule in the UI) evaluates it."""
    with dg.build_schedule_context(instance=instance, resources=pipeline.defs.resources,
                                   scheduled_execution_time=datetime.now(timezone.utc)) as context:
        return pipeline.defs.resolve_schedule_def(SWEEP).evaluate_tick(context)


def test_the_sweep_re_imports_exactly_the_days_that_differ_and_heals_them(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    items = pipeline_emulator.store.items()
    deleted, corrupted = items[10], items[-10]
    deleted_day, corrupted_day = (date.fromisoformat(i["created_at"][:10]) for i in (deleted, corrupted))
    assert deleted_day != corrupted_day
    pipeline_emulator.store.delete(deleted["feedback_id"])
    with pipeline.warehouse.engine.begin() as conn:  # behind the pipeline's back: a data point removed
        conn.execute(schema.data_points.delete().where(schema.data_points.c.feedback_id == corrupted["feedback_id"]))

    with dg.instance_for_test() as instance:
        pipeline_emulator.reset_request_counts()
        tick = _sweep(pipeline, instance)
        requests = pipeline_emulator.requests_made()
        swept = sorted((request.tags["dagster/asset_partition_range_start"],
                        request.tags["dagster/asset_partition_range_end"]) for request in tick.run_requests)
        assert swept == sorted({(day.isoformat(), day.isoformat()) for day in (deleted_day, corrupted_day)})
        # one count per project, then a bisection down to each differing day of the window
        window = (datetime.now(timezone.utc).date() - FIRST_DAY).days + 1
        assert requests <= 2 + 2 * math.ceil(math.log2(window)), requests
        for request in tick.run_requests:
            assert pipeline.execute(request, instance).success
        again = _sweep(pipeline, instance)
        assert not again.run_requests and "matches Usersnap" in again.skip_message

    points = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    assert points[corrupted["feedback_id"]]["deleted_at"] is None  # healed
    assert points[deleted["feedback_id"]]["deleted_at"] is not None  # kept, marked
    current = {fid for fid, row in points.items() if row["deleted_at"] is None}
    assert current == {item["feedback_id"] for item in pipeline_emulator.store.items()}


def test_a_clean_warehouse_costs_one_request_per_project(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    with dg.instance_for_test() as instance:
        pipeline_emulator.reset_request_counts()
        tick = _sweep(pipeline, instance)
    assert not tick.run_requests
    assert pipeline_emulator.requests_made() == pipeline_emulator.requests_made("filter_count") == 2


ID_SWEEP = "usersnap_weekly_id_reconciliation"


def test_the_weekly_id_sweep_finds_an_item_deleted_and_another_created_on_the_same_day(pipeline, pipeline_emulator):
    """Counts stay equal (one out, one in): only the ids tell. The weekly sweep lists them, and its one run
    imports exactly that (project, day) again."""
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    store = pipeline_emulator.store
    gone = store.items()[20]
    day = date.fromisoformat(gone["created_at"][:10])
    store.delete(gone["feedback_id"])
    created = parse_time(gone["created_at"]) + timedelta(seconds=1)
    store.inject(gone["project_id"], {**gone, "feedback_id": "created-where-one-was-deleted",
                                      "created_at": fmt_time(created), "updated_at": fmt_time(created)},
                 created_at=created)

    with dg.instance_for_test() as instance:
        assert not _sweep(pipeline, instance).run_requests, "the count-based sweep cannot see it"
        with dg.build_schedule_context(instance=instance, resources=pipeline.defs.resources,
                                       scheduled_execution_time=datetime.now(timezone.utc)) as context:
            [request] = pipeline.defs.resolve_schedule_def(ID_SWEEP).evaluate_tick(context).run_requests
        pipeline_emulator.reset_request_counts()
        result = pipeline.execute(request, instance)
    assert result.success
    [raw] = [m for m in materializations(result, "raw_feedback")][:1]
    on_that_day = [i for i in store.items(gone["project_id"]) if i["created_at"][:10] == day.isoformat()]
    assert raw.metadata["items"].value == len(on_that_day), "only the day that differs is imported"
    # Listing costs the window's pages (2 projects), then the day's import: no count per day.
    pages = sum(math.ceil(len(store.items(p["project_id"])) / 100) for p in store.list_projects())
    assert pipeline_emulator.requests_made("filter") <= pages + 2

    points = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    assert points["created-where-one-was-deleted"]["deleted_at"] is None
    assert points[gone["feedback_id"]]["deleted_at"] is not None
    current = {fid for fid, row in points.items() if row["deleted_at"] is None}
    assert current == {item["feedback_id"] for item in store.items()}
