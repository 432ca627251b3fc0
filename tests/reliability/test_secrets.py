"""A whole import, logged at DEBUG: neither the JWT secret nor any token minted from it appears in
any log line, printed output, event log entry, run config or metadata value."""

from __future__ import annotations

import logging

import dagster as dg
from dagster._serdes import serialize_value

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.emulator import DEFAULT_JWT_SECRET


def test_no_secret_or_token_anywhere_after_a_whole_import(pipeline, pipeline_emulator, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    pipeline_emulator.faults.configure(error_rate=0.1, status_429_every=7, retry_after=0.01, truncate_rate=0.05)
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()),
                                      {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}},
                                      instance=instance)
        assert result.success
        tick = pipeline.tick(instance)
        for request in tick.run_requests:
            assert pipeline.execute(request, instance).success
        texts = [record.getMessage() for record in caplog.records]
        texts += [str(record.exc_info) for record in caplog.records if record.exc_info]
        for run in instance.get_runs():
            texts.append(serialize_value(run))  # run config and tags
            texts += [serialize_value(entry) for entry in instance.all_logs(run.run_id)]  # events with metadata
        texts.append(str(tick.cursor))
    out, err = capfd.readouterr()
    texts += [out, err]

    assert any("retry" in text for text in texts), "retries should have been logged at DEBUG/WARNING"
    assert any("ASSET_MATERIALIZATION" in text for text in texts)
    tokens = set(pipeline_emulator.tokens_seen)
    assert tokens, "the emulator saw the client's tokens"
    for text in texts:
        assert DEFAULT_JWT_SECRET not in text
        for token in tokens:
            assert token not in text
