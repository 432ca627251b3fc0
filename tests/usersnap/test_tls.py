"""The API over HTTPS, as the real one is served: the client's deadline and stop apply to TLS connections
too (every test before this one spoke plain HTTP to loopback, and an HTTPS request failed before it left)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ANCHOR, make_client
from tests.tls import self_signed, server_context
from tests.usersnap.test_hostile_api import _in_thread
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.usersnap import UsersnapUnavailableError, created_at_window

WINDOW = created_at_window(ANCHOR - timedelta(days=30), ANCHOR)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_api(certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with Emulator(generate(seed=3, items=300, projects=1, days=40, end=ANCHOR), seed=3,
                  tls=server_context(cert, key)) as api:
        yield api


def test_a_window_is_crawled_over_https(https_api):
    assert https_api.base_url.startswith("https://127.0.0.1:")
    project_id = https_api.store.list_projects()[0]["project_id"]
    with make_client(https_api, page_size=25) as client:
        projects = client.list_projects()
        items = [item for page in client.iter_filtered_pages(project_id, WINDOW) for item in page.items]
        count = client.count_filtered(project_id, WINDOW)
    assert [p["project_id"] for p in projects] == [project_id]
    assert len(items) == count > 25, "several pages, over TLS"


def test_a_trickled_https_body_is_cut_at_the_deadline(https_api):
    https_api.faults.configure(body_bytes_per_second=50)
    project_id = https_api.store.list_projects()[0]["project_id"]
    with make_client(https_api, deadline=1.0, max_attempts=2) as client:
        error, took = _in_thread(lambda: next(iter(client.iter_filtered_pages(project_id, WINDOW, limit=10))),
                                 timeout=15)
    assert isinstance(error, UsersnapUnavailableError), error
    assert "no whole answer within 1 s" in str(error) and took < 5


def test_an_untrusted_certificate_is_a_clear_error(https_api, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with make_client(https_api, max_attempts=1) as client:
        with pytest.raises(UsersnapUnavailableError) as refused:
            client.list_projects()
    assert "certificate" in str(refused.value).lower(), refused.value
