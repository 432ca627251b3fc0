import json
from datetime import date, datetime, timezone

from usersnap_pipeline.transform.raw import raw_row

DAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 2, tzinfo=timezone.utc)


def _row(item, text=None):
    return raw_row(item, project_id="p", partition_date=DAY, fetched_at=NOW, text=text)


def test_the_raw_layer_keeps_the_text_as_sent():
    item = {"feedback_id": "a", "created_at": "2026-06-01T10:00:00Z", "text": "ça"}
    sent = json.dumps(item, indent=2, ensure_ascii=False)
    row = _row(item, sent)
    assert row.item_json == sent and row.feedback_id == "a"
    assert row.created_at == datetime(2026, 6, 1, 10, tzinfo=timezone.utc)


def test_an_item_without_id_has_one_key_however_its_text_was_spelled():
    # A page the fast reader refuses is re-encoded: the item must not get a second identity.
    item = {"created_at": "2026-06-01T10:00:00Z", "text": "ça va"}
    keys = {_row(item).feedback_id, _row(item, json.dumps(item, indent=2, ensure_ascii=False)).feedback_id,
            _row(item, json.dumps(item)).feedback_id}
    assert len(keys) == 1 and keys.pop().startswith("sha256:")
    assert _row({**item, "text": "other"}).feedback_id != _row(item).feedback_id
