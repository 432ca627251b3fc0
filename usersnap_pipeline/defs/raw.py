"""The raw layer: every feedback item of the window, as the API returned it."""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from ..steps.fetch_raw import fetch_raw_window
from ..steps.projects import resolve_projects, select_projects
from .partitions import window_days
from .resources import UsersnapResource, WarehouseResource


class ImportConfig(dg.Config):
    project_ids: list[str] = Field(
        default=[],
        description="Limit this run to some of the configured projects, e.g. to import the history of "
                    "a project added later without touching the others. Empty: every configured project.")


def build_raw_feedback_asset(partitions_def: dg.PartitionsDefinition, configured_projects: Sequence[str]):
    @dg.asset(
        name="raw_feedback",
        group_name="usersnap",
        kinds={"python", "sql"},
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Every Usersnap feedback item created in the partition's days, stored as the API's JSON "
                    "(table raw_feedback). Fetched per (project, day) through the filter endpoint, "
                    "created_at ascending; each (project, day) is replaced atomically.",
    )
    def raw_feedback(context: dg.AssetExecutionContext, config: ImportConfig, usersnap: UsersnapResource,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
        # A range run reports once for the whole window (Dagster copies it to each day's event):
        # the counts are for the window, with a per-day breakdown.
        start, end = window_days(context)
        with usersnap.client() as client, warehouse.open() as store:
            projects = select_projects(resolve_projects(client, configured_projects), config.project_ids)
            context.log.info(f"importing {start}..{end} (exclusive) for {len(projects)} project(s)")
            report = fetch_raw_window(client, store, projects, start, end, concurrency=usersnap.concurrency)
            api = client.stats.snapshot()  # the run's own client: everything it cost, the project check included
        return dg.MaterializeResult(metadata={
            "dagster/row_count": report.items,
            "window": f"{start} .. {end} (exclusive)",
            "days": report.days,
            "projects": len(projects),
            "items_per_project": dg.MetadataValue.json(dict(report.items_per_project)),
            "items_per_day": dg.MetadataValue.json(dict(sorted(report.items_per_day.items()))),
            "api_requests": api["requests"],
            "api_pages": api["pages"],
            "api_retries": api["retries"],
        })

    return raw_feedback
