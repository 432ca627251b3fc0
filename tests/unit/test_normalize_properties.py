"""Property-based: whatever the API sends, the normalizer either builds storable rows or rejects the
item with a reason; it never fails in another way."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from usersnap_pipeline.transform.normalize import (
    _NOT_COMPARED,
    RejectedItem,
    _starts,
    _without_repeated_starts,
    normalize_item,
)

json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
timestamps = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(timezone.utc)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
inputs = st.lists(st.fixed_dictionaries({}, optional={
    "order": st.integers(-3, 20) | json_values, "label": st.text(max_size=20) | json_values,
    "boolean_value": st.booleans() | json_values, "text_value": st.text(max_size=40) | json_values,
    "value": json_values}), max_size=6)
labels = st.lists(st.fixed_dictionaries({}, optional={
    "company_label_id": st.sampled_from(["a", "b", "c"]) | json_values, "identifier": json_values,
    "name": st.text(max_size=20) | json_values, "color": json_values}), max_size=5)
items = st.fixed_dictionaries({}, optional={
    "feedback_id": st.uuids().map(str) | json_values, "created_at": timestamps | json_values,
    "updated_at": timestamps | json_values, "feedback_number": st.integers(0, 10**6) | json_values,
    "status_type": st.sampled_from(["open", "done"]) | json_values, "priority": json_values,
    "email": st.emails() | json_values, "client": st.dictionaries(st.text(max_size=12), json_values) | json_values,
    "custom_data": json_values, "screenshot": json_values, "is_demo": json_values,
    "ordered_inputs": inputs | json_values, "labels": labels | json_values,
    "surprise_field": json_values,
})


def _storable(text: str | None) -> bool:
    if text is None:
        return True
    text.encode("utf-8")
    return "\x00" not in text


@settings(max_examples=400, deadline=None)
@given(items)
def test_any_item_becomes_storable_rows_or_a_reasoned_rejection(item):
    try:
        batch = normalize_item(item, project_id="p", partition_date=date(2026, 6, 1))
    except RejectedItem as exc:
        assert str(exc)
        return
    (point,) = batch.data_points
    assert point.feedback_id == item["feedback_id"]
    assert isinstance(point.is_demo, bool) and isinstance(point.text, str)
    positions = [f.position for f in batch.fields]
    assert positions == sorted(set(positions))
    assert all((f.message_text or f.text_value or "").strip() for f in batch.fields)  # every input says something
    assert len({label.label_id for label in batch.labels}) == len(batch.labels)
    assert len({row.key for row in batch.custom_data}) == len(batch.custom_data)
    for row in [point, *batch.fields, *batch.labels, *batch.custom_data]:
        assert all(_storable(value) for value in row if isinstance(value, str) or value is None)
    assert point.rating is None or isinstance(point.rating, float)


@settings(max_examples=200, deadline=None)
@given(items, st.uuids().map(str), timestamps)
def test_an_item_with_an_id_and_a_date_is_never_rejected_on_its_day_and_always_on_another(item, feedback_id,
                                                                                         created_at):
    item = {**item, "feedback_id": feedback_id, "created_at": created_at}
    day = datetime.fromisoformat(created_at).date()
    batch = normalize_item(item, project_id="p", partition_date=day)
    assert len(batch.data_points) == 1
    for elsewhere in (day - timedelta(days=1), day + timedelta(days=400)):
        with pytest.raises(RejectedItem, match="not on the day the API listed it under"):
            normalize_item(item, project_id="p", partition_date=elsewhere)


_THREAD_PIECES = st.sampled_from(["Login broken", "login", " ", ", ", "…", ".", "\n", "ß", "SS", "x", "é", "-"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.lists(_THREAD_PIECES, max_size=6).map("".join), min_size=2, max_size=4),
       st.integers(0, 3), st.integers(0, 400), st.sampled_from([" ", "x", ", ", "ß"]))
def test_the_longest_text_compared_by_its_start_drops_the_same_texts(texts, longest, repeat, filler):
    # The longest text's comparison key is taken from its start only when that decides every comparison:
    # the thread must be the one that full keys give, however long the text and whatever ends it.
    texts[longest % len(texts)] += filler * repeat + "end"
    keys = [_NOT_COMPARED.sub(" ", text.casefold()).strip() for text in texts]
    expected = [text for index, (text, key) in enumerate(zip(texts, keys))
                if not key or not any(_starts(other, key) and (len(other) > len(key) or other_index < index)
                                      for other_index, other in enumerate(keys) if other_index != index)]
    assert _without_repeated_starts(texts) == expected
