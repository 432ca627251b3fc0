"""Each item of a page comes with the JSON text it was sent as: the raw layer stores that text."""

import json
import math

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET
from usersnap_pipeline.usersnap import UsersnapClient

ITEMS = [
    {"feedback_id": "a", "feedback_number": 2 ** 70, "rating": 4.5, "text": 'say "hi"\n\ttab \\ ☃ 😀'},
    {"feedback_id": "b", "custom_data": {"nested": [1, None, True, {"x": "é"}]}},
]


def _only_page(url: str):
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, max_attempts=1) as usersnap:
        return list(usersnap.iter_filtered_pages("p", {}))


def _page_body(items_json: str) -> bytes:
    return ('{"status": true, "data": {"feedbacks": ' + items_json + ', "has_more": false, "count": 2}}').encode()


def test_item_texts_are_the_bytes_the_api_sent(fake_api):
    # Indented, non-ASCII unescaped: nothing of it is how the pipeline itself would encode an item.
    body = _page_body(json.dumps(ITEMS, indent=3, ensure_ascii=False))
    [page] = _only_page(fake_api(body))
    assert page.items == ITEMS
    assert page.items[0]["feedback_number"] == 2 ** 70  # exact, not a float
    assert len(page.item_texts) == len(ITEMS)
    for text, item in zip(page.item_texts, ITEMS, strict=True):
        assert text.encode() in body
        assert json.loads(text) == item
    assert page.item_texts[0].startswith('{\n      "feedback_id": "a"')


def test_a_page_the_fast_reader_refuses_is_read_whole_without_item_texts(fake_api):
    # NaN is not JSON, yet the json module (and many servers) write it; it must not cost the page.
    [page] = _only_page(fake_api(_page_body('[{"feedback_id": "a", "score": NaN}, {"feedback_id": "b"}]')))
    assert [item["feedback_id"] for item in page.items] == ["a", "b"]
    assert math.isnan(page.items[0]["score"])
    assert page.item_texts is None
