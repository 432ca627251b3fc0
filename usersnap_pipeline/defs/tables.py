"""The normalized tables, written in one pass over the raw layer."""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from ..steps.normalize_raw import normalize_window
from ..steps.projects import select_projects
from ..warehouse.schema import NORMALIZED_TABLES
from .metadata import markdown_preview
from .partitions import window_days
from .raw import ImportConfig
from .resources import WarehouseResource

PREVIEW_COLUMNS = ("feedback_number", "created_at", "status", "rating", "title", "source_url")
# The hourly schedule and the change sensor keep data points fresh; two missed hours is a warning,
# three a failure, shown on the asset in the UI.
DATA_POINTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))


def build_normalized_assets(partitions_def: dg.PartitionsDefinition, configured_projects: Sequence[str]):
    specs = [dg.AssetSpec(table.name, deps=["raw_feedback"], group_name="usersnap", kinds={"python", "sql"},
                          description=table.comment,
                          freshness_policy=DATA_POINTS_FRESHNESS if table.name == "data_points" else None)
             for table in NORMALIZED_TABLES]

    @dg.multi_asset(
        name="normalize_feedback",
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Normalize raw_feedback into data points and their metadata tables.",
    )
    def normalize_feedback(context: dg.AssetExecutionContext, config: ImportConfig, warehouse: WarehouseResource):
        start, end = window_days(context)
        with warehouse.open() as store:
            projects = select_projects(configured_projects or store.raw_project_ids(), config.project_ids)
            report = normalize_window(store, projects, start, end)
        rejected = sum(report.rejected_reasons.values())
        if rejected:
            context.log.warning(f"{rejected} item(s) could not be normalized; see rejected_feedback")
        for table in NORMALIZED_TABLES:
            metadata = {"dagster/row_count": report.rows[table.name], "window": f"{start} .. {end} (exclusive)"}
            if table.name == "data_points":
                metadata.update({
                    "data_points_per_project": dg.MetadataValue.json(dict(report.data_points_per_project)),
                    "items_skipped": rejected,
                    "items_skipped_reasons": dg.MetadataValue.json(dict(report.rejected_reasons)),
                    "preview": markdown_preview(report.sample, PREVIEW_COLUMNS),
                })
            yield dg.MaterializeResult(asset_key=table.name, metadata=metadata)

    return normalize_feedback
