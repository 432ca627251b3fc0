"""Fixtures for pipeline tests: real Dagster on a temporary instance, the emulator over HTTP,
a real warehouse (SQLite file or the PostgreSQL server)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from tests.conftest import ANCHOR
from usersnap_pipeline.defs.code_location import build_definitions
from usersnap_pipeline.defs.partitions import range_tags
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.settings import Settings
from usersnap_pipeline.warehouse import Warehouse

HISTORY_DAYS = 6
FIRST_DAY = ANCHOR.date() - timedelta(days=HISTORY_DAYS)


@pytest.fixture
def pipeline_emulator():
    dataset = generate(seed=11, items=700, projects=2, days=HISTORY_DAYS, end=ANCHOR)
    with Emulator(dataset, seed=11) as api:
        yield api


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("USERSNAP_JWT_ID", DEFAULT_JWT_ID)
    monkeypatch.setenv("USERSNAP_JWT_SECRET", DEFAULT_JWT_SECRET)


class Pipeline:
    """The code location built for one test, and a way to run its import job over a day range."""

    def __init__(self, api_url: str, warehouse_url: str, project_ids: tuple[str, ...] = ()):
        self.settings = Settings(api_url=api_url, project_ids=project_ids, import_history_start=FIRST_DAY,
                                 warehouse_url=warehouse_url, fetch_concurrency=3)
        self.defs = build_definitions(self.settings)
        self.warehouse = Warehouse(warehouse_url)

    def run(self, first: date, last: date, *, instance: dg.DagsterInstance | None = None,
            run_config: dict | None = None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        """Materialize every asset of the import for days ``first..last`` in one run."""
        with dg.instance_for_test() as fresh:
            return dg.materialize(list(self.defs.assets), resources=self.defs.resources,
                                  instance=instance or fresh, run_config=run_config,
                                  tags=range_tags(first.isoformat(), last.isoformat()),
                                  raise_on_error=raise_on_error)


@pytest.fixture
def pipeline(pipeline_emulator, warehouse_url, credentials):
    built = Pipeline(pipeline_emulator.base_url, warehouse_url)
    yield built
    built.warehouse.dispose()
