"""An import from an API that dates items outside the window it serves them in, serves a window out of
created_at order, or ends a listing early: every item lands on its own day or is set aside with the reason,
and no live item is ever marked deleted or displaced because of it."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import dagster as dg
import pytest

from tests.conftest import ANCHOR, materializations
from tests.pipeline.conftest import FIRST_DAY, HISTORY_DAYS, Pipeline
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.emulator.data import fmt_time, parse_time
from usersnap_pipeline.steps import import_window
from usersnap_pipeline.warehouse import schema


def _rows(pipeline, table) -> dict:
    return {row["feedback_id"]: row for row in pipeline.warehouse.rows(table)}


def _day(stamp: str) -> date:
    return parse_time(stamp).date()


def test_items_dated_elsewhere_or_served_out_of_order_never_misfile_or_delete(pipeline, pipeline_emulator,
                                                                             monkeypatch):
    # Days handed to the database every 20 items: an item of a day written already comes back later.
    monkeypatch.setattr(import_window, "ITEMS_IN_FLIGHT", 60)
    store = pipeline_emulator.store
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    project = store.list_projects()[0]["project_id"]
    model = store.items(project)[0]
    listed_on = parse_time(model["created_at"]) + timedelta(days=3)  # where the API indexes and counts them
    hostile = {"future": ANCHOR + timedelta(days=400), "before": parse_time(model["created_at"]) - timedelta(days=10)}
    for name, dated in hostile.items():
        store.inject(project, {**model, "feedback_id": name, "created_at": fmt_time(dated)}, created_at=listed_on)
    # A copy of a live item, same id, dated in the future and listed on another day: it must not take the
    # live item's place (filed on the day it was listed, it used to move the live item's rows there).
    twin = store.items(project)[3]
    twin_day = _day(twin["created_at"])
    store.inject(project, {**twin, "created_at": fmt_time(ANCHOR + timedelta(days=30))},
                 created_at=listed_on, key="twin-of-a-live-item")
    victim = store.items(project)[5]  # really deleted in Usersnap: the only item to be marked so
    store.delete(victim["feedback_id"])

    pipeline_emulator.faults.configure(serve_order="rating")  # a window's items arrive in any created_at order
    with dg.instance_for_test() as instance:
        shuffled = pipeline.run(FIRST_DAY, ANCHOR.date(), instance=instance)
    assert shuffled.success
    truth = {item["feedback_id"]: item for item in store.items() if item["feedback_id"] not in hostile
             and parse_time(item["created_at"]) < ANCHOR}
    raw, points = _rows(pipeline, schema.raw_feedback), _rows(pipeline, schema.data_points)
    misfiled = {fid: (row["partition_date"], _day(truth[fid]["created_at"])) for fid, row in points.items()
                if fid in truth and row["partition_date"] != _day(truth[fid]["created_at"])}
    assert not misfiled
    assert {fid for fid, row in points.items() if row["deleted_at"] is not None} == {victim["feedback_id"]}
    assert {fid for fid, row in raw.items() if row["deleted_at"] is not None} == {victim["feedback_id"]}
    assert set(truth) <= set(points)
    metadata = materializations(shuffled, "raw_feedback")[0].metadata
    assert metadata["days_fetched_again_out_of_order"].value > 0
    assert metadata["items_deleted_in_usersnap"].value == 1
    assert metadata["items_set_aside"].value == len(hostile) + 1
    # Dated outside the window they were listed in: set aside as sent, with the reason, in no partition.
    aside = _rows(pipeline, schema.set_aside_feedback)
    assert set(aside) == {*hostile, twin["feedback_id"]}
    assert not set(hostile) & (set(raw) | set(points))
    assert aside["future"]["reason"].startswith(f"dated {hostile['future'].date()}, after the window")
    assert aside["before"]["reason"].startswith(f"dated {hostile['before'].date()}, before the window")
    assert '"feedback_id":"future"' in aside["future"]["item_json"].replace(" ", "")
    assert points[twin["feedback_id"]]["partition_date"] == twin_day and not points[twin["feedback_id"]]["deleted_at"]

    # Served in order again: the set-aside items count where the API lists (and counts) them, so every
    # completeness check passes, and nothing moves on the import after.
    pipeline_emulator.faults.configure(serve_order=None)
    with dg.instance_for_test() as instance:
        ordered = pipeline.run(FIRST_DAY, ANCHOR.date(), instance=instance)
    checks = {check.check_name: check for check in ordered.get_asset_check_evaluations()}
    warned = checks.pop("no_rejected_items")  # a warning, with the reasons: the items stay set aside
    assert sum(warned.metadata["reasons"].value.values()) == len(hostile) + 1
    assert all(reason.startswith("set aside: dated ") for reason in warned.metadata["reasons"].value)
    assert all(check.passed for check in checks.values()), [c.check_name for c in checks.values() if not c.passed]
    aside = _rows(pipeline, schema.set_aside_feedback)
    assert set(aside) == {*hostile, twin["feedback_id"]}
    assert {row["listed_day"] for row in aside.values()} == {listed_on.date()}
    points = _rows(pipeline, schema.data_points)
    assert {fid for fid, row in points.items() if row["deleted_at"]} == {victim["feedback_id"]}
    assert points[twin["feedback_id"]]["partition_date"] == twin_day


def test_a_listing_that_ends_early_marks_nothing_deleted(pipeline, pipeline_emulator):
    """The API says has_more false after a window's first page: the items not served are not proof of
    deletion (the day's count says more); only an item really gone is marked, once listings are whole."""
    store = pipeline_emulator.store
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    victim = store.items()[7]
    store.delete(victim["feedback_id"])
    pipeline_emulator.faults.configure(listing_pages=1)
    with dg.instance_for_test() as instance:
        cut = pipeline.run(FIRST_DAY, ANCHOR.date(), instance=instance)
    assert cut.success
    metadata = materializations(cut, "raw_feedback")[0].metadata
    assert metadata["days_listed_short"].value > 0
    deleted = {fid for fid, row in _rows(pipeline, schema.data_points).items() if row["deleted_at"]}
    assert deleted <= {victim["feedback_id"]}, f"{len(deleted)} live item(s) marked deleted"
    live = {item["feedback_id"] for item in store.items()}
    assert live <= set(_rows(pipeline, schema.data_points))

    pipeline_emulator.faults.configure(listing_pages=0)
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    deleted = {fid for fid, row in _rows(pipeline, schema.data_points).items() if row["deleted_at"]}
    assert deleted == {victim["feedback_id"]}


ODD_ID = "a'b/../c?d#e"


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # ids are bound parameters on both
def test_a_project_listed_with_an_odd_id_is_imported_and_an_unusable_one_skipped_by_name(
        warehouse_url, credentials, tmp_path, monkeypatch, caplog):
    dataset = generate(seed=13, items=300, projects=2, days=HISTORY_DAYS, end=ANCHOR)
    odd = dataset.projects[0]
    old, odd["project_id"] = odd["project_id"], ODD_ID
    for item in dataset.items:
        if item["project_id"] == old:
            item["project_id"] = ODD_ID
    dataset.assignees[ODD_ID] = dataset.assignees.pop(old)
    with Emulator(dataset) as api:
        listed = api.store.list_projects
        monkeypatch.setattr(api.store, "list_projects", lambda: [*listed(), {"project_id": None, "name": "broken"},
                                                                  {"project_id": "x\x00y", "name": "worse"}])
        pipeline = Pipeline(api.base_url, warehouse_url, report_dir=tmp_path / "reports")
        try:
            with caplog.at_level(logging.WARNING, logger="usersnap_pipeline.steps.projects"):
                result = pipeline.run(FIRST_DAY, ANCHOR.date())
            assert result.success
            assert all(check.passed for check in result.get_asset_check_evaluations())
            points = _rows(pipeline, schema.data_points)
            assert {fid for fid, row in points.items() if row["project_id"] == ODD_ID} == \
                {item["feedback_id"] for item in dataset.items if item["project_id"] == ODD_ID}
            assert "unusable id: None" in caplog.text and "'x\\x00y'" in caplog.text
        finally:
            pipeline.warehouse.dispose()
