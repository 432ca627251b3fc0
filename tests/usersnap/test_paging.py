from datetime import timedelta

import pytest
import requests

from tests.conftest import ANCHOR, make_client
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.emulator.data import parse_time
from usersnap_pipeline.usersnap import UsersnapNotFoundError, UsersnapRequestError, created_at_window


def _crawl(pages):
    ids = []
    for page in pages:
        ids.extend(item["feedback_id"] for item in page.items)
    return ids


@pytest.fixture(scope="module")
def big_project():
    """One project with 2,500 items: thousands of pages at limit 1."""
    with Emulator(generate(seed=3, items=2500, projects=1, days=90, end=ANCHOR)) as api:
        yield api


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_list_pages_through_every_item_once_newest_update_first(big_project, limit):
    emulator = big_project
    project_id = emulator.store.list_projects()[0]["project_id"]
    client = make_client(emulator)
    truth = emulator.store.items(project_id)
    assert len(truth) == 2500
    expected = [i["feedback_id"] for i in sorted(truth, key=lambda i: (i["updated_at"], i["feedback_id"]),
                                                  reverse=True)]
    ids = _crawl(client.iter_feedback_pages(project_id, limit=limit))
    assert ids == expected
    assert client.stats.snapshot()["pages"] == -(-len(truth) // limit)


def test_filter_window_ascending_matches_truth_and_counts(emulator, client, project_id):
    start, end = ANCHOR - timedelta(days=10), ANCHOR - timedelta(days=3)
    body = created_at_window(start, end)
    expected = [i["feedback_id"] for i in emulator.store.items(project_id)
                if start <= parse_time(i["created_at"]) < end]
    assert expected
    assert _crawl(client.iter_filtered_pages(project_id, body, limit=7)) == expected
    assert client.count_filtered(project_id, body) == len(expected)
    assert client.count_feedback(project_id) == len(emulator.store.items(project_id))


def test_daily_windows_partition_the_history_exactly(emulator, client, project_id):
    seen = []
    day = (ANCHOR - timedelta(days=61)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < ANCHOR + timedelta(days=1):
        seen.extend(_crawl(client.iter_filtered_pages(project_id, created_at_window(day, day + timedelta(days=1)))))
        day += timedelta(days=1)
    assert sorted(seen) == sorted(i["feedback_id"] for i in emulator.store.items(project_id))
    assert len(seen) == len(set(seen))


def test_last_page_still_has_next_and_count_is_page_size(emulator, client, project_id):
    token = client._minter.token()
    answer = requests.get(f"{emulator.base_url}/projects/{project_id}/feedbacks", params={"limit": 100},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert answer["status"] is True and answer["data"]["count"] == 100 and answer["data"]["has_more"] is True
    last = list(client.iter_feedback_pages(project_id))[-1]
    assert last.has_more is False
    after = answer["data"]["feedbacks"][-1]["feedback_id"]
    assert answer["data"]["next"] == {"query_string": f"limit=100&after={after}", "limit": 100, "after": after}
    # the last page: has_more false, yet `next` is present (the spec's trap)
    total = client.count_feedback(project_id)
    tail = requests.get(f"{emulator.base_url}/projects/{project_id}/feedbacks", params={"limit": 100, "after": after},
                        headers={"Authorization": f"Bearer {token}"}, timeout=5).json()["data"]
    while tail["has_more"]:
        tail = requests.get(f"{emulator.base_url}/projects/{project_id}/feedbacks",
                            params={"limit": 100, "after": tail["feedbacks"][-1]["feedback_id"]},
                            headers={"Authorization": f"Bearer {token}"}, timeout=5).json()["data"]
    assert tail["next"]["after"] == tail["feedbacks"][-1]["feedback_id"]
    assert tail["count"] == len(tail["feedbacks"]) == (total % 100 or 100)


def test_before_cursor_returns_the_previous_page(emulator, client, project_id):
    pages = list(client.iter_feedback_pages(project_id, limit=10))
    token = client._minter.token()
    answer = requests.get(f"{emulator.base_url}/projects/{project_id}/feedbacks",
                          params={"limit": 10, "before": pages[2].items[0]["feedback_id"]},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5).json()["data"]
    assert [i["feedback_id"] for i in answer["feedbacks"]] == [i["feedback_id"] for i in pages[1].items]
    assert answer["has_more"] is True


def _post(emulator, client, path, body, params=None):
    return requests.post(f"{emulator.base_url}{path}", data=body, params=params, timeout=5,
                         headers={"Authorization": f"Bearer {client._minter.token()}",
                                  "Content-Type": "application/json"})


def test_filter_requires_a_json_body(emulator, client, project_id):
    for path in (f"/projects/{project_id}/feedbacks/filter", f"/projects/{project_id}/feedbacks/filter/count"):
        answer = _post(emulator, client, path, None)
        assert answer.status_code == 400 and answer.json()["errortype"] == "VALIDATION_ERROR"
        assert _post(emulator, client, path, "{}").status_code == 200


@pytest.mark.parametrize("limit", [0, 101, "ten"])
def test_limit_outside_1_to_100_is_refused(emulator, client, project_id, limit):
    token = client._minter.token()
    answer = requests.get(f"{emulator.base_url}/projects/{project_id}/feedbacks", params={"limit": limit},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["errortype"] == "VALIDATION_ERROR"


def test_client_refuses_bad_limit_before_calling(emulator, client, project_id):
    with pytest.raises(Exception, match="limit must be between 1 and 100"):
        next(client.iter_feedback_pages(project_id, limit=101))
    assert emulator.faults.requests == 0


@pytest.mark.parametrize("body, predicate", [
    ({"query": [{"filter_type": "state", "operator": "eq", "value": "done"}]},
     lambda i: i["status_type"] == "done"),
    ({"query": [{"filter_type": "state", "operator": "in", "value": "open,in_progress"}]},
     lambda i: i["status_type"] in ("open", "in_progress")),
    ({"query": [{"filter_type": "state", "operator": "not_in", "value": "open,done"}]},
     lambda i: i["status_type"] not in ("open", "done")),
    ({"query": [{"filter_type": "email", "operator": "ilike", "value": "%@ACME.io"}]},
     lambda i: (i.get("email") or "").endswith("@acme.io")),
    ({"query": [{"filter_type": "email", "operator": "neq", "value": "nobody@example.com"}]},
     lambda i: i.get("email") != "nobody@example.com"),
    ({"query": [{"filter_type": "feedback_number", "operator": "gt", "value": "900"}]},
     lambda i: i["feedback_number"] > 900),
    ({"query": [{"filter_type": "feedback_number", "operator": "lte", "value": "5"}]},
     lambda i: i["feedback_number"] <= 5),
    ({"query": [{"filter_type": "created_at", "operator": "gt", "value": "2026-06-20T00:00:00Z"}]},
     lambda i: i["created_at"] > "2026-06-20T00:00:00.000000Z"),
])
def test_filter_types_and_operators(emulator, client, project_id, body, predicate):
    expected = {i["feedback_id"] for i in emulator.store.items(project_id) if predicate(i)}
    assert expected
    got = _crawl(client.iter_filtered_pages(project_id, body))
    assert sorted(got) == sorted(expected)
    assert client.count_filtered(project_id, body) == len(expected)


@pytest.mark.parametrize("order_by, direction", [("updated_at", "asc"), ("created_at", "desc")])
def test_order_by(emulator, client, project_id, order_by, direction):
    body = {"order_by": {"order_by_type": order_by, "direction": direction}}
    expected = [i["feedback_id"] for i in sorted(emulator.store.items(project_id),
                                                  key=lambda i: (i[order_by], i["feedback_id"]),
                                                  reverse=direction == "desc")]
    assert _crawl(client.iter_filtered_pages(project_id, body, limit=37)) == expected


@pytest.mark.parametrize("query", [
    [{"filter_type": "updated_at", "operator": "gte", "value": "2026-01-01T00:00:00Z"}],  # no such filter
    [{"filter_type": "state", "operator": "between", "value": "a"}],
    [{"filter_type": "created_at", "operator": "gte", "value": "yesterday"}],
])
def test_invalid_filters_raise_request_error(client, project_id, query):
    with pytest.raises(UsersnapRequestError, match="HTTP 400 VALIDATION_ERROR"):
        client.count_filtered(project_id, {"query": query})


def test_unknown_project_is_site_not_found(client):
    with pytest.raises(UsersnapNotFoundError, match="project not found .site_id nope") as caught:
        next(client.iter_feedback_pages("nope"))
    assert caught.value.errortype == "SITE_NOT_FOUND"


def test_deleted_project_is_404(emulator, client, project_id):
    emulator.store.deleted_projects.add(project_id)
    with pytest.raises(UsersnapNotFoundError, match="HTTP 404"):
        client.count_feedback(project_id)
    assert project_id not in {p["project_id"] for p in client.list_projects()}


def test_edit_moves_item_to_the_top_of_the_default_order(emulator, client, project_id):
    oldest = emulator.store.items(project_id)[0]
    emulator.store.edit(oldest["feedback_id"], {"status_type": "done"})
    first = next(client.iter_feedback_pages(project_id, limit=1)).items[0]
    assert first["feedback_id"] == oldest["feedback_id"] and first["status_type"] == "done"
    assert first["updated_at"] > oldest["updated_at"] and first["created_at"] == oldest["created_at"]


def test_submit_assignees_and_unknown_fields_pass_through(emulator, client):
    project = client.list_projects()[1]
    created = client.submit_feedback(project["api_key"], {
        "email": "new@example.com",
        "ordered_inputs": [{"order": 0, "label": "Comment", "boolean_value": None,
                            "text_value": "Brand new 🚀", "value": "Brand new 🚀"}],
    })
    assert emulator.store.item(created["feedback_id"])["email"] == "new@example.com"
    newest = next(client.iter_feedback_pages(project["project_id"], limit=1)).items[0]
    assert newest["feedback_id"] == created["feedback_id"]
    assert newest["ordered_inputs"][0]["text_value"] == "Brand new 🚀"
    users = client.list_assignees(project["api_key"])
    assert users and set(users[0]) == {"user_id", "first_name", "last_name", "gravatar_url"}
    with pytest.raises(UsersnapNotFoundError):
        client.list_assignees(project["project_id"])  # the path takes the api_key, not the project id


def test_a_created_at_crawl_loses_nothing_while_users_edit_and_submit(emulator, client, project_id):
    """Live edits and new submissions during the crawl: every item that existed before it is seen once."""
    before = {i["feedback_id"] for i in emulator.store.items(project_id)}
    emulator.faults.configure(live_edit_rate=0.5, live_submit_rate=0.3, seed=9)
    start, end = ANCHOR - timedelta(days=90), ANCHOR + timedelta(days=365)
    seen = _crawl(client.iter_filtered_pages(project_id, created_at_window(start, end), limit=20))
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    assert emulator.faults.requests > 40 and len(emulator.store.items(project_id)) > len(before)


def test_an_updated_at_crawl_can_miss_an_edited_item_as_the_spec_warns(emulator, client, project_id):
    """The trap the pipeline avoids: in the default order an item edited mid-crawl jumps behind the cursor."""
    pages = client.iter_feedback_pages(project_id, limit=50)
    first = next(pages)
    not_yet_seen = emulator.store.items(project_id)
    untouched = {i["feedback_id"] for i in first.items}
    victim = next(i for i in not_yet_seen if i["feedback_id"] not in untouched)
    emulator.store.edit(victim["feedback_id"], {"status_type": "done"})
    rest = [i["feedback_id"] for page in pages for i in page.items]
    assert victim["feedback_id"] not in rest and victim["feedback_id"] not in untouched


def test_a_crawl_whose_cursor_item_is_deleted_between_two_pages_resumes_without_a_gap(emulator, project_id):
    """The API answers 400 INVALID_CURSOR for an `after` that names a deleted item; the crawl goes on
    from the last created_at it served: every remaining item once, none skipped."""
    items = sorted(emulator.store.items(project_id), key=lambda i: (i["created_at"], i["feedback_id"]))
    start, end = parse_time(items[0]["created_at"]), parse_time(items[-1]["created_at"]) + timedelta(seconds=1)
    served = []
    with make_client(emulator, page_size=20) as usersnap:
        pages = usersnap.iter_filtered_pages(project_id, created_at_window(start, end), limit=20)
        first = next(pages)
        served += first.items
        emulator.store.delete(first.items[-1]["feedback_id"])  # the next page's cursor
        for page in pages:
            served += page.items
    ids = [item["feedback_id"] for item in served]
    assert len(ids) == len(set(ids)) == len(items)
    assert set(ids) == {item["feedback_id"] for item in items}
    assert emulator.requests_made("filter") == (len(items) + 19) // 20 + 1  # one refused page, then on


def test_a_live_submission_never_reuses_an_existing_feedback_id():
    """The store's live generator is seeded like the dataset: it must not replay the dataset's ids (a reused id
    left the old item's index entry behind, and the counts disagreed with the listing)."""
    store = Emulator(generate(seed=11, items=300, projects=1, days=6, end=ANCHOR), seed=11).store
    before = {item["feedback_id"] for item in store.items()}
    submitted = [store.submit_random()["feedback_id"] for _ in range(300)]
    assert len(set(submitted)) == 300 and not before & set(submitted)
    assert len(store.items()) == 600
