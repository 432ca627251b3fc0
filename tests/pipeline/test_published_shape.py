"""Data exactly as the published API sends it, through the whole pipeline: the spec's own example item,
and a warehouse imported by the normalizer that read ratings only as JSON numbers, corrected by
re-normalizing the stored raw layer."""

from __future__ import annotations

import json
from datetime import date

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import ANCHOR
from tests.conftest import utc as _utc
from tests.pipeline.conftest import FIRST_DAY, Pipeline
from tests.published import spec_example_item
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.emulator import Emulator
from usersnap_pipeline.emulator.data import Dataset
from usersnap_pipeline.warehouse import schema

SPEC_DAY = date(2022, 8, 4)


@pytest.fixture
def spec_emulator():
    item = spec_example_item()
    project = {"project_id": item["project_id"], "api_key": "51934445-7273-4a87-bc7f-813fe88046bb",
               "company_id": "c0000000-0000-4000-8000-000000000001", "space_id": "50000000-0000-4000-8000-000000000001",
               "created_at": "2022-01-01T00:00:00.000000Z", "updated_at": "2022-01-01T00:00:00.000000Z",
               "archived_at": None, "owner_id": None, "default_assignee_id": None, "name": "Sample project",
               "is_live": True}
    with Emulator(Dataset(projects=[project], assignees={item["project_id"]: []}, items=[item], topics={})) as api:
        yield api


def test_the_spec_example_item_imports_with_its_expected_rows(spec_emulator, warehouse_url, credentials, tmp_path):
    pipeline = Pipeline(spec_emulator.base_url, warehouse_url, first_day=date(2022, 8, 1),
                        report_dir=tmp_path / "reports")
    try:
        assert pipeline.run(SPEC_DAY, SPEC_DAY).success
        warehouse = pipeline.warehouse
        [raw] = list(warehouse.rows(schema.raw_feedback))
        assert json.loads(raw["item_json"]) == spec_example_item()

        [point] = list(warehouse.rows(schema.data_points))
        comment = "[Sample Feedback] The login button is not working"
        assert _utc(point.pop("created_at")).isoformat() == "2022-08-04T10:22:34.127599+00:00"
        assert _utc(point.pop("updated_at")).isoformat() == "2022-08-04T10:22:34.153671+00:00"
        assert point == {
            "feedback_id": "f5150fc1-a7c9-4e33-8bd5-7a9cf3423e32",
            "project_id": "03e7f4ec-7fa5-4783-b4b1-2da96ab2ba69",
            "partition_date": SPEC_DAY,
            "feedback_number": 10,
            "status": "in_progress",
            "priority": "high",
            "rating": None,
            "rating_scale": None,
            "submitter_email": "someone@somewhere.com",
            "assignee_id": "66e13ff6-509b-4385-9ef7-660167e972ba",
            "title": comment,
            "text": comment,
            "source_url": "https://app.usersnap.best/l/feedback/f5150fc1-a7c9-4e33-8bd5-7a9cf3423e32",
            "screenshot_url": "https://resources.usersnap.best/company/.../x.png?etag=...",
            "page_url": "https://app.usersnap.best/widget-preview/?apikey=51934445-7273-4a87-bc7f-813fe88046bb",
            "browser": "Firefox 103 (macOS Catalina)",
            "os": "Macintosh",
            "country": "Austria",
            "city": "Linz",
            "is_demo": False,
            "deleted_at": None,
        }
        key = {"feedback_id": point["feedback_id"], "project_id": point["project_id"], "partition_date": SPEC_DAY}
        assert list(warehouse.rows(schema.data_point_fields)) == [
            {**key, "position": 0, "label": "Comment", "field_type": "text", "text_value": comment,
             "number_value": None, "boolean_value": None, "message_text": None}]
        assert list(warehouse.rows(schema.data_point_messages)) == [{**key, "position": 0, "label": "Comment", "text": comment}]
        assert list(warehouse.rows(schema.data_point_labels)) == [
            {**key, "label_id": "5392d1a5-925a-49a1-9168-d03cc60c7ec5", "identifier": "bug", "name": "Bug",
             "color": "#f71007"}]
        assert sorted(warehouse.rows(schema.data_point_custom_data), key=lambda r: r["key"]) == [
            {**key, "key": "Release Version", "value_json": '"0.2"'}, {**key, "key": "System", "value_json": '"Staging"'}]
        assert list(warehouse.rows(schema.rejected_feedback)) == []
    finally:
        pipeline.warehouse.dispose()


def _snapshot(warehouse) -> dict[str, list[tuple]]:
    return {table.name: sorted(tuple(row.values()) for row in warehouse.rows(table))
            for table in (schema.data_points, schema.data_point_fields)}


def _as_the_number_only_normalizer_left_it(warehouse) -> int:
    """Rewrite the data point tables as the normalizer that knew ratings only as JSON numbers wrote them
    from the published shape: each rating a text input, its digits in the text, no rating."""
    fields, points = schema.data_point_fields, schema.data_points
    with warehouse.engine.begin() as conn:
        ratings = conn.execute(sa.select(fields.c.feedback_id).where(fields.c.field_type == "number")).scalars().all()
        conn.execute(fields.update().where(fields.c.field_type == "number").values(
            field_type="text", text_value=fields.c.message_text, number_value=None, message_text=None))
        conn.execute(points.update().values(rating=None, rating_scale=None))
        for feedback_id in ratings:
            texts = conn.execute(sa.select(fields.c.text_value).where(fields.c.feedback_id == feedback_id,
                                                                      fields.c.field_type == "text")
                                 .order_by(fields.c.position)).scalars().all()
            conn.execute(points.update().where(points.c.feedback_id == feedback_id).values(text="\n".join(texts)))
    return len(ratings)


def test_a_warehouse_from_before_is_corrected_by_materializing_data_points_alone(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    corrected = _snapshot(pipeline.warehouse)
    rated = [row for row in pipeline.warehouse.rows(schema.data_points) if row["rating"] is not None]
    assert len(rated) > 300 and {row["rating_scale"] for row in rated} == {"five_star", "nps", "smileys", "thumbs"}

    assert _as_the_number_only_normalizer_left_it(pipeline.warehouse) == len(rated)
    old = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    assert all(old[row["feedback_id"]]["rating"] is None for row in rated)
    assert sum(1 for row in old.values() if any(line.lstrip("-").isdigit() for line in row["text"].splitlines())) \
        == len(rated)

    pipeline_emulator.reset_request_counts()
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()), None,
                                      instance=instance, selection=[dg.AssetKey("data_points")])
    assert result.success
    assert pipeline_emulator.requests_made("filter") == 0  # the stored raw items, not the API
    assert _snapshot(pipeline.warehouse) == corrected
