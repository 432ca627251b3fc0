"""No secret and no minted token ever reaches a log line or an exception text."""

import logging

import pytest

from tests.conftest import make_client
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET
from usersnap_pipeline.usersnap import UsersnapClient, UsersnapError


def test_no_secret_in_logs_or_errors(emulator, project_id, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    emulator.faults.configure(status_429_every=4, retry_after=0.01, error_rate=0.2, truncate_rate=0.1, seed=5)
    with make_client(emulator, max_attempts=12) as usersnap:
        for _ in usersnap.iter_feedback_pages(project_id, limit=100):
            pass
        tokens = set(usersnap.secrets())
        emulator.faults.configure(error_rate=1.0, status_429_every=0, truncate_rate=0)
        with pytest.raises(UsersnapError) as caught:
            usersnap.count_feedback(project_id)
        texts.append(str(caught.value) + repr(caught.value) + repr(usersnap))
    emulator.faults.configure(error_rate=0.0)
    with UsersnapClient(emulator.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET + "-wrong") as wrong:
        with pytest.raises(UsersnapError) as caught:
            wrong.list_projects()
        tokens |= set(wrong.secrets())
        texts.append(str(caught.value) + repr(caught.value))
    texts.extend(record.getMessage() for record in caplog.records)
    assert any("retry" in t for t in texts), "the retries should have been logged"
    assert any("/feedbacks" in t for t in texts), "the DEBUG request log should have been captured"
    secrets = {DEFAULT_JWT_SECRET, DEFAULT_JWT_SECRET + "-wrong", *tokens}
    assert len(tokens) >= 2
    for text in texts:
        for secret in secrets:
            assert secret not in text
