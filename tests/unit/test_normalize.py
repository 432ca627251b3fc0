from datetime import date, datetime, timezone

import pytest

from usersnap_pipeline.transform.normalize import (
    clean_text,
    flatten_custom_data,
    normalize_item,
    normalize_items,
)

DAY = date(2026, 6, 1)


def _item(**changes):
    item = {
        "feedback_id": "f1", "feedback_number": 3, "created_at": "2026-06-01T10:00:00.5Z",
        "updated_at": "2026-06-02T10:00:00Z", "status_type": "in_progress", "priority": "high",
        "email": "a@b.c", "public_link": "https://app.usersnap.com/l/feedback/f1", "is_demo": False,
        "ordered_inputs": [
            {"order": 1, "label": "Comment", "boolean_value": None, "text_value": "It broke", "value": "It broke"},
            {"order": 0, "label": "Title", "boolean_value": None, "text_value": "Broken", "value": "Broken"},
            {"order": 2, "label": "How likely are you to recommend us?", "boolean_value": None,
             "text_value": None, "value": 9},
            {"order": 3, "label": "Found it?", "boolean_value": False, "text_value": None, "value": False},
            {"order": 4, "label": "Anything else?", "boolean_value": None, "text_value": "  ", "value": "  "},
        ],
        "labels": [{"company_label_id": "L1", "identifier": "bug", "name": "Bug", "color": "#f00"},
                   {"company_label_id": "L1", "identifier": "bug", "name": "Bug", "color": "#f00"}],
        "custom_data": {"System": "Staging", "user": {"plan": "pro", "flags": {"beta": True}}, "a.b": [1, 2]},
    }
    item.update(changes)
    return item


def _normalize(item):
    return normalize_item(item, project_id="p1", partition_date=DAY)


def test_thread_is_in_form_order_without_empty_inputs():
    batch = _normalize(_item())
    assert [(f.position, f.label, f.message_text or f.text_value) for f in batch.fields] == [
        (0, "Title", "Broken"), (1, "Comment", "It broke"),
        (2, "How likely are you to recommend us?", "9"), (3, "Found it?", "No")]
    assert [(f.field_type, f.text_value, f.number_value, f.boolean_value, f.message_text) for f in batch.fields] == [
        ("text", "Broken", None, None, None), ("text", "It broke", None, None, None),
        ("number", None, 9.0, None, "9"), ("boolean", None, None, False, "No")]


def test_an_input_with_nothing_readable_left_is_not_a_message():
    item = _item(ordered_inputs=[{"order": 0, "label": "Comment", "text_value": "\x00 \x00", "value": None},
                                 {"order": 1, "label": "Other", "text_value": "kept", "value": None}])
    batch = _normalize(item)
    # the input kept keeps its place in the form
    assert [(f.position, f.label, f.text_value) for f in batch.fields] == [(1, "Other", "kept")]
    assert batch.data_points[0].text == "kept"


def test_data_point_fields():
    point = _normalize(_item()).data_points[0]
    assert point.title == "Broken"
    assert point.text == "Broken\nIt broke"
    assert (point.rating, point.rating_scale) == (9.0, "nps")
    assert point.created_at == datetime(2026, 6, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)
    assert (point.status, point.priority, point.submitter_email) == ("in_progress", "high", "a@b.c")
    assert point.source_url.endswith("/f1") and point.is_demo is False


@pytest.mark.parametrize("label, value, scale", [
    ("How would you rate your experience?", 4, "five_star"),
    ("How likely are you to recommend us to a friend?", 3, "nps"),
    ("Score", 0, "nps"),
    ("Was this page helpful?", 1, "thumbs"),
    ("Rating", -1, "thumbs"),
])
def test_rating_scale(label, value, scale):
    item = _item(ordered_inputs=[{"order": 0, "label": label, "boolean_value": None, "text_value": None,
                                  "value": value}])
    point = _normalize(item).data_points[0]
    assert (point.rating, point.rating_scale) == (float(value), scale)


def test_title_falls_back_to_the_first_line_of_the_first_text():
    item = _item(ordered_inputs=[{"order": 0, "label": "Comment", "text_value": "x" * 200 + "\nmore",
                                  "value": None, "boolean_value": None}])
    assert _normalize(item).data_points[0].title == "x" * 120


def test_duplicate_labels_are_one_label():
    assert [(lab.label_id, lab.name) for lab in _normalize(_item()).labels] == [("L1", "Bug")]


def test_custom_data_is_flattened_to_paths_and_json():
    rows = {c.key: c.value_json for c in _normalize(_item()).custom_data}
    assert rows == {"System": '"Staging"', "user.plan": '"pro"', "user.flags.beta": "true", "a\\.b": "[1, 2]"}
    assert flatten_custom_data(None) == []
    assert flatten_custom_data(["x"]) == [("$", '["x"]')]
    assert flatten_custom_data({"empty": {}}) == [("empty", "{}")]


def test_missing_and_wrongly_typed_fields_degrade_to_null_or_text():
    item = _item(email=None, priority=42, labels={"not": "a list"}, ordered_inputs="nope", client=[1],
                 custom_data="text", feedback_number="7", status_type={"identifier": "done"})
    del item["public_link"]
    batch = _normalize(item)
    point = batch.data_points[0]
    assert point.submitter_email is None and point.source_url is None and point.priority == "42"
    assert point.feedback_number == 7 and point.status == '{"identifier": "done"}'
    assert batch.fields == [] and batch.labels == [] and point.text == "" and point.rating is None
    assert [(c.key, c.value_json) for c in batch.custom_data] == [("$", '"text"')]


@pytest.mark.parametrize("item, reason", [
    ({"created_at": "2026-06-01T00:00:00Z"}, "feedback_id is missing"),
    (_item(feedback_id=12), "feedback_id is missing or not a string"),
    (_item(created_at="yesterday"), "created_at 'yesterday' is missing or not an ISO 8601 timestamp"),
    (["not", "an", "item"], "the item is a list, not an object"),
])
def test_unusable_identity_is_rejected_with_a_reason_and_the_rest_lands(item, reason):
    batch = normalize_items([("k1", item), ("f1", _item())], project_id="p1", partition_date=DAY)
    assert len(batch.rejected) == 1
    assert batch.rejected[0].reason.startswith(reason)
    assert batch.rejected[0].feedback_id == "k1"
    assert [p.feedback_id for p in batch.data_points] == ["f1"]


def test_clean_text_makes_any_value_storable():
    assert clean_text("a\x00b") == "ab"
    assert clean_text("bad \ud800 surrogate") == "bad ? surrogate"
    assert clean_text("   ") is None and clean_text(None) is None
    assert clean_text(3.5) == "3.5" and clean_text(True) == "true"
    assert clean_text({"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'
