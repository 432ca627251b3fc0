"""The import: raw feedback and the data point tables, written in one pass."""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg
from pydantic import Field

from ..steps.import_window import import_window
from ..steps.normalize_raw import normalize_window
from ..steps.reconcile import reimport_differing_days
from ..steps.projects import resolve_projects, select_projects
from ..steps.report import ImportReport
from ..warehouse.schema import NORMALIZED_TABLES, PARTITIONED_TABLES
from ..warehouse import schema
from .metadata import preview_table, table_metadata
from .naming import AccountNames
from .partitions import window_days
from .resources import UsersnapResource, WarehouseResource

IMPORT_JOB = "usersnap_import"
IMPORT_OP = "import_feedback"
PREVIEW_COLUMNS = ("feedback_number", "created_at", "status", "rating", "title", "source_url")
# The hourly schedule and the change sensor keep data points fresh; two missed hours is a warning,
# three a failure, shown on the asset in the UI.
DATA_POINTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))


class ImportConfig(dg.Config):
    project_ids: list[str] = Field(
        default=[],
        description="Limit this run to some of the configured projects, e.g. to import the history of "
                    "a project added later without touching the others. Empty: every configured project.")
    only_differing_days: bool = Field(
        default=False,
        description="List the range's ids and versions first and import again only the days whose items differ "
                    "from Usersnap's (the weekly id reconciliation: costs the range's pages, writes only what differs).")


RAW_FEEDBACK, DATA_POINTS = "raw_feedback", "data_points"
# A range run's metadata is copied into each day's materialization: a per-day list over years of days,
# in each of them, made the events most of a sparse backfill's time (bench/README.md).
DAYS_LISTED = 31


def import_asset_keys(names: AccountNames) -> list[dg.AssetKey]:
    """The daily import's assets: what runs of changed or recent days select (their checks come along).
    A run of the whole import job also refreshes projects and assignees."""
    return [names.asset(RAW_FEEDBACK), names.asset(DATA_POINTS)]


def build_import_assets(partitions_def: dg.PartitionsDefinition, configured_projects: Sequence[str],
                        names: AccountNames, *, usersnap: UsersnapResource, warehouse: WarehouseResource):
    raw_feedback = dg.AssetSpec(
        names.asset(RAW_FEEDBACK), group_name=names.import_group, kinds={"python", "sql"}, tags=names.tags,
        metadata=table_metadata(schema.raw_feedback),
        description="Every Usersnap feedback item created in the partition's days, stored as the API's JSON "
                    "(table raw_feedback). Fetched through the filter endpoint, created_at ascending, in windows "
                    "sized by item counts and cut into days as the items arrive.")
    data_points = dg.AssetSpec(
        names.asset(DATA_POINTS), deps=[raw_feedback], group_name=names.import_group, kinds={"python", "sql"},
        tags=names.tags, metadata=table_metadata(schema.data_points), freshness_policy=DATA_POINTS_FRESHNESS,
        description="One data point per submission, and its metadata tables: "
                    + "; ".join(f"{table.name}: {table.comment.rstrip('.')}" for table in NORMALIZED_TABLES) + ".")

    # One op for both assets: selected together, each day is fetched, normalized and written with
    # its raw items in one transaction, nothing read back. Dagster records a materialization per asset
    # and day, so the data point tables are one asset, not six.
    @dg.multi_asset(
        name=names(IMPORT_OP),
        specs=[raw_feedback, data_points],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        description="Fetch feedback, normalize it and replace each (project, day) partition atomically. "
                    "raw_feedback alone: fetch only. data_points alone: normalize the stored raw layer again, "
                    "without calling the API.",
    )
    def import_feedback(context: dg.AssetExecutionContext, config: ImportConfig):
        # A range run reports once for the whole window (Dagster copies it to each day's event): the
        # counts are for the window, with a per-day breakdown; each day's own row count is its own.
        start, end = window_days(context)
        window = f"{start} .. {end} (exclusive)"
        fetch = raw_feedback.key in context.selected_asset_keys
        normalize = data_points.key in context.selected_asset_keys
        with warehouse.open(writers=usersnap.concurrency) as store:
            if fetch:
                with usersnap.client() as client:
                    projects = select_projects(resolve_projects(client, configured_projects), config.project_ids)
                    context.log.info(f"importing {start}..{end} (exclusive) for {len(projects)} project(s)")
                    if config.only_differing_days:
                        report, check = reimport_differing_days(client, store, projects, start, end,
                                                                concurrency=usersnap.concurrency, normalize=normalize)
                        differing = sum(len(days) for days in check.differing.values())
                        context.log.info(f"{differing} of {check.days} (project, day) partition(s) differ from "
                                         f"Usersnap's ids ({check.requests} request(s) to list them): imported again")
                    else:
                        report = import_window(client, store, projects, start, end,
                                               concurrency=usersnap.concurrency, normalize=normalize)
                    api = client.stats.snapshot()  # the run's own client: everything it cost, the project check too
            else:
                projects = select_projects(configured_projects or store.raw_project_ids(), config.project_ids)
                report = normalize_window(store, projects, start, end)
            analyzed = store.refresh_statistics(PARTITIONED_TABLES)
        if analyzed:
            context.log.info(f"statistics refreshed for {', '.join(analyzed)}")
        if not config.project_ids and not config.only_differing_days:  # every project and day: all this run's rows
            for key, per_day in ((raw_feedback.key, report.items_per_day),
                                 (data_points.key, report.data_points_per_day)):
                if key in context.selected_asset_keys:
                    for day in context.partition_keys:
                        context.add_asset_metadata({"dagster/row_count": per_day[day]}, asset_key=key,
                                                   partition_key=day)
        if fetch:
            yield dg.MaterializeResult(asset_key=raw_feedback.key, metadata={
                "items": report.items,
                "window": window,
                "days": report.days,
                "projects": len(projects),
                "items_per_project": dg.MetadataValue.json(dict(report.items_per_project)),
                "days_with_items": len(report.items_per_day),
                **({"items_per_day": dg.MetadataValue.json(dict(sorted(report.items_per_day.items())))}
                   if report.days <= DAYS_LISTED else {}),
                "api_requests": api["requests"],
                "api_pages": api["pages"],
                "api_retries": api["retries"],
                "items_served_twice": sum(report.duplicates.values()),
                "items_deleted_in_usersnap": sum(report.deleted.values()),
                "days_fetched_again_out_of_order": sum(report.out_of_order.values()),
                "items_set_aside": sum(report.set_aside.values()),
                "days_listed_short": sum(report.listed_short.values()),
            })
            if report.set_aside:
                context.log.warning(f"{sum(report.set_aside.values())} item(s) were listed in a window they are not "
                                    f"dated in: kept in set_aside_feedback with the reason, never filed under another "
                                    f"day (per project: {dict(report.set_aside)})")
            if report.listed_short:
                context.log.warning(f"{sum(report.listed_short.values())} day(s) were listed with fewer items than the "
                                    f"API counts for them: nothing of them was marked deleted (per project: "
                                    f"{dict(report.listed_short)})")
            if report.deleted:
                context.log.info(f"{sum(report.deleted.values())} item(s) no longer in Usersnap: kept, marked deleted_at "
                                 f"(per project: {dict(report.deleted)})")
            if report.out_of_order:
                context.log.warning(f"the API served items out of created_at order: {sum(report.out_of_order.values())} "
                                    f"day(s) fetched again on their own (per project: {dict(report.out_of_order)})")
            if report.duplicates:
                context.log.warning(f"the API served {sum(report.duplicates.values())} item(s) twice in one window "
                                    f"(per project: {dict(report.duplicates)}); each was kept once")
        if normalize:
            if report.rejected:
                context.log.warning(f"{report.rejected} item(s) could not be normalized; see rejected_feedback")
            if report.drift:
                context.log.warning(f"items departing from the published API shape (their valid fields landed, "
                                    f"raw_feedback keeps them whole): {dict(report.drift.most_common(10))}")
            yield dg.MaterializeResult(asset_key=data_points.key, metadata=data_points_metadata(report, window))

    return import_feedback


def data_points_metadata(report: ImportReport, window: str) -> dict:
    return {
        "data_points": report.rows["data_points"],
        "window": window,
        "rows_per_table": dg.MetadataValue.json({table.name: report.rows[table.name] for table in NORMALIZED_TABLES}),
        "data_points_per_project": dg.MetadataValue.json(dict(report.data_points_per_project)),
        "items_skipped": report.rejected,
        "items_skipped_reasons": dg.MetadataValue.json(dict(report.rejected_reasons)),
        "schema_drift": dg.MetadataValue.json(dict(report.drift.most_common())),
        "items_with_schema_drift": sum(report.drift.values()),
        "preview": preview_table(report.sample, PREVIEW_COLUMNS),
    }
