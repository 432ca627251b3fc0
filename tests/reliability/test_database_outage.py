"""PostgreSQL away in the middle of an import (a restart, a failover): the run waits for it, up to a
configurable budget, and either completes exactly or fails with one sentence that names the database
(never its password) and says that nothing was lost."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY, Pipeline
from tests.tcp_proxy import TcpProxy
from usersnap_pipeline.warehouse import schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "pl4nted-db-password"  # trust auth ignores it: it is only there to be kept out of messages
URL_VARIABLE = "OUTAGE_WAREHOUSE_URL"


@pytest.fixture
def proxied(postgres_databases, monkeypatch):
    """The proxy, and the warehouse URL through it to the real server in a variable (it holds a password)."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    database = postgres_databases("outage")
    monkeypatch.setenv(URL_VARIABLE, f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/{database}")
    yield proxy
    proxy.down()


def _outage_once_pages_flow(emulator, proxy: TcpProxy, seconds: float | None) -> threading.Thread:
    """Take the database away once the import is fetching pages; bring it back after ``seconds`` (never: None)."""
    def outage():
        while emulator.requests_made("filter") < 2:
            time.sleep(0.05)
        proxy.down()
        if seconds is not None:
            time.sleep(seconds)
            proxy.up()
    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    return thread


def test_an_outage_longer_than_a_restart_is_waited_out_and_the_import_completes(
        pipeline_emulator, proxied, credentials, tmp_path):
    proxy = proxied
    pipeline = Pipeline(pipeline_emulator.base_url, report_dir=tmp_path / "reports", warehouse_url_env=URL_VARIABLE)
    pipeline_emulator.faults.configure(latency=0.1)  # an import of a few seconds
    outage = _outage_once_pages_flow(pipeline_emulator, proxy, seconds=12)
    try:
        result = pipeline.run(FIRST_DAY, ANCHOR.date())
        outage.join()
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
        ids = {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_points)}
        assert ids == {item["feedback_id"] for item in pipeline_emulator.store.items()}
    finally:
        pipeline.warehouse.dispose()


def test_an_outage_past_the_budget_fails_in_one_sentence_naming_the_database_not_its_password(
        pipeline_emulator, proxied, credentials, tmp_path):
    proxy = proxied
    # The budget as a user sets it: the component's warehouse_retry_seconds attribute.
    pipeline = Pipeline(pipeline_emulator.base_url, report_dir=tmp_path / "reports", warehouse_url_env=URL_VARIABLE,
                        warehouse_retry_seconds=4)
    pipeline.warehouse.dispose()
    pipeline_emulator.faults.configure(latency=0.1)
    outage = _outage_once_pages_flow(pipeline_emulator, proxy, seconds=None)
    started = time.monotonic()
    with dg.instance_for_test() as instance:
        result = pipeline.run(FIRST_DAY, ANCHOR.date(), instance=instance, raise_on_error=False)
        outage.join()
        took = time.monotonic() - started
        assert not result.success
        [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"][:1]
        message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause else \
            failure.step_failure_data.error.message
        logs = "".join(str(entry.dagster_event or "") + (entry.user_message or "")
                       for entry in instance.all_logs(result.run_id))
    assert f"127.0.0.1:{proxy.port}/" in message and "nothing was lost" in message, message
    assert PASSWORD not in message and PASSWORD not in logs
    assert took < 60


@pytest.mark.parametrize("host", ["warehouse.invalid", "127.0.0.1:9"], ids=["name-not-resolved", "refused"])
def test_a_database_host_that_cannot_be_reached_is_retried_then_one_sentence(host):
    """A failover moves the name and the address: DNS that does not answer is waited out like a refused
    connection, for the budget, then one sentence (the raw driver error failed the run at once)."""
    from usersnap_pipeline.warehouse import Warehouse, WarehouseUnavailableError

    warehouse = Warehouse(f"postgresql://postgres:{PASSWORD}@{host}/usersnap", retry_seconds=1.5)
    started = time.monotonic()
    try:
        with pytest.raises(WarehouseUnavailableError, match="nothing was lost") as failed:
            warehouse.ensure_schema()
    finally:
        warehouse.dispose()
    assert 1.5 <= time.monotonic() - started < 15
    assert host.split(":")[0] in str(failed.value) and PASSWORD not in str(failed.value)


@pytest.fixture
def frozen_later(postgres_databases):
    """Make warehouses behind a proxy (schema made); the proxy's ``freeze()`` hangs the server as a stalled disk
    or a stopped process does: connections stay open and are acknowledged, nothing is answered."""
    from usersnap_pipeline.warehouse import Warehouse

    proxy = TcpProxy(("127.0.0.1", 5432))
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/{postgres_databases('frozen')}"
    made = []

    def make(**settings):
        made.append(Warehouse(url, **settings))
        made[-1].ensure_schema()
        return made[-1]
    yield make, proxy
    proxy.thaw()
    for warehouse in made:
        warehouse.dispose()
    proxy.down()


def _read_in_thread(warehouse, query) -> tuple[threading.Thread, dict]:
    """A read that may never return (without deadlines it does not): the test waits for it with a bound."""
    outcome: dict = {}

    def read():
        try:
            outcome["rows"] = warehouse.fetch(query)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, outcome


def test_a_frozen_database_is_cut_at_the_statement_deadline_then_one_sentence(frozen_later):
    """A server that hangs held a read forever: the ping is cut at its deadline (1 s and a 1 s grace), a new
    connection is never greeted (10 s), and the retry budget, counted from the start of the first try, ends it
    in one sentence."""
    from usersnap_pipeline.warehouse import WarehouseUnavailableError

    make, proxy = frozen_later
    warehouse = make(statement_seconds=1.0, retry_seconds=2.0)
    assert warehouse.fetch(sa.select(1)) == [(1,)]
    proxy.freeze()
    started = time.monotonic()
    reader, outcome = _read_in_thread(warehouse, sa.select(1))
    reader.join(60)
    assert not reader.is_alive(), "the read still waits on the frozen database after 60 s"
    assert time.monotonic() - started < 16
    assert isinstance(outcome.get("error"), WarehouseUnavailableError), outcome
    assert "nothing was lost" in str(outcome["error"]) and PASSWORD not in str(outcome["error"])


def test_stopping_the_warehouse_cuts_a_statement_waiting_on_a_frozen_database(frozen_later):
    from usersnap_pipeline.warehouse import WarehouseUnavailableError

    make, proxy = frozen_later
    warehouse = make(statement_seconds=600.0, retry_seconds=600.0)
    # A connection that pings and begins, then hangs mid-statement: the wait stop() has to cut.
    reader, outcome = _read_in_thread(warehouse, sa.select(sa.func.pg_sleep(0.5)))
    time.sleep(0.2)
    proxy.freeze()
    time.sleep(1.0)
    assert reader.is_alive(), f"the read should be waiting on the frozen server: {outcome}"
    stopped = time.monotonic()
    warehouse.stop()
    reader.join(10)
    assert not reader.is_alive(), "still waiting 10 s after stop()"
    assert time.monotonic() - stopped < 3
    assert isinstance(outcome.get("error"), WarehouseUnavailableError), outcome
    # Later calls end at once, in the same sentence (not the pool's "connection is closed").
    with pytest.raises(WarehouseUnavailableError, match="being stopped"):
        warehouse.fetch(sa.select(1))


def test_a_streamed_read_is_cut_when_the_database_hangs_between_fetches(frozen_later):
    """A report streams its rows a fetch at a time on the driver's own cursor, which no statement event sees."""
    from usersnap_pipeline.warehouse import WarehouseUnavailableError

    make, proxy = frozen_later
    warehouse = make(statement_seconds=1.0, retry_seconds=2.0)
    rows = warehouse.stream(sa.select(sa.func.generate_series(1, 5000)), rows_per_fetch=100)
    assert next(rows) == (1,)
    proxy.freeze()
    outcome: dict = {}

    def read_on():
        try:
            outcome["count"] = sum(1 for _ in rows)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
    reader = threading.Thread(target=read_on, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "the streamed read still waits on the frozen database after 30 s"
    assert isinstance(outcome.get("error"), WarehouseUnavailableError), outcome


def test_warehouses_opened_on_every_tick_share_one_watchdog_thread(postgres_databases):
    """A sensor opens a warehouse per tick in a long-lived code server: threads must not pile up."""
    from usersnap_pipeline.warehouse import Warehouse

    url = f"postgresql://postgres@127.0.0.1:5432/{postgres_databases('ticks')}"
    Warehouse(url).fetch(sa.select(1))
    before = threading.active_count()
    for _ in range(30):
        warehouse = Warehouse(url)
        assert warehouse.fetch(sa.select(1)) == [(1,)]
        warehouse.dispose()
    assert threading.active_count() <= before


def test_deadlines_cut_the_statement_past_its_own_and_no_other(frozen_later, postgres_databases, caplog):
    """Eight threads read from one warehouse while its connections close and reopen (descriptor numbers reused),
    one slow statement among them; another warehouse waits on a frozen server. Only that wait is ever cut: the
    slow statement is cancelled by the server itself (its statement_timeout), the quick ones are never touched."""
    from usersnap_pipeline.warehouse import Warehouse, WarehouseUnavailableError

    make, proxy = frozen_later
    frozen = make(statement_seconds=0.5, retry_seconds=2.0)
    assert frozen.fetch(sa.select(1)) == [(1,)]
    live = Warehouse(f"postgresql://postgres@127.0.0.1:5432/{postgres_databases('deadlines')}",
                     connections=8, statement_seconds=0.5, retry_seconds=2.0)
    failures: list[BaseException] = []

    def quick_reads(worker: int):
        try:
            for round_ in range(60):
                [(_, echoed)] = live.fetch(sa.select(sa.func.pg_sleep(0.01), sa.literal(worker)))
                assert echoed == worker
                if round_ % 5 == worker % 5:
                    with live.engine.connect() as conn:
                        conn.invalidate()  # its descriptor closed: the next connection, any thread's, may reuse it
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
    caplog.set_level("WARNING")
    proxy.freeze()
    try:
        slow, slow_outcome = _read_in_thread(live, sa.select(sa.func.pg_sleep(1.5)))
        stuck, stuck_outcome = _read_in_thread(frozen, sa.select(1))
        workers = [threading.Thread(target=quick_reads, args=(n,)) for n in range(8)]
        for thread in workers:
            thread.start()
        for thread in [*workers, slow, stuck]:
            thread.join(120)
    finally:
        live.dispose()
    assert not failures, failures
    assert isinstance(slow_outcome.get("error"), WarehouseUnavailableError), slow_outcome
    assert "statement timeout" in str(slow_outcome["error"])
    assert isinstance(stuck_outcome.get("error"), WarehouseUnavailableError), stuck_outcome
    cuts = [record.getMessage() for record in caplog.records if "its connection is cut" in record.getMessage()]
    # The frozen warehouse's pooled connection failed its ping at the deadline; the new one it tried was never
    # greeted (no wait to cut: the connect timeout ended it).
    assert len(cuts) == 1, cuts


def test_a_database_that_hangs_mid_import_fails_the_run_in_one_sentence_and_the_next_run_completes(
        pipeline_emulator, proxied, credentials, tmp_path):
    """Through the component's attributes (warehouse_statement_seconds, warehouse_retry_seconds): the hang is
    cut, the run fails with the sentence, and once the server answers again a rerun imports everything."""
    proxy = proxied
    pipeline = Pipeline(pipeline_emulator.base_url, report_dir=tmp_path / "reports", warehouse_url_env=URL_VARIABLE,
                        warehouse_statement_seconds=2, warehouse_retry_seconds=3)
    pipeline_emulator.faults.configure(latency=0.3)  # the crawl is still under way when the server hangs

    def freeze():
        while pipeline_emulator.requests_made("filter") < 1:
            time.sleep(0.05)
        proxy.freeze()
    freezer = threading.Thread(target=freeze, daemon=True)
    freezer.start()
    outcome: dict = {}

    def run():
        outcome["result"] = pipeline.run(FIRST_DAY, ANCHOR.date(), raise_on_error=False)
    runner = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    runner.start()
    runner.join(240)
    assert not runner.is_alive(), "the run still waits on the frozen database after 240 s"
    took = time.monotonic() - started
    result = outcome["result"]
    assert not result.success
    failures = [event.step_failure_data.error for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    messages = [(error.cause or error).message for error in failures]
    assert any("nothing was lost" in message for message in messages), messages
    assert took < 120, took
    proxy.thaw()
    pipeline_emulator.faults.configure(latency=0)
    try:
        assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
        ids = {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_points)}
        assert ids == {item["feedback_id"] for item in pipeline_emulator.store.items()}
    finally:
        pipeline.warehouse.dispose()
