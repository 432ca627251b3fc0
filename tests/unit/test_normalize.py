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
             "text_value": None, "value": "9"},
            {"order": 3, "label": "Found it?", "boolean_value": False, "text_value": None, "value": "false"},
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


def _rating_input(label, value, text_value=None):
    return {"order": 0, "label": label, "boolean_value": None, "text_value": text_value, "value": value}


@pytest.mark.parametrize("label, value, scale", [
    ("How would you rate your experience?", 4, "five_star"),
    ("How would you rate your experience?", 4.5, "five_star"),
    ("How likely are you to recommend us to a friend?", 3, "nps"),
    ("How likely are you to recommend us to a friend?", 10, "nps"),
    ("Score", 0, "nps"),
    ("Score", 7, "nps"),
    ("How do you feel about this page?", 2, "smileys"),
    ("Was this page helpful?", 1, "thumbs"),
    ("Was this page helpful?", 0, "thumbs"),
    ("Rating", -1, "thumbs"),
])
@pytest.mark.parametrize("sent_as", ["string as published", "JSON number", "string with spaces"])
def test_rating_and_its_scale_from_the_label_and_range(label, value, scale, sent_as):
    sent = {"string as published": f"{value:g}", "JSON number": value, "string with spaces": f" {value:g} "}[sent_as]
    batch = _normalize(_item(ordered_inputs=[_rating_input(label, sent)]))
    point = batch.data_points[0]
    assert (point.rating, point.rating_scale) == (float(value), scale)
    assert point.text == ""  # a rating is not something the customer wrote
    assert [(f.field_type, f.number_value, f.message_text) for f in batch.fields] == \
        [("number", float(value), f"{value:g}")]


def test_a_rating_typed_into_text_value_is_still_a_rating():
    point = _normalize(_item(ordered_inputs=[_rating_input("Rate us", "4", text_value="4")])).data_points[0]
    assert (point.rating, point.rating_scale, point.text) == (4.0, "five_star", "")


@pytest.mark.parametrize("value", ["42", "11", "-3", "2.25"])
def test_a_number_on_no_rating_scale_is_a_number_field_not_a_rating(value):
    batch = _normalize(_item(ordered_inputs=[_rating_input("How many seats?", value),
                                             _rating_input("How would you rate us?", "3") | {"order": 1}]))
    assert batch.fields[0].number_value == float(value)
    assert (batch.data_points[0].rating, batch.data_points[0].rating_scale) == (3.0, "five_star")


@pytest.mark.parametrize("entry, answer", [
    ({"boolean_value": True, "text_value": None, "value": "true"}, True),
    ({"boolean_value": False, "text_value": None, "value": None}, False),
    ({"boolean_value": None, "text_value": None, "value": "false"}, False),
    ({"boolean_value": None, "text_value": None, "value": True}, True),
])
def test_yes_no_from_boolean_value_or_its_value(entry, answer):
    batch = _normalize(_item(ordered_inputs=[{"order": 0, "label": "Found it?", **entry}]))
    assert [(f.field_type, f.boolean_value, f.message_text) for f in batch.fields] == \
        [("boolean", answer, "Yes" if answer else "No")]
    assert batch.data_points[0].text == "" and batch.data_points[0].rating is None


def test_a_customer_who_types_true_wrote_text():
    entry = {"order": 0, "label": "Comment", "boolean_value": None, "text_value": "true", "value": "true"}
    assert _normalize(_item(ordered_inputs=[entry])).data_points[0].text == "true"


def _texts(*pairs):
    return [{"order": n, "label": label, "boolean_value": None, "text_value": text, "value": text}
            for n, (label, text) in enumerate(pairs)]


@pytest.mark.parametrize("title, comment", [
    ("The login button is not working", "The login button is not working since the update."),
    ("the login button is not working…", "The login button is NOT working, since the update"),
    ("The login button is not work", "The login button is not working since the update."),  # cut mid-word
    ("Export is broken", "Export is broken"),
])
def test_a_title_that_repeats_the_start_of_the_comment_is_counted_once(title, comment):
    point = _normalize(_item(ordered_inputs=_texts(("Title", title), ("Comment", comment)))).data_points[0]
    assert point.text == comment
    assert point.title == title  # the title itself is kept, and the thread keeps both inputs


@pytest.mark.parametrize("title, comment", [
    ("Broken", "It broke"),
    ("Log", "Login fails"),  # a short start inside a word is not a repeat
    ("Search", "Search results are empty"[::-1]),
])
def test_a_title_of_its_own_stays_in_the_text(title, comment):
    point = _normalize(_item(ordered_inputs=_texts(("Title", title), ("Comment", comment)))).data_points[0]
    assert point.text == f"{title}\n{comment}"


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
    # keys that clean to the same path (found by the property test) give one row, not a duplicate key
    assert flatten_custom_data({"": None, "\r": 1, "a\x00": 2, "a": 3}) == [("", "null"), ("a", "2")]


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


def test_the_drift_check_knows_exactly_the_published_fields():
    """The fields whose types are checked are the published item's (spec/), no more, no fewer."""
    import json
    from pathlib import Path

    from usersnap_pipeline.transform.normalize import PUBLISHED_TYPES

    spec = json.loads((Path(__file__).resolve().parents[2] / "spec" / "usersnap-api-v0.1.schema.json").read_text())
    assert set(PUBLISHED_TYPES) == set(spec["$defs"]["Feedback"]["properties"])


@pytest.mark.parametrize("link", ["javascript:document.title='PWNED3'", "data:text/html,<script>x</script>",
                                  "http://app.usersnap.com/l/feedback/f1", " https://app.usersnap.com/x"])
def test_a_link_that_is_not_https_never_becomes_a_data_points_link_and_is_counted(link):
    batch = _normalize(_item(public_link=link, screenshot={"annotated_image_url": link, "comments": []}))
    [point] = batch.data_points
    assert point.source_url is None and point.screenshot_url is None
    assert batch.drift["public_link: not an https link (dropped)"] == 1
    assert batch.drift["screenshot.annotated_image_url: not an https link (dropped)"] == 1


def test_an_https_link_is_kept_as_sent():
    [point] = _normalize(_item()).data_points
    assert point.source_url == "https://app.usersnap.com/l/feedback/f1"


@pytest.mark.parametrize("created_at", ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_timestamp_with_no_utc_instant_rejects_the_item_and_the_rest_lands(created_at):
    """Valid ISO 8601 whose UTC instant is past year 9999 or before year 1: converting it overflowed and
    failed the whole day (and the sensor's tick) instead of rejecting one item."""
    batch = normalize_items([("k1", _item(feedback_id="k1", created_at=created_at)), ("f1", _item())],
                            project_id="p1", partition_date=DAY)
    assert [r.reason.split(" is ")[0] for r in batch.rejected] == [f"created_at {created_at!r}"]
    assert [p.feedback_id for p in batch.data_points] == ["f1"]


@pytest.mark.parametrize("number, kept", [(2**63 - 1, 2**63 - 1), (-(2**63), -(2**63)), (2**63, None),
                                          (10**30, None), ("1" * 25, None), (1e300, None)])
def test_a_feedback_number_the_warehouse_cannot_hold_is_dropped_not_a_failed_day(number, kept):
    batch = _normalize(_item(feedback_number=number))
    assert batch.data_points[0].feedback_number == kept
    if kept is None and type(number) is int:
        assert batch.drift["feedback_number: outside the 64-bit integer range (dropped)"] == 1
