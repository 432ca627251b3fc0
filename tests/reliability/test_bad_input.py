"""Malformed items served by the API: valid ones always land, unusable ones are kept raw and recorded
with a reason, and one bad item never fails or drops the rest of its partition."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg

from tests.conftest import ANCHOR, materializations
from tests.conftest import utc as _utc
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import schema

WHEN = ANCHOR - timedelta(days=2, hours=3)
STAMP = WHEN.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
SQL_LABEL = "'; DROP TABLE data_points; --"
SQL_KEY = "'); DELETE FROM raw_feedback; --"


def _text_input(order, label, value):
    return {"order": order, "label": label, "boolean_value": None, "text_value": value, "value": value}


VALID = {
    "nulls": {"feedback_id": "nulls", "created_at": STAMP, "updated_at": None, "feedback_number": None,
              "status_type": None, "priority": None, "email": None, "client": None, "custom_data": None,
              "screenshot": None, "ordered_inputs": None, "labels": None, "is_demo": None, "public_link": None},
    "missing": {"feedback_id": "missing", "created_at": STAMP},
    "wrong-types": {"feedback_id": "wrong-types", "created_at": STAMP, "feedback_number": "12", "email": 42,
                    "labels": {"not": "a list"}, "ordered_inputs": {"x": 1}, "client": "a string",
                    "custom_data": [1, 2], "status_type": {"identifier": "done"}, "is_demo": "yes"},
    "other-iso-date": {"feedback_id": "other-iso-date", "created_at": (WHEN + timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%S+02:00"), "status_type": 3, "labels": [{"company_label_id": "L1", "name": "Bug"}]},
    "unknown-fields": {"feedback_id": "unknown-fields", "created_at": STAMP, "brand_new_field": {"nested": [1]},
                       "ordered_inputs": [_text_input(0, "Comment", "fine")]},
    "duplicate-labels": {"feedback_id": "duplicate-labels", "created_at": STAMP, "labels": [
        {"company_label_id": "L", "identifier": "bug", "name": "Bug", "color": "#f00"},
        {"company_label_id": "L", "identifier": "bug", "name": "Bug", "color": "#f00"}]},
    "empty-inputs": {"feedback_id": "empty-inputs", "created_at": STAMP, "ordered_inputs": [
        _text_input(0, "Comment", ""), _text_input(1, "Other", "   "),
        {"order": 2, "label": "Rate", "boolean_value": None, "text_value": None, "value": None}]},
    "huge": {"feedback_id": "huge", "created_at": STAMP, "ordered_inputs": [_text_input(0, "Comment", "é" * 1_000_000)]},
    "control-chars": {"feedback_id": "control-chars", "created_at": STAMP, "email": "a\x00b@c.d",
                      "ordered_inputs": [_text_input(0, "Comment", "tab\there\x01\x1f nul\x00 lone \ud800 end")]},
    "sql-looking": {"feedback_id": "sql-looking", "created_at": STAMP,
                    "labels": [{"company_label_id": SQL_LABEL, "identifier": SQL_LABEL, "name": SQL_LABEL, "color": None}],
                    "custom_data": {SQL_KEY: "x", "a.b": {'c"d': 1}}},
}
UNUSABLE = {
    "no-id": {"created_at": STAMP, "ordered_inputs": [_text_input(0, "Comment", "who am I")]},
    "bad-date": {"feedback_id": "bad-date", "created_at": "the day before yesterday"},
}


def test_bad_items_land_or_are_rejected_and_the_rest_of_the_partition_lands(pipeline, pipeline_emulator):
    project_id = pipeline_emulator.store.list_projects()[0]["project_id"]
    good = pipeline_emulator.store.items()
    for name, item in {**VALID, **UNUSABLE}.items():
        pipeline_emulator.store.inject(project_id, item, created_at=WHEN, key=f"k-{name}")

    with dg.instance_for_test() as instance:
        result = pipeline.materialize(range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()), None,
                                      instance=instance)
    assert result.success
    points = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_points)}
    assert set(points) == {i["feedback_id"] for i in good} | set(VALID)

    rejected = {row["feedback_id"]: row["reason"] for row in pipeline.warehouse.rows(schema.rejected_feedback)}
    [no_id] = rejected
    assert no_id.startswith("sha256:") and rejected[no_id].startswith("feedback_id is missing")
    # Not dated: in no day's partition, set aside as sent with the reason.
    [undated] = pipeline.warehouse.rows(schema.set_aside_feedback)
    assert undated["feedback_id"] == "bad-date" and undated["reason"].startswith("created_at missing or not an ISO")
    assert json.loads(undated["item_json"]) == UNUSABLE["bad-date"] and undated["listed_day"] == WHEN.date()
    raw = {row["feedback_id"]: json.loads(row["item_json"]) for row in pipeline.warehouse.rows(schema.raw_feedback)}
    assert raw[no_id] == UNUSABLE["no-id"] and "bad-date" not in raw
    assert raw["control-chars"] == VALID["control-chars"]  # the raw layer keeps even NUL and a lone surrogate

    metadata = materializations(result, "data_points")[0].metadata
    assert metadata["items_skipped"].value == 1
    assert materializations(result, "raw_feedback")[0].metadata["items_set_aside"].value == 1
    # Drift is counted, not silent: each departure from the published shape, with how many items
    drift = metadata["schema_drift"].value
    assert {key: drift.get(key) for key in ("labels: object instead of list", "ordered_inputs: object instead of list",
                                            "status_type: object instead of string", "new field: brand_new_field",
                                            "status_type: number instead of string")} == {
        "labels: object instead of list": 1, "ordered_inputs: object instead of list": 1,
        "status_type: object instead of string": 1, "new field: brand_new_field": 1,
        "status_type: number instead of string": 1}
    assert metadata["items_with_schema_drift"].value == sum(drift.values())
    other = points["other-iso-date"]
    assert _utc(other["created_at"]) == WHEN.replace(microsecond=0) and other["status"] == "3"
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["no_rejected_items"].passed
    assert evaluations["no_rejected_items"].severity == dg.AssetCheckSeverity.WARN
    assert evaluations["matches_usersnap"].passed  # rejected, set aside and data points: what Usersnap counts

    assert points["wrong-types"]["feedback_number"] == 12 and points["wrong-types"]["submitter_email"] == "42"
    assert points["wrong-types"]["is_demo"] is False
    assert len(points["huge"]["text"]) == 1_000_000
    assert points["control-chars"]["submitter_email"] == "ab@c.d"
    assert "\x00" not in points["control-chars"]["text"] and "lone ? end" in points["control-chars"]["text"]
    labels = [r for r in pipeline.warehouse.rows(schema.data_point_labels) if r["feedback_id"] in VALID]
    assert sorted((r["feedback_id"], r["name"]) for r in labels) == [("duplicate-labels", "Bug"),
                                                                      ("other-iso-date", "Bug"),
                                                                      ("sql-looking", SQL_LABEL)]
    custom = {r["key"]: r["value_json"] for r in pipeline.warehouse.rows(schema.data_point_custom_data)
              if r["feedback_id"] == "sql-looking"}
    assert custom == {SQL_KEY: '"x"', 'a\\.b.c"d': "1"}
    assert not [m for m in pipeline.warehouse.rows(schema.data_point_messages) if m["feedback_id"] == "empty-inputs"]


def _nested(depth: int) -> str:
    """JSON text of custom data ``depth`` levels deep (written as text: Python's encoder stops near 1,000)."""
    return '{"n":' * (depth - 1) + '{"leaf":1}' + "}" * (depth - 1)


def test_hostile_items_land_degraded_or_rejected_and_never_fail_the_run(pipeline, pipeline_emulator):
    """Keys and label ids far beyond an index entry's limit, custom data 900 levels deep, and an item
    nested 3,000 levels deep (beyond any JSON decoder's recursion limit): the run succeeds, each item
    lands bounded or goes to rejected_feedback with the reason, and the raw layer keeps it as sent."""
    from usersnap_pipeline.emulator.server import RawJSON
    from usersnap_pipeline.transform.normalize import MAX_KEY_LENGTH

    import random
    import string

    project_id = pipeline_emulator.store.list_projects()[0]["project_id"]
    rng = random.Random(5)  # incompressible, so an index entry cannot shrink below PostgreSQL's limit
    long_key, long_label = ("".join(rng.choices(string.ascii_letters, k=10_000)) for _ in range(2))
    deep_text = f'{{"feedback_id":"too-deep","created_at":"{STAMP}","custom_data":{_nested(3000)}}}'
    hostile = {
        "long-key": {"feedback_id": "long-key", "created_at": STAMP, "custom_data": {long_key: "v", "short": 1}},
        "long-label": {"feedback_id": "long-label", "created_at": STAMP, "labels": [
            {"company_label_id": long_label, "identifier": "x", "name": "X", "color": None}]},
        "deep-custom": RawJSON(f'{{"feedback_id":"deep-custom","created_at":"{STAMP}","custom_data":{_nested(900)}}}'),
    }
    for name, item in hostile.items():
        pipeline_emulator.store.inject(project_id, item, created_at=WHEN, key=name)
    pipeline_emulator.store.inject(project_id, RawJSON(deep_text), created_at=WHEN, key="too-deep")

    with dg.instance_for_test() as instance:
        result = pipeline.materialize(range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()), None,
                                      instance=instance)
    assert result.success
    points = {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_points)}
    assert set(hostile) <= points and "too-deep" not in points
    custom = [row for row in pipeline.warehouse.rows(schema.data_point_custom_data) if row["feedback_id"] in hostile]
    assert custom and all(len(row["key"]) <= MAX_KEY_LENGTH for row in custom)
    assert {row["feedback_id"] for row in custom} == {"long-key", "deep-custom"}
    labels = [row for row in pipeline.warehouse.rows(schema.data_point_labels) if row["feedback_id"] == "long-label"]
    assert len(labels) == 1 and len(labels[0]["label_id"]) <= MAX_KEY_LENGTH

    # Too deep to read its created_at: in no day, set aside exactly as sent.
    [deep] = pipeline.warehouse.rows(schema.set_aside_feedback)
    assert deep["item_json"] == deep_text and deep["reason"].startswith("created_at missing")

    # Normalizing the stored raw layer again (no API) reads the same items the same way.
    with dg.instance_for_test() as instance:
        again = pipeline.materialize(range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()), None,
                                     instance=instance, selection=[dg.AssetKey("data_points")])
    assert again.success
    assert {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_points)} == points
