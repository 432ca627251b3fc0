"""An API that is broken, or not Usersnap at all: every crawl is bounded, every answer has a total deadline,
a closed client stops at once, and an id is one path segment whatever it holds."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tests.conftest import ANCHOR, make_client
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.usersnap import (
    UsersnapCancelledError,
    UsersnapProtocolError,
    UsersnapUnavailableError,
    created_at_window,
)

WINDOW = created_at_window(ANCHOR - timedelta(days=30), ANCHOR)


def _in_thread(call, timeout: float) -> tuple[object, float]:
    """Run ``call`` in a thread; (what it returned or raised, seconds taken). Fails if it is still running
    after ``timeout``: the code under test would otherwise hang the suite."""
    outcome: dict = {}

    def run():
        started = time.monotonic()
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["value"] = exc
        outcome["took"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s"
    return outcome["value"], outcome["took"]


def _crawl(client, project_id, **kwargs):
    return sum(len(page.items) for page in client.iter_filtered_pages(project_id, WINDOW, **kwargs))


def test_empty_pages_that_say_has_more_stop_the_crawl_naming_project_and_window(emulator, project_id):
    emulator.faults.configure(endless_pages=True)
    with make_client(emulator) as client:
        error, _ = _in_thread(lambda: _crawl(client, project_id, limit=10), timeout=10)
        requests = client.stats.snapshot()["requests"]
    assert isinstance(error, UsersnapProtocolError)
    assert "empty page" in str(error) and project_id in str(error) and "created_at 2026-05-31" in str(error)
    assert requests == 2


@pytest.mark.parametrize("told", [True, False], ids=["count-given", "count-asked"])
def test_pages_past_what_the_count_explains_stop_the_crawl(emulator, project_id, told):
    """Made-up items with fresh ids, page after page: only the count tells the crawl is over."""
    with make_client(emulator) as client:
        total = client.count_filtered(project_id, WINDOW)
    emulator.faults.configure(phantom_pages=True)
    with make_client(emulator) as client:
        error, _ = _in_thread(lambda: _crawl(client, project_id, limit=10,
                                             expected_items=total if told else None), timeout=20)
        stats = client.stats.snapshot()
    assert isinstance(error, UsersnapProtocolError), error
    assert f"counts {total} item(s)" in str(error) and project_id in str(error)
    pages_needed = -(-total // 10)
    assert pages_needed < stats["pages"] <= pages_needed + 2 + pages_needed // 20 + 1
    assert stats["requests"] == stats["pages"] + (1 if told else 2)  # a count at the bound (and one before)


def test_a_window_that_grows_while_it_is_read_is_read_whole(emulator, project_id):
    """Recounting at the bound lets a live window (today's) grow: new submissions are not an attack."""
    window = created_at_window(ANCHOR - timedelta(days=1), ANCHOR + timedelta(days=365))
    with make_client(emulator) as client:
        before = client.count_filtered(project_id, window)
        emulator.faults.configure(live_submit_rate=1.0, seed=4)  # every request: someone submits feedback
        crawled = sum(len(page.items) for page in client.iter_filtered_pages(project_id, window, limit=1,
                                                                             expected_items=before))
    assert crawled > before + 2  # more than the slack alone would have let through


def test_a_body_sent_a_byte_at_a_time_is_cut_at_the_deadline_and_retried(emulator, project_id):
    emulator.faults.configure(body_bytes_per_second=50)  # a page of 10 items (~25 kB) would take minutes
    with make_client(emulator, deadline=1.0, max_attempts=2) as client:
        error, took = _in_thread(lambda: next(iter(client.iter_filtered_pages(project_id, WINDOW, limit=10))),
                                 timeout=15)
        stats = client.stats.snapshot()
    assert isinstance(error, UsersnapUnavailableError), error
    assert "no whole answer within 1 s" in str(error)
    assert stats["requests"] == 2 and stats["retries"] == 1
    assert took < 5


def test_closing_the_client_ends_a_request_in_flight_at_once(emulator, project_id):
    """A run being stopped closes its client: a thread reading a trickled answer ends within a second."""
    emulator.faults.configure(body_bytes_per_second=20)
    client = make_client(emulator, deadline=600)
    started = threading.Event()

    def crawl():
        started.set()
        return _crawl(client, project_id)

    closer = threading.Timer(1.0, client.close)
    closer.start()
    error, took = _in_thread(crawl, timeout=10)
    assert started.is_set()
    assert isinstance(error, UsersnapCancelledError), error
    assert 0.9 < took < 3
    calls = emulator.requests_made()
    time.sleep(0.5)
    assert emulator.requests_made() == calls, "a closed client makes no more requests"


ODD_ID = "a'b/../c?d#e f"


def test_a_project_id_is_one_path_segment_whatever_it_holds():
    dataset = generate(seed=5, items=150, projects=1, days=20, end=ANCHOR)
    [project] = dataset.projects
    old = project["project_id"]
    project["project_id"] = ODD_ID
    for item in dataset.items:
        item["project_id"] = ODD_ID
    dataset.assignees = {ODD_ID: dataset.assignees.pop(old)}
    with Emulator(dataset) as api, make_client(api) as client:
        [listed] = client.list_projects()
        assert listed["project_id"] == ODD_ID
        assert _crawl(client, ODD_ID) == client.count_filtered(ODD_ID, WINDOW) > 0
        assert sum(len(page.items) for page in client.iter_feedback_pages(ODD_ID)) == 150
        assert all(path.startswith("/projects/a%27b%2F..%2Fc%3Fd%23e%20f/") for path in api.request_paths
                   if path != "/projects")
