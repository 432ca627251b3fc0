"""Feedback deleted in Usersnap after it was imported: kept, marked deleted_at, left out of what counts."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from tests.conftest import ANCHOR, materializations
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import schema


def _rows(pipeline, table) -> dict:
    return {row["feedback_id"]: row for row in pipeline.warehouse.rows(table)}


def test_items_deleted_in_usersnap_are_kept_marked_and_the_checks_pass_again(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    items = pipeline_emulator.store.items()
    victims = [items[3], items[4], items[-5]]  # two on one day, one on another
    for item in victims:
        pipeline_emulator.store.delete(item["feedback_id"])
    days = sorted({date.fromisoformat(item["created_at"][:10]) for item in victims})

    with dg.instance_for_test() as instance:
        # The checks see the difference before the days are imported again...
        checks = dg.AssetSelection.checks_for_assets("data_points")
        before = pipeline.materialize({}, None, instance=instance, selection=checks)
        assert not {e.check_name: e.passed for e in before.get_asset_check_evaluations()}["matches_usersnap"]
        # ...and a re-import of those days marks the items and passes them.
        result = pipeline.materialize(range_tags(days[0].isoformat(), days[-1].isoformat()), None, instance=instance)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert materializations(result, "raw_feedback")[0].metadata["items_deleted_in_usersnap"].value == len(victims)

    points, raw = _rows(pipeline, schema.data_points), _rows(pipeline, schema.raw_feedback)
    gone = {item["feedback_id"] for item in victims}
    assert len(points) == len(items)  # nothing disappeared
    assert {fid for fid, row in points.items() if row["deleted_at"] is not None} == gone
    assert {fid for fid, row in raw.items() if row["deleted_at"] is not None} == gone
    fields = {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_point_fields)}
    assert gone <= fields  # their thread stays with them

    # Normalizing the raw layer again keeps the marks; importing again neither moves nor duplicates them.
    with dg.instance_for_test() as instance:
        tags = range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat())
        assert pipeline.materialize(tags, None, instance=instance, selection=[dg.AssetKey("data_points")]).success
        assert pipeline.materialize(tags, None, instance=instance).success
    again = _rows(pipeline, schema.data_points)
    assert {fid: row["deleted_at"] for fid, row in again.items() if row["deleted_at"]} == \
        {fid: points[fid]["deleted_at"] for fid in gone}


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # a query: the same on both databases
def test_deleted_feedback_is_left_out_of_themes(pipeline, pipeline_emulator):
    from usersnap_pipeline.steps.themes import FEEDBACK

    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    victim = pipeline_emulator.store.items()[0]
    pipeline_emulator.store.delete(victim["feedback_id"])
    day = date.fromisoformat(victim["created_at"][:10])
    assert pipeline.run(day, day).success
    dp = schema.data_points
    themed = {row[0] for row in pipeline.warehouse.fetch(dp.select().with_only_columns(dp.c.feedback_id).where(FEEDBACK))}
    assert victim["feedback_id"] not in themed and themed
