"""Completeness checks: pass on a clean import, fail with the numbers when rows vanish behind the pipeline's back."""

from __future__ import annotations

from datetime import date

import dagster as dg
import sqlalchemy as sa

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import schema

CHECKS = {"matches_usersnap", "feedback_id_unique", "required_columns_not_null",
          "metadata_rows_have_their_data_point", "no_rejected_items"}


def _evaluations(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_checks_pass_on_a_clean_import_and_fail_with_numbers_after_deletes(pipeline, pipeline_emulator):
    tags = range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat())
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(tags, None, instance=instance)
        evaluations = _evaluations(result)
        assert set(evaluations) == CHECKS
        assert all(e.passed for e in evaluations.values()), {n: e.metadata for n, e in evaluations.items()}
        reconciliation = evaluations["matches_usersnap"].metadata
        assert reconciliation["warehouse_items"].value == reconciliation["usersnap_items"].value == 700
        assert reconciliation["api_requests"].value == 2  # one filter-count per project when all is well

        # Someone deletes three data points of one (project, day) and orphans their threads.
        victim = pipeline_emulator.store.items()[100]
        project_id, day = victim["project_id"], victim["created_at"][:10]
        points = schema.data_points
        with pipeline.warehouse.engine.begin() as conn:
            ids = conn.execute(sa.select(points.c.feedback_id).where(
                points.c.project_id == project_id, points.c.partition_date == date.fromisoformat(day)).limit(3)).scalars().all()
            assert len(ids) == 3
            conn.execute(points.delete().where(points.c.feedback_id.in_(ids)))

        # Run the checks on their own, as from the UI: they cover the whole history window.
        checks_only = dg.AssetSelection.checks_for_assets("data_points")
        result = pipeline.materialize({}, None, instance=instance, selection=checks_only)
        evaluations = _evaluations(result)
        assert not evaluations["matches_usersnap"].passed
        metadata = evaluations["matches_usersnap"].metadata
        assert metadata["mismatched_partitions"].value == 1
        assert (metadata["warehouse_items"].value, metadata["usersnap_items"].value) == (697, 700)
        truth_on_day = sum(1 for i in pipeline_emulator.store.items()
                           if i["project_id"] == project_id and i["created_at"][:10] == day)
        assert [record.data for record in metadata["mismatches"].records] == [
            {"project_id": project_id, "day": day, "warehouse": truth_on_day - 3, "usersnap": truth_on_day}]
        assert not evaluations["metadata_rows_have_their_data_point"].passed
        assert evaluations["feedback_id_unique"].passed and evaluations["required_columns_not_null"].passed
