"""A run stops when told: SIGTERM (what the UI's Terminate and a supervisor send) or SIGINT ends the README's
`dg launch` backfill within seconds, whatever its fetch threads are waiting on (the API or the database), and no
request follows."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY
from tests.pipeline.test_cli_backfill import _backfill_command, _environment
from tests.tcp_proxy import TcpProxy

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
    pipeline_emulator.faults.configure(**STUCK[stuck])
    _signal_a_stuck_run(pipeline_emulator, tmp_path, f"sqlite:///{tmp_path / 'warehouse.sqlite'}", signum)


@pytest.mark.postgres
def test_sigterm_ends_a_run_waiting_on_a_database_that_hangs(pipeline_emulator, postgres_databases, tmp_path):
    """The warehouse stops answering (a proxy that forwards nothing, its kernel acknowledging all) once the crawl
    is under way: the run's threads wait on PostgreSQL, not on the API, and SIGTERM still ends it in seconds
    (statement deadlines are 300 s: the stop cuts the waits, not the deadline)."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    pipeline_emulator.faults.configure(latency=0.2)
    try:
        _signal_a_stuck_run(pipeline_emulator, tmp_path,
                            f"postgresql://postgres@127.0.0.1:{proxy.port}/{postgres_databases('stopping')}",
                            signal.SIGTERM, when_crawling=proxy.freeze)
    finally:
        proxy.thaw()
        proxy.down()


def _signal_a_stuck_run(emulator, tmp_path, warehouse_url: str, signum: int, when_crawling=lambda: None) -> None:
    """The README's `dg launch` backfill, sent ``signum`` once its crawl is under way (``when_crawling`` called
    then): it ends within seconds, failed, and makes no request afterwards."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = _environment(emulator.base_url, warehouse_url, home)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(_backfill_command(FIRST_DAY, ANCHOR.date()), cwd=tmp_path, env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not emulator.requests_made("filter") and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.poll() is None and emulator.requests_made("filter"), log.read_text()[-3000:]
        when_crawling()
        time.sleep(1.5)  # the fetch threads are in the middle of their crawl
        at_signal, signalled = emulator.requests_made(), time.monotonic()
        os.kill(run.pid, signum)
        run.wait(timeout=60)
        took = time.monotonic() - signalled
        time.sleep(1)
        after = emulator.requests_made() - at_signal
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert took < 10, f"the run took {took:.1f} s to stop: {log.read_text()[-3000:]}"
    assert run.returncode != 0
    assert after <= 1, f"{after} request(s) after the signal"
    assert "RUN_FAILURE" in log.read_text()
