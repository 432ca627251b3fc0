"""The code location loads, with every expected asset, job and schedule, and fails clearly when misconfigured."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from usersnap_pipeline.orchestration.code_location import IMPORT_JOB, build_definitions
from usersnap_pipeline.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_ASSETS = {"raw_feedback", "data_points", "projects", "assignees", "data_point_embeddings",
                   "data_point_sentiment", "themes", "data_point_themes", "theme_trends", "theme_report", "theme_alerts"}
EXPECTED_CHECKS = {"matches_usersnap", "feedback_id_unique", "required_columns_not_null",
                   "metadata_rows_have_their_data_point", "no_rejected_items"}
ENV = {"USERSNAP_IMPORT_HISTORY_START": "2026-05-01"}


def _defs():
    return build_definitions(load_settings(ENV))


def project_defs() -> dg.Definitions:
    """The project's code location as `dg` loads it: the defs folder, its defs.yaml reading the environment."""
    from usersnap_pipeline.definitions import defs

    return defs()


def test_every_expected_definition_is_there():
    defs = _defs()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    checks = defs.resolve_asset_graph().asset_check_keys
    assert {c.name for c in checks if c.asset_key == dg.AssetKey("data_points")} == EXPECTED_CHECKS
    job = defs.resolve_job_def(IMPORT_JOB)
    assert {c.name for c in job.asset_layer.asset_graph.asset_check_keys} >= EXPECTED_CHECKS  # run with every import
    assert defs.resolve_job_def("usersnap_assignees")
    schedule = defs.resolve_schedule_def("usersnap_hourly_recent_import")
    assert schedule.cron_schedule == "5 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("usersnap_daily_assignees").default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("usersnap_hourly_themes").cron_schedule == "20 * * * *"
    assert defs.resolve_schedule_def("usersnap_weekly_theme_discovery").cron_schedule == "0 5 * * 1"
    assert defs.resolve_job_def("usersnap_themes")
    sensor = defs.resolve_sensor_def("usersnap_change_sensor")
    assert sensor.minimum_interval_seconds == 15 and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    policy = defs.resolve_asset_graph().get(dg.AssetKey("data_points")).freshness_policy
    assert policy.fail_window.to_timedelta().total_seconds() == 3 * 3600


def test_partitions_start_at_the_configured_day_and_include_today():
    job = _defs().resolve_job_def(IMPORT_JOB)
    keys = job.partitions_def.get_partition_keys()
    assert keys[0] == "2026-05-01"
    assert keys[-1] == dg.DailyPartitionsDefinition(start_date="2026-05-01", end_offset=1).get_partition_keys()[-1]
    assert date.fromisoformat(keys[-1]) >= date.today()


def test_every_partitioned_asset_backfills_in_one_run():
    partitioned = [a for a in _defs().assets if a.partitions_def is not None]
    assert len(partitioned) == 1  # raw_feedback and data_points: one multi_asset
    for assets_def in partitioned:
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()


def test_schedule_requests_today_and_yesterday_in_one_run(monkeypatch):
    monkeypatch.setenv("USERSNAP_JWT_ID", "id")
    monkeypatch.setenv("USERSNAP_JWT_SECRET", "secret")
    defs = _defs()
    schedule = defs.resolve_schedule_def("usersnap_hourly_recent_import")
    from datetime import datetime, timezone
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 6, 10, 14, 5, tzinfo=timezone.utc),
                                   resources=defs.resources) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-06-09"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-06-10"


def test_secrets_are_variable_names_not_values(monkeypatch):
    monkeypatch.setenv("USERSNAP_IMPORT_HISTORY_START", "2026-05-01")
    monkeypatch.setenv("USERSNAP_JWT_SECRET", "hunter2-secret")
    monkeypatch.setenv("USERSNAP_WAREHOUSE_URL", "postgresql://u:hunter2@db/x")
    resources = project_defs().resources
    assert (resources["usersnap"].jwt_id_env, resources["usersnap"].jwt_secret_env) == ("USERSNAP_JWT_ID",
                                                                                         "USERSNAP_JWT_SECRET")
    assert isinstance(resources["warehouse"].url, dg.EnvVar)
    assert resources["warehouse"].url.env_var_name == "USERSNAP_WAREHOUSE_URL"
    assert "hunter2" not in repr(resources)


@pytest.mark.parametrize("env, message", [
    ({}, "USERSNAP_IMPORT_HISTORY_START is not set"),
    ({"USERSNAP_IMPORT_HISTORY_START": "May 1st"}, "is not a date like 2026-05-01"),
    ({"USERSNAP_IMPORT_HISTORY_START": "2999-01-01"}, "is in the future"),
    ({**ENV, "USERSNAP_API_URL": "http://usersnap.example.com/v0.1"}, "must use https"),
    ({**ENV, "USERSNAP_PROJECT_IDS": "abc, d e f"}, "not project ids"),
    ({**ENV, "USERSNAP_WAREHOUSE_URL": "mysql://u:hunter2@db/x"}, "must be a SQLAlchemy URL"),
    ({**ENV, "USERSNAP_FETCH_CONCURRENCY": "0"}, "USERSNAP_FETCH_CONCURRENCY"),
    ({**ENV, "USERSNAP_RECONCILIATION_CRON": "daily"}, "USERSNAP_RECONCILIATION_CRON='daily' is not a cron"),
])
def test_bad_settings_fail_with_a_message_naming_the_fix(env, message):
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(env)
    assert "hunter2" not in str(caught.value)


def test_defaults():
    settings = load_settings(ENV)
    assert settings == Settings(api_url="https://platform.usersnap.com/v0.1", project_ids=(),
                                import_history_start=date(2026, 5, 1),
                                warehouse_url="sqlite:///data/warehouse.sqlite")




def test_schedules_skip_when_usersnap_is_disconnected(monkeypatch):
    monkeypatch.delenv("USERSNAP_JWT_ID", raising=False)
    monkeypatch.delenv("USERSNAP_JWT_SECRET", raising=False)
    defs = _defs()
    for name in ("usersnap_hourly_recent_import", "usersnap_daily_assignees"):
        with dg.build_schedule_context(resources=defs.resources) as context:
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


def test_every_schedule_takes_its_cron_from_the_component():
    from usersnap_pipeline.components import UsersnapFeedbackComponent

    crons = {"import_schedule_cron": "1 * * * *", "reconciliation_cron": "2 1 * * *", "assignees_cron": "3 1 * * *",
             "themes_cron": "4 * * * *", "theme_discovery_cron": "5 1 * * 2"}
    component = UsersnapFeedbackComponent(import_history_start="2026-05-01", **crons)
    defs = build_definitions(component.settings(), component.names())
    schedules = {"import_schedule_cron": "usersnap_hourly_recent_import",
                 "reconciliation_cron": "usersnap_daily_reconciliation", "assignees_cron": "usersnap_daily_assignees",
                 "themes_cron": "usersnap_hourly_themes", "theme_discovery_cron": "usersnap_weekly_theme_discovery"}
    assert {field: defs.resolve_schedule_def(name).cron_schedule for field, name in schedules.items()} == crons
