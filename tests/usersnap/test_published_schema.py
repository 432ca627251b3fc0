"""The emulator serves exactly what the published spec types, on the wire, for every item and envelope.

Read with plain HTTP, not through the project's client: what is checked is what any client would get.
"""

from __future__ import annotations

import copy

import pytest
import requests

from tests.conftest import ANCHOR
from tests.published import spec_example_item, violations
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.emulator.data import published_input
from usersnap_pipeline.usersnap.auth import TokenMinter

CREATED_ASC = {"order_by": {"order_by_type": "created_at", "direction": "asc"}, "query": []}


@pytest.fixture
def api():
    with Emulator(generate(seed=5, items=1200, projects=2, days=20, end=ANCHOR), seed=5) as emulator:
        yield emulator


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TokenMinter(DEFAULT_JWT_ID, DEFAULT_JWT_SECRET).token()}"
        yield session


def _answer(response: requests.Response, status: int, definition: str) -> dict:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert violations(definition, body) == []
    return body["data"] if body["status"] else body


def _every_page(http, url: str, *, body: dict | None = None) -> list[dict]:
    items, after = [], None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        response = http.post(url, params=params, json=body) if body is not None else http.get(url, params=params)
        data = _answer(response, 200, "FeedbackListResponse")
        items += data["feedbacks"]
        if not data["has_more"]:
            return items
        after = data["feedbacks"][-1]["feedback_id"]


def test_every_item_and_envelope_the_emulator_serves_has_the_published_types(api, http):
    api.store.submit_random()  # live submissions and edits are served with the same types
    api.store.edit_random()
    base = api.base_url
    projects = _answer(http.get(f"{base}/projects"), 200, "ProjectsResponse")["projects"]
    assert len(projects) == 2
    served: list[dict] = []
    for project in projects:
        pid, api_key = project["project_id"], project["api_key"]
        listed = _every_page(http, f"{base}/projects/{pid}/feedbacks")
        filtered = _every_page(http, f"{base}/projects/{pid}/feedbacks/filter", body=CREATED_ASC)
        assert sorted(i["feedback_id"] for i in listed) == sorted(i["feedback_id"] for i in filtered)
        served += filtered
        total = _answer(http.get(f"{base}/projects/{pid}/feedbacks/count"), 200, "CountResponse")["total_count"]
        counted = _answer(http.post(f"{base}/projects/{pid}/feedbacks/filter/count", json=CREATED_ASC), 200,
                          "CountResponse")["total_count"]
        assert total == counted == len(filtered) == project["feedback_count"]
        assert _answer(http.get(f"{base}/projects/{api_key}/assignees"), 200, "AssigneesResponse")["users"]
        inputs = [published_input(0, "How likely are you to recommend us?", 9),
                  published_input(1, "Why?", "Works well"), published_input(2, "Found it?", True)]
        submitted = _answer(http.post(f"{base}/projects/{api_key}/feedbacks", json={"ordered_inputs": inputs}),
                            201, "SubmitResponse")["feedback"]
        assert submitted["ordered_inputs"] == inputs
    assert len(served) == len(api.store.items()) - 2  # the two submissions above came after the listing

    # The data exercises every kind of input the published types allow.
    inputs = [entry for item in served for entry in item["ordered_inputs"]]
    ratings = [e for e in inputs if e["text_value"] is None and e["boolean_value"] is None and e["value"]]
    assert {e["value"] for e in ratings} >= {"-1", "0", "1", "5", "10"}
    assert {e["value"] for e in inputs if isinstance(e["boolean_value"], bool)} == {"true", "false"}
    assert any(e["text_value"] == e["value"] and e["text_value"] for e in inputs)
    assert any(e["value"] is None for e in inputs)


def test_errors_have_the_published_envelope(api, http):
    base = api.base_url
    _answer(requests.get(f"{base}/projects"), 401, "ErrorResponse")
    _answer(http.get(f"{base}/projects/not-a-project/feedbacks"), 400, "ErrorResponse")
    pid = api.store.list_projects()[0]["project_id"]
    _answer(http.get(f"{base}/projects/{pid}/feedbacks", params={"limit": 0}), 400, "ErrorResponse")
    _answer(http.post(f"{base}/projects/{pid}/feedbacks/filter"), 400, "ErrorResponse")  # a JSON body is required


def test_a_submission_in_another_shape_is_refused_not_served(api, http):
    api_key = api.store.list_projects()[0]["api_key"]
    number_value = {"order": 0, "label": "Rate us", "boolean_value": None, "text_value": None, "value": 4}
    before = len(api.store.items())
    error = _answer(http.post(f"{api.base_url}/projects/{api_key}/feedbacks", json={"ordered_inputs": [number_value]}),
                    400, "ErrorResponse")
    assert "value must be str or NoneType" in error["msg"]
    assert len(api.store.items()) == before


def test_the_spec_example_is_valid_and_the_old_emulator_shape_is_not():
    item = spec_example_item()
    assert violations("Feedback", item) == []
    for path, wrong in [(("ordered_inputs", 0, "value"), 4),           # a rating as a JSON number
                        (("ordered_inputs", 0, "boolean_value"), "yes"),
                        (("ordered_inputs", 0, "text_value"), 8),
                        (("labels",), {"bug": True}),                  # labels as an object
                        (("created_at",), "04.08.2022"),
                        (("likes",), 3)]:                              # a field the spec does not name
        changed = copy.deepcopy(item)
        target = changed
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = wrong
        assert violations("Feedback", changed), path
