"""The code location loads from defs.yaml, with every expected asset, job and schedule, and fails clearly,
naming the file, line and attribute, when an attribute is wrong."""

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import component_yaml, load_component
from usersnap_pipeline.components import UsersnapFeedbackComponent
from usersnap_pipeline.components.usersnap_feedback import InvalidAttributes
from usersnap_pipeline.orchestration.import_feedback import IMPORT_JOB

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_ASSETS = {"raw_feedback", "data_points", "projects", "assignees", "data_point_embeddings",
                   "data_point_sentiment", "themes", "data_point_themes", "theme_trends", "theme_report", "theme_alerts"}
EXPECTED_CHECKS = {"matches_usersnap", "feedback_id_unique", "required_columns_not_null",
                   "metadata_rows_have_their_data_point", "no_rejected_items"}
# Each schedule's status attribute, its cron attribute and its name.
SCHEDULES = {"import_schedule": ("import_schedule_cron", "usersnap_hourly_recent_import"),
             "reconciliation_schedule": ("reconciliation_cron", "usersnap_daily_reconciliation"),
             "assignees_schedule": ("assignees_cron", "usersnap_daily_assignees"),
             "themes_schedule": ("themes_cron", "usersnap_hourly_themes"),
             "theme_discovery_schedule": ("theme_discovery_cron", "usersnap_weekly_theme_discovery")}
ENV = {"USERSNAP_IMPORT_HISTORY_START": "2026-05-01"}


def project_defs(monkeypatch, **env) -> dg.Definitions:
    """The project's code location as `dg` loads it: the defs folder, its defs.yaml rendering the environment."""
    from usersnap_pipeline.definitions import defs

    for name in [n for n in os.environ if n.startswith("USERSNAP_")]:
        monkeypatch.delenv(name)
    for name, value in {**ENV, **env}.items():
        monkeypatch.setenv(name, value)
    return defs()


def _defs(**attributes) -> dg.Definitions:
    return load_component(component_yaml(import_history_start="2026-05-01", **attributes))[1]


def test_every_expected_definition_is_there(monkeypatch):
    defs = project_defs(monkeypatch)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    checks = defs.resolve_asset_graph().asset_check_keys
    assert {c.name for c in checks if c.asset_key == dg.AssetKey("data_points")} == EXPECTED_CHECKS
    job = defs.resolve_job_def(IMPORT_JOB)
    assert {c.name for c in job.asset_layer.asset_graph.asset_check_keys} >= EXPECTED_CHECKS  # run with every import
    # The import job fills projects and assignees too: the first import has the projects' names.
    assert {k.to_user_string() for k in job.asset_layer.asset_graph.get_all_asset_keys()} == {
        "raw_feedback", "data_points", "projects", "assignees"}
    assert defs.resolve_job_def("usersnap_assignees")
    schedule = defs.resolve_schedule_def("usersnap_hourly_recent_import")
    assert schedule.cron_schedule == "5 * * * *"
    for _, name in SCHEDULES.values():
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("usersnap_hourly_themes").cron_schedule == "20 * * * *"
    assert defs.resolve_schedule_def("usersnap_weekly_theme_discovery").cron_schedule == "0 5 * * 1"
    assert defs.resolve_job_def("usersnap_themes")
    sensor = defs.resolve_sensor_def("usersnap_change_sensor")
    assert sensor.minimum_interval_seconds == 15 and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    policy = defs.resolve_asset_graph().get(dg.AssetKey("data_points")).freshness_policy
    assert policy.fail_window.to_timedelta().total_seconds() == 3 * 3600


def test_the_executor_is_the_jobs_own_not_the_code_locations():
    """A host project keeps its executor: the component sets none for the code location, only for its jobs."""
    defs = _defs()
    assert defs.executor is None
    for job in ("usersnap_import", "usersnap_assignees", "usersnap_themes"):
        assert defs.resolve_job_def(job).executor_def is dg.in_process_executor


def test_partitions_start_at_the_configured_day_and_include_today():
    job = _defs().resolve_job_def(IMPORT_JOB)
    keys = job.partitions_def.get_partition_keys()
    assert keys[0] == "2026-05-01"
    assert keys[-1] == dg.DailyPartitionsDefinition(start_date="2026-05-01", end_offset=1).get_partition_keys()[-1]


def test_the_import_group_backfills_in_one_run():
    """Every asset of the import group is partitioned with a single-run policy: a UI backfill of the group is
    one run, with no "varying backfill policies" (projects and assignees are in a group of their own)."""
    defs = _defs()
    graph = defs.resolve_asset_graph()
    group = [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).group_name == "usersnap"]
    assert {node.key.to_user_string() for node in group} == {"raw_feedback", "data_points"}
    assert {node.backfill_policy for node in group} == {dg.BackfillPolicy.single_run()}
    assert graph.get(dg.AssetKey("projects")).group_name == "usersnap_projects"


def test_schedule_requests_today_and_yesterday_in_one_run(monkeypatch):
    monkeypatch.setenv("USERSNAP_JWT_ID", "id")
    monkeypatch.setenv("USERSNAP_JWT_SECRET", "secret")
    schedule = _defs().resolve_schedule_def("usersnap_hourly_recent_import")
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 6, 10, 14, 5, tzinfo=timezone.utc)) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-06-09"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-06-10"
    assert request.asset_selection == [dg.AssetKey("raw_feedback"), dg.AssetKey("data_points")]


def test_secrets_are_variable_names_not_values(monkeypatch):
    monkeypatch.setenv("USERSNAP_JWT_SECRET", "hunter2-secret")
    monkeypatch.setenv("USERSNAP_WAREHOUSE_URL", "postgresql://u:hunter2@db/x")
    component, defs = load_component(component_yaml(import_history_start="2026-05-01",
                                                    warehouse_url_env="USERSNAP_WAREHOUSE_URL"))
    warehouse = component.warehouse()
    assert warehouse.url_env == "USERSNAP_WAREHOUSE_URL" and warehouse.resolved_url() == "postgresql://u:hunter2@db/x"
    assert "hunter2" not in repr(warehouse) and "hunter2" not in repr(component)
    job = defs.resolve_job_def(IMPORT_JOB)
    assert "hunter2" not in repr(job.run_config_schema.config_type.fields)


@pytest.mark.parametrize("attributes, message", [
    ({"import_history_start": None}, "import_history_start: is required"),
    ({"import_history_start": "May 1st"}, "import_history_start: 'May 1st' is not a date like 2026-05-01"),
    ({"import_history_start": "2999-01-01"}, "import_history_start: 2999-01-01 is in the future"),
    ({"api_url": "http://usersnap.example.com/v0.1"}, "api_url: 'http://usersnap.example.com/v0.1' must use https"),
    ({"projects": "abc, d e f"}, "projects: 'd e f' is not a project id"),
    ({"projects": ["abc", "abc"]}, "projects: a project is listed twice"),
    ({"warehouse_url": "mysql://u:hunter2@db/x"}, "warehouse_url: must be a SQLAlchemy URL"),
    ({"warehouse_url": "postgresql://u:hunter2@db/x"}, "warehouse_url: holds a password: put the URL in an environment "
                                                       "variable and give its name as warehouse_url_env"),
    ({"jwt_secret_env": "s3cr3t+hunter2/="}, "jwt_secret_env: must be the name of an environment variable"),
    ({"fetch_concurrency": 0}, "fetch_concurrency: Input should be greater than or equal to 1"),
    ({"sensor_interval_seconds": "0"}, "sensor_interval_seconds: Input should be greater than or equal to 1"),
    ({"reconciliation_cron": "daily"}, "reconciliation_cron: 'daily' is not a cron expression of 5 fields"),
    ({"themes": "maybe"}, "themes: Input should be a valid boolean"),
    ({"sensor": "paused"}, "sensor: Input should be 'running' or 'stopped'"),
    ({"translation": {"key_prefix": "EU accounts"}}, "translation.key_prefix: String should match pattern"),
])
def test_a_bad_attribute_fails_with_its_file_line_and_name(attributes, message):
    attributes = {key: value for key, value in {"import_history_start": "2026-05-01", **attributes}.items()
                  if value is not None}
    with pytest.raises(InvalidAttributes) as caught:
        load_component(component_yaml(**attributes))
    # One line: where (the attributes of component_yaml are on one line), which attribute, what to do.
    assert str(caught.value).startswith(f"<string>:1: {message}")
    assert len(str(caught.value).splitlines()) == 1 and "hunter2" not in str(caught.value)


def test_templates_render_to_typed_values(monkeypatch):
    """What an {{ env.X }} template yields is a string: checked and typed like a literal; an unset variable
    leaves the attribute at its default."""
    monkeypatch.setenv("T_THEMES", "false")
    monkeypatch.setenv("T_CONCURRENCY", "7")
    monkeypatch.setenv("T_PROJECTS", "p-1, p_2")
    monkeypatch.delenv("T_UNSET", raising=False)
    component, _ = load_component(component_yaml(
        import_history_start="2026-05-01", themes="{{ env.T_THEMES }}", fetch_concurrency="{{ env.T_CONCURRENCY }}",
        projects="{{ env.T_PROJECTS }}", sensor_interval_seconds="{{ env.T_UNSET }}"))
    assert component.themes is False and component.fetch_concurrency == 7
    assert component.projects == ("p-1", "p_2") and component.sensor_interval_seconds == 15
    monkeypatch.setenv("T_PROJECTS", "")
    assert load_component(component_yaml(import_history_start="2026-05-01",
                                         projects="{{ env.T_PROJECTS }}"))[0].projects == ()


def test_defaults():
    component = UsersnapFeedbackComponent(import_history_start=date(2026, 5, 1))
    assert (component.api_url, component.projects, component.warehouse_url, component.fetch_concurrency,
            component.sensor_interval_seconds, component.themes, component.sensor) == (
        "https://platform.usersnap.com/v0.1", (), "sqlite:///data/warehouse.sqlite", 4, 15, True, "running")


def test_schedules_skip_when_usersnap_is_disconnected(monkeypatch):
    monkeypatch.delenv("USERSNAP_JWT_ID", raising=False)
    monkeypatch.delenv("USERSNAP_JWT_SECRET", raising=False)
    defs = _defs()
    for name in ("usersnap_hourly_recent_import", "usersnap_daily_assignees"):
        with dg.build_schedule_context() as context:
            result = defs.resolve_schedule_def(name).evaluate_tick(context)
        assert not result.run_requests and "disconnected" in result.skip_message


def test_loading_the_code_location_leaves_the_theme_libraries_out():
    """Every import run and sensor tick loads the definitions: PyTorch, sentence-transformers, scikit-learn
    and matplotlib (~1 GB, seconds) are imported only by the theme assets themselves, and numpy (15 MB of an
    import run's 250) only by them and sentiment."""
    probe = ("import sys; from usersnap_pipeline.definitions import defs; defs(); print(sorted(m for m in ('torch', "
             "'sentence_transformers', 'transformers', 'sklearn', 'scipy', 'matplotlib', 'numpy') "
             "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**os.environ, **ENV}, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert loaded == "[]"


def test_loading_changes_no_warning_filter_and_warns_nothing_of_ours():
    """Loading the code location leaves the process's warning filters as they were, and no warning is
    raised from this package's code (Dagster's own component loader warns about its beta classes)."""
    probe = ("import sys, warnings; warnings.simplefilter('always'); before = list(warnings.filters)\n"
             "with warnings.catch_warnings(record=True) as caught:\n"
             "    warnings.simplefilter('always')\n"
             "    from usersnap_pipeline.definitions import defs; defs()\n"
             "print(warnings.filters == before)\n"
             "print(sorted({str(w.message).split('.')[0] for w in caught if 'usersnap_pipeline' in w.filename}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**os.environ, **ENV}, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[:2] == ["True", "[]"]


def test_every_table_asset_shows_the_columns_of_its_warehouse_table():
    from usersnap_pipeline.warehouse import schema

    defs = _defs()
    tables = {"raw_feedback": schema.raw_feedback, "data_points": schema.data_points, "assignees": schema.assignees,
              "projects": schema.projects, "data_point_embeddings": schema.data_point_embeddings,
              "data_point_sentiment": schema.data_point_sentiment, "themes": schema.themes,
              "data_point_themes": schema.data_point_themes, "theme_trends": schema.theme_trends,
              "theme_alerts": schema.theme_alerts}
    assert set(tables) == EXPECTED_ASSETS - {"theme_report"}  # the report is files, not a table
    for key, table in tables.items():
        metadata = defs.resolve_assets_def(key).specs_by_key[dg.AssetKey(key)].metadata
        columns = metadata["dagster/column_schema"].columns
        assert [(c.name, c.constraints.nullable) for c in columns] == [(c.name, c.nullable) for c in table.columns], key
        assert metadata["dagster/table_name"] == table.name
    point_columns = {c.name: c for c in defs.resolve_assets_def("data_points").specs_by_key[
        dg.AssetKey("data_points")].metadata["dagster/column_schema"].columns}
    assert point_columns["rating"].type == "float" and point_columns["feedback_id"].constraints.unique


def test_every_automation_takes_its_cron_and_status_from_the_component():
    crons = {"import_schedule_cron": "1 * * * *", "reconciliation_cron": "2 1 * * *", "assignees_cron": "3 1 * * *",
             "themes_cron": "4 * * * *", "theme_discovery_cron": "5 1 * * 2"}
    defs = _defs(**crons, sensor="stopped", **{status: "stopped" for status in SCHEDULES})
    for cron, schedule in SCHEDULES.values():
        definition = defs.resolve_schedule_def(schedule)
        assert definition.cron_schedule == crons[cron]
        assert definition.default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_sensor_def("usersnap_change_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    mixed = _defs(themes_schedule="stopped")
    assert mixed.resolve_schedule_def("usersnap_hourly_themes").default_status == dg.DefaultScheduleStatus.STOPPED
    assert mixed.resolve_schedule_def("usersnap_hourly_recent_import").default_status == dg.DefaultScheduleStatus.RUNNING


def test_themes_without_the_themes_extra_fail_in_one_sentence(monkeypatch):
    from usersnap_pipeline.components import usersnap_feedback

    monkeypatch.setattr(usersnap_feedback, "THEMES_PACKAGE", "a_package_that_is_not_installed")
    with pytest.raises(InvalidAttributes, match=r"themes is true but the themes extra is not installed: "
                                                r"pip install 'usersnap-pipeline\[themes\]', or set themes: false"):
        _defs()
    assert _defs(themes=False).resolve_job_def(IMPORT_JOB)  # the import alone needs none of it
