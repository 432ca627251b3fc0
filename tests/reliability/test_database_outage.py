"""PostgreSQL away in the middle of an import (a restart, a failover): the run waits for it, up to a
configurable budget, and either completes exactly or fails with one sentence that names the database
(never its password) and says that nothing was lost."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest

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
