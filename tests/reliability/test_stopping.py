"""A run stops when told: SIGTERM (what the UI's Terminate and a supervisor send) or SIGINT ends the README's
`dg launch` backfill within seconds, whatever its fetch threads are waiting on, and no request follows."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY
from tests.pipeline.test_cli_backfill import _backfill_command, _environment

pytestmark = pytest.mark.slow  # a `dg launch` process per case; CI runs them too

STUCK = {
    # every answer takes a second to start: the crawl's threads are busy paging
    "busy-crawl": {"latency": 1.0},
    # pages: headers at once, then the body a few bytes a second: every read returns, the answer never ends
    "slow-body": {"body_bytes_per_second": 300},
    # a 429 asking for 100 s: every thread waits out the shared pause
    "retry-after": {"status_429_every": 5, "retry_after": 100},
}


@pytest.mark.parametrize("stuck, signum", [
    ("busy-crawl", signal.SIGTERM), ("busy-crawl", signal.SIGINT),
    ("slow-body", signal.SIGTERM), ("slow-body", signal.SIGINT),
    ("retry-after", signal.SIGTERM),
], ids=lambda value: value if isinstance(value, str) else signal.Signals(value).name)
def test_a_signal_ends_a_stuck_run_within_seconds_and_no_request_follows(pipeline_emulator, tmp_path, stuck, signum):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = _environment(pipeline_emulator.base_url, f"sqlite:///{tmp_path / 'warehouse.sqlite'}", home)
    pipeline_emulator.faults.configure(**STUCK[stuck])
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(_backfill_command(FIRST_DAY, ANCHOR.date()), cwd=tmp_path, env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not pipeline_emulator.requests_made("filter") and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.poll() is None and pipeline_emulator.requests_made("filter"), log.read_text()[-3000:]
        time.sleep(1.5)  # the fetch threads are in the middle of their crawl
        at_signal, signalled = pipeline_emulator.requests_made(), time.monotonic()
        os.kill(run.pid, signum)
        run.wait(timeout=60)
        took = time.monotonic() - signalled
        time.sleep(1)
        after = pipeline_emulator.requests_made() - at_signal
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert took < 10, f"the run took {took:.1f} s to stop: {log.read_text()[-3000:]}"
    assert run.returncode != 0
    assert after <= 1, f"{after} request(s) after the signal"
    assert "RUN_FAILURE" in log.read_text()
