"""Fixtures for pipeline tests: real Dagster on a temporary instance, the emulator over HTTP,
a real warehouse (SQLite file or the PostgreSQL server)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import ANCHOR
from usersnap_pipeline.components import UsersnapFeedbackComponent
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.orchestration.sensors import CHANGE_SENSOR
from usersnap_pipeline.orchestration.themes import THEME_ASSETS, THEMES_JOB
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.usersnap import UsersnapClient
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


def component_yaml(**attributes) -> str:
    """A defs.yaml of the Usersnap component with these attributes (JSON is YAML)."""
    return (f"type: usersnap_pipeline.components.UsersnapFeedbackComponent\n"
            f"attributes: {json.dumps(attributes, default=str)}\n")


def load_component(defs_yaml: str) -> tuple[UsersnapFeedbackComponent, dg.Definitions]:
    """The component as dg resolves a defs.yaml (templates rendered, every attribute checked), and its
    definitions."""
    component = UsersnapFeedbackComponent.resolve_from_yaml(defs_yaml.split("attributes:", 1)[1])
    return component, component.build_defs(dg.ComponentTree.for_test().load_context)


def load_project(root: Path, instances: dict[str, str], monkeypatch, *,
                 host: str = "dg.Definitions()") -> dg.Definitions:
    """A Dagster project of its own (package ``<root.name>``, a defs folder) holding ``instances``
    (folder name -> defs.yaml), loaded as ``dg`` loads a code location; ``host`` is the project's own
    definitions (a Python expression), merged with its defs folder's."""
    package = root / root.name
    for folder, defs_yaml in instances.items():
        (package / "defs" / folder).mkdir(parents=True)
        (package / "defs" / folder / "defs.yaml").write_text(defs_yaml)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.dg]
        directory_type = "project"
        [tool.dg.project]
        root_module = "{root.name}"
    """))
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text(textwrap.dedent("""
        from pathlib import Path

        import dagster as dg


        @dg.definitions
        def defs():
            return dg.Definitions.merge(dg.load_from_defs_folder(path_within_project=Path(__file__).parent), HOST)
    """).replace("HOST", host))
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == root.name or m.startswith(f"{root.name}.")]:
        del sys.modules[name]
    module = __import__(f"{root.name}.definitions", fromlist=["defs"])
    return module.defs()


class Pipeline:
    """The code location built for one test from a defs.yaml, and a way to run its import job over a day range."""

    def __init__(self, api_url: str, warehouse_url: str | None = None, project_ids: tuple[str, ...] = (),
                 first_day: date = FIRST_DAY, report_dir: Path = Path("test-artifacts") / "reports", **attributes):
        # ``settings``: the component's attributes as resolved from the YAML (report_dir, projects, ...);
        # ``attributes``: more of them (e.g. warehouse_url_env instead of a warehouse_url).
        if warehouse_url is not None:
            attributes["warehouse_url"] = warehouse_url
        self.settings, self.defs = load_component(component_yaml(
            import_history_start=first_day, api_url=api_url, projects=list(project_ids), fetch_concurrency=3,
            report_dir=report_dir, **attributes))
        self.warehouse = Warehouse(self.settings.warehouse().resolved_url())
        self.sensor_cursor: str | None = None

    def run(self, first: date, last: date, *, instance: dg.DagsterInstance | None = None,
            run_config: dict | None = None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        """Materialize every asset of the import for days ``first..last`` in one run."""
        with dg.instance_for_test() as fresh:
            return self.materialize(range_tags(first.isoformat(), last.isoformat()), run_config,
                                    instance=instance or fresh, raise_on_error=raise_on_error)

    def materialize(self, tags: dict, run_config: dict | None, *, instance: dg.DagsterInstance,
                    selection=None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        """The import's assets and their checks, as the import job runs them (``selection`` narrows it)."""
        partitioned = [a for a in self.defs.assets if a.partitions_def is not None]
        return dg.materialize([*partitioned, *self.defs.asset_checks], resources=self.defs.resources,
                              instance=instance, run_config=run_config, tags=tags, selection=selection,
                              raise_on_error=raise_on_error)

    def seed(self, first: date, last: date) -> None:
        """Import days ``first..last`` through the same steps the assets run, without Dagster's
        per-partition bookkeeping: for tests whose subject is what happens after the history import."""
        from usersnap_pipeline.steps.import_window import import_window
        from usersnap_pipeline.steps.projects import resolve_projects

        end = last + timedelta(days=1)
        with UsersnapClient(self.settings.api_url, os.environ["USERSNAP_JWT_ID"],
                            os.environ["USERSNAP_JWT_SECRET"]) as client:
            projects = resolve_projects(client, self.settings.projects)
            self.warehouse.ensure_schema()
            import_window(client, self.warehouse, projects, first, end)

    def themes(self, instance: dg.DagsterInstance, assets: tuple[str, ...] = THEME_ASSETS,
               run_config: dict | None = None) -> dg.ExecuteInProcessResult:
        """Run the themes job over ``assets``, as its schedules do."""
        return self.defs.resolve_job_def(THEMES_JOB).execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(name) for name in assets], run_config=run_config)

    def tick(self, instance: dg.DagsterInstance):
        """One evaluation of the change sensor, keeping its cursor as the daemon would on success."""
        sensor = self.defs.resolve_sensor_def(CHANGE_SENSOR)
        with dg.build_sensor_context(cursor=self.sensor_cursor, instance=instance,
                                     resources=self.defs.resources) as context:
            result = sensor.evaluate_tick(context)
        if result.cursor is not None:
            self.sensor_cursor = result.cursor
        return result

    def execute(self, request: dg.RunRequest, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        """Run what a sensor asked for, as the daemon would launch it."""
        return self.materialize(request.tags, request.run_config, instance=instance)


@pytest.fixture
def pipeline(pipeline_emulator, warehouse_url, credentials, tmp_path):
    built = Pipeline(pipeline_emulator.base_url, warehouse_url, report_dir=tmp_path / "reports")
    yield built
    built.warehouse.dispose()
