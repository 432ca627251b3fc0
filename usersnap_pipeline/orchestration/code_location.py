"""Assemble one Usersnap account's definitions from its settings and names."""

import warnings

import dagster as dg

from ..settings import Settings
from .assignees import ASSIGNEES_JOB, build_assignees_asset, build_assignees_schedule
from .checks import build_data_point_checks
from .import_feedback import build_import_assets
from .naming import AccountNames
from .partitions import daily_partitions
from .resources import AlertWebhookResource, ThemeEncoderResource, UsersnapResource, WarehouseResource
from .schedules import build_id_reconciliation_schedule, build_reconciliation_schedule, build_recent_import_schedule
from .sensors import build_change_sensor
from .themes import THEMES_JOB, build_theme_assets, build_theme_schedules

IMPORT_JOB = "usersnap_import"

# Single-run backfills are what this project is built on; Dagster labels the parameter beta.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def build_definitions(settings: Settings, names: AccountNames = AccountNames()) -> dg.Definitions:
    partitions_def = daily_partitions(settings.import_history_start)
    import_assets = build_import_assets(partitions_def, settings.project_ids, names)
    assignees = build_assignees_asset(settings.project_ids, names)
    import_job = dg.define_asset_job(names(IMPORT_JOB), selection=[import_assets], tags=names.tags,
                                     description="Import Usersnap feedback: raw items and the data point tables.")
    assignees_job = dg.define_asset_job(names(ASSIGNEES_JOB), selection=[assignees], tags=names.tags,
                                        description="Refresh the projects and assignees tables.")
    assets, jobs, schedules = [import_assets, assignees], [import_job, assignees_job], []
    resources = {
        names.usersnap_key: UsersnapResource(api_url=settings.api_url, jwt_id_env=settings.jwt_id_env,
                                             jwt_secret_env=settings.jwt_secret_env,
                                             concurrency=settings.fetch_concurrency),
        # A URL from the environment may carry a password: as an EnvVar only the variable's name is shown.
        names.warehouse_key: WarehouseResource(
            url=dg.EnvVar(settings.warehouse_url_env) if settings.warehouse_url_env else settings.warehouse_url,
            namespace=names.key_prefix),
    }
    if settings.themes:
        theme_assets = build_theme_assets(settings.report_dir, names)
        themes_job = dg.define_asset_job(names(THEMES_JOB), selection=theme_assets, tags=names.tags,
                                         description="Themes and trends: discovery, assignment, trends and the report.")
        assets += theme_assets
        jobs.append(themes_job)
        schedules += build_theme_schedules(themes_job, names, assign_cron=settings.themes_cron,
                                           discovery_cron=settings.theme_discovery_cron)
        resources[names.encoder_key] = ThemeEncoderResource(model=settings.themes_model)
        resources[names.webhook_key] = AlertWebhookResource(url_env=settings.alert_webhook_url_env)
    return dg.Definitions(
        # The import is I/O-bound and its steps run one after the other: a process per step would
        # only add start-up time (seconds per step on a small machine), so steps run in the run's process.
        executor=dg.in_process_executor,
        assets=assets,
        asset_checks=build_data_point_checks(partitions_def, configured_projects=settings.project_ids, names=names),
        jobs=jobs,
        schedules=[build_recent_import_schedule(import_job, partitions_def, settings.import_schedule_cron, names),
                   build_reconciliation_schedule(import_job, partitions_def, settings.project_ids, names,
                                                 settings.reconciliation_cron),
                   build_id_reconciliation_schedule(import_job, partitions_def, names, settings.id_reconciliation_cron),
                   build_assignees_schedule(assignees_job, names, settings.assignees_cron), *schedules],
        sensors=[build_change_sensor(import_job, partitions_def, configured_projects=settings.project_ids,
                                     interval_seconds=settings.sensor_interval_seconds, names=names)],
        resources=resources,
    )
