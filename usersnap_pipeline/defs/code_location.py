"""Assemble the code location from settings."""

import os
import warnings

import dagster as dg

from ..settings import Settings
from .assignees import ASSIGNEES_JOB, build_assignees_asset, build_assignees_schedule
from .checks import build_data_point_checks
from .import_feedback import build_import_assets
from .partitions import daily_partitions
from .resources import ThemeEncoderResource, UsersnapResource, WarehouseResource
from .schedules import build_recent_import_schedule
from .sensors import build_change_sensor
from .themes import THEMES_JOB, build_theme_assets, build_theme_schedules

IMPORT_JOB = "usersnap_import"

# Single-run backfills are what this project is built on; Dagster labels the parameter beta.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions_def = daily_partitions(settings.import_history_start)
    import_assets = build_import_assets(partitions_def, settings.project_ids)
    assignees = build_assignees_asset(settings.project_ids)
    checks = build_data_point_checks(partitions_def, api_url=settings.api_url,
                                     configured_projects=settings.project_ids)
    import_job = dg.define_asset_job(IMPORT_JOB, selection=[import_assets],
                                     description="Import Usersnap feedback: raw items and the data point tables.")
    # A warehouse URL from the environment may carry a password: pass it as an EnvVar so only the
    # variable's name is ever shown.
    env_url = os.environ.get("USERSNAP_WAREHOUSE_URL")
    warehouse_url = dg.EnvVar("USERSNAP_WAREHOUSE_URL") if env_url and env_url == settings.warehouse_url \
        else settings.warehouse_url
    assignees_job = dg.define_asset_job(ASSIGNEES_JOB, selection=[assignees],
                                        description="Refresh the assignees table.")
    theme_assets = build_theme_assets(settings.report_dir)
    themes_job = dg.define_asset_job(THEMES_JOB, selection=theme_assets,
                                     description="Themes and trends: discovery, assignment, trends and the report.")
    return dg.Definitions(
        # The import is I/O-bound and its steps run one after the other: a process per step would
        # only add start-up time (seconds per step on a small machine), so steps run in the run's process.
        executor=dg.in_process_executor,
        assets=[import_assets, assignees, *theme_assets],
        asset_checks=checks,
        jobs=[import_job, assignees_job, themes_job],
        schedules=[build_recent_import_schedule(import_job, partitions_def, settings.import_schedule_cron),
                   build_assignees_schedule(assignees_job), *build_theme_schedules(themes_job)],
        sensors=[build_change_sensor(import_job, partitions_def, api_url=settings.api_url,
                                     configured_projects=settings.project_ids,
                                     interval_seconds=settings.sensor_interval_seconds)],
        resources={
            "usersnap": UsersnapResource(api_url=settings.api_url, jwt_id=dg.EnvVar("USERSNAP_JWT_ID"),
                                         jwt_secret=dg.EnvVar("USERSNAP_JWT_SECRET"),
                                         concurrency=settings.fetch_concurrency),
            "warehouse": WarehouseResource(url=warehouse_url),
            "theme_encoder": ThemeEncoderResource(model=settings.themes_model),
        },
    )

