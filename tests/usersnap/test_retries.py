import gzip
import json
import threading
import time

import pytest

from tests.conftest import make_client
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET
from usersnap_pipeline.usersnap import (
    UsersnapClient,
    UsersnapProtocolError,
    UsersnapUnavailableError,
)


def _all_ids(client, project_id):
    return [i["feedback_id"] for page in client.iter_feedback_pages(project_id, limit=50) for i in page.items]


@pytest.mark.parametrize("faults", [
    pytest.param({"status_429_every": 3, "retry_after": 0.01}, id="429-retry-after"),
    pytest.param({"error_rate": 0.3}, id="5xx"),
    pytest.param({"truncate_rate": 0.3}, id="truncated-bodies"),
    pytest.param({"status_429_every": 5, "retry_after": 0.01, "error_rate": 0.1, "truncate_rate": 0.1,
                  "latency": 0.002}, id="all-at-once"),
])
def test_crawl_completes_exactly_through_faults(emulator, project_id, faults):
    expected = [i["feedback_id"] for i in sorted(emulator.store.items(project_id),
                                                  key=lambda i: (i["updated_at"], i["feedback_id"]), reverse=True)]
    emulator.faults.configure(seed=3, **faults)
    with make_client(emulator, max_attempts=10) as usersnap:
        assert _all_ids(usersnap, project_id) == expected
        stats = usersnap.stats.snapshot()
    injected = sum(emulator.faults.injected.values())
    assert injected > 0
    assert stats["retries"] == injected
    # every request reached the server; a crawl of more than PAGES_BEFORE_COUNTING pages asks once how many
    # items to expect
    assert stats["requests"] == emulator.requests_made() == stats["pages"] + 1 + injected


def test_retry_after_is_honoured(emulator, project_id):
    emulator.faults.configure(status_429_every=2, retry_after=0.2)
    slept = []
    with make_client(emulator, sleep=slept.append) as usersnap:
        usersnap.count_feedback(project_id)  # request 1: fine
        usersnap.count_feedback(project_id)  # request 2: 429, then retried
    assert slept and slept[0] == 0.2


def test_429_pauses_every_thread_of_the_client(emulator, project_id):
    emulator.faults.configure(status_429_every=1_000_000)
    with make_client(emulator) as usersnap:
        usersnap._pause_everyone(0.3)  # what a 429 seen by one worker does
        started = time.monotonic()
        threads = [threading.Thread(target=usersnap.count_feedback, args=(project_id,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - started >= 0.25


def test_gives_up_with_a_clear_error_naming_the_call(emulator, project_id):
    emulator.faults.configure(error_rate=1.0)
    with make_client(emulator, max_attempts=4) as usersnap:
        with pytest.raises(UsersnapUnavailableError) as caught:
            usersnap.count_filtered(project_id, {})
    message = str(caught.value)
    assert f"POST /projects/{project_id}/feedbacks/filter/count" in message
    assert "gave up after 4 attempt(s)" in message and "HTTP 50" in message
    assert emulator.faults.requests == 4


def test_unreachable_api_gives_up_with_connection_error():
    with UsersnapClient("http://127.0.0.1:9/v0.1", "id", "secret", max_attempts=2, backoff_base=0.01) as usersnap:
        with pytest.raises(UsersnapUnavailableError, match="GET /projects: gave up after 2 attempt.*connection error"):
            usersnap.list_projects()


def test_a_url_that_is_not_usersnap_gives_a_protocol_error(fake_api):
    url = fake_api(b"<html>hello</html>")
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, max_attempts=2, backoff_base=0.01) as usersnap:
        with pytest.raises(UsersnapUnavailableError, match="invalid JSON"):
            usersnap.list_projects()
    url = fake_api(b'{"hello": "world"}')
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as usersnap:
        with pytest.raises(UsersnapProtocolError, match="check USERSNAP_API_URL"):
            usersnap.list_projects()


def test_a_cursor_that_does_not_advance_stops_instead_of_looping(fake_api):
    page = {"status": True, "data": {"has_more": True, "count": 1, "feedbacks": [{"feedback_id": "same"}],
                                     "next": {"after": "same"}}}
    url = fake_api(json.dumps(page).encode())
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as usersnap:
        pages = usersnap.iter_filtered_pages("p", {})
        next(pages)
        next(pages)  # the second page repeats the first one's cursor
        with pytest.raises(UsersnapProtocolError, match="cursor did not advance"):
            next(pages)


@pytest.mark.parametrize("retry_after", [3600, 1e12, "inf"])
def test_a_retry_after_beyond_the_cap_fails_at_once_saying_so(emulator, project_id, retry_after):
    emulator.faults.configure(status_429_every=1, retry_after=float(retry_after))
    started = time.monotonic()
    with make_client(emulator) as usersnap, pytest.raises(UsersnapUnavailableError, match="Retry-After") as caught:
        usersnap.count_feedback(project_id)
    assert time.monotonic() - started < 5 and "longer than the 120 s this client waits" in str(caught.value)
    assert emulator.faults.requests == 1


def test_closing_the_client_wakes_a_call_waiting_out_a_retry_after(emulator, project_id):
    """What stopping a run does to a window sleeping through a 429: it ends now, not in 100 s."""
    emulator.faults.configure(status_429_every=1, retry_after=100)
    outcome = []
    with make_client(emulator) as usersnap:
        def call():
            try:
                usersnap.count_feedback(project_id)
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
                outcome.append(exc)

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.5)
        started = time.monotonic()
        usersnap.close()
        worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - started < 2
    assert [type(e).__name__ for e in outcome] == ["UsersnapCancelledError"]


def test_a_redirect_is_a_protocol_error_that_names_it_and_is_not_followed(fake_api):
    elsewhere = fake_api(b'{"status": true, "data": {"projects": []}}')
    url = fake_api(b"", status=302, headers={"Location": elsewhere + "/projects"})
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, max_attempts=3) as usersnap:
        with pytest.raises(UsersnapProtocolError, match="HTTP 302, a redirect: not followed") as failed:
            usersnap.list_projects()
        assert usersnap.stats.snapshot()["requests"] == 1
    assert "truncated" not in str(failed.value)


def test_an_answer_that_inflates_past_any_page_is_refused_unretried(fake_api):
    """A gzip bomb: 80 kB on the wire, 80 MB once decompressed. The client stops reading at its cap."""
    bomb = gzip.compress(b"0" * (80 * 1024 * 1024), compresslevel=9)
    url = fake_api(bomb, headers={"Content-Encoding": "gzip"})
    with UsersnapClient(url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, max_attempts=3) as usersnap:
        with pytest.raises(UsersnapProtocolError, match="more than 67,108,864 bytes once decompressed"):
            usersnap.list_projects()
        assert usersnap.stats.snapshot()["retries"] == 0

