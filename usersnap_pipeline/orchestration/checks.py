"""Completeness and integrity checks on the data points.

They run with every import (and can be run on their own from the UI). Inside an import run they
cover the run's days; run on their own, the whole history window. Either way the failing
(project, day) partitions and their numbers are in the check's metadata.
"""

from collections.abc import Sequence

import dagster as dg

from ..steps.reconcile import reconcile
from ..warehouse import audits
from .metadata import preview_table
from .naming import AccountNames
from .partitions import check_window
from .resources import UsersnapResource, WarehouseResource


def build_data_point_checks(partitions_def: dg.TimeWindowPartitionsDefinition, *, projects: Sequence[str],
                            names: AccountNames, usersnap: UsersnapResource, warehouse: WarehouseResource) -> list:
    data_points = names.asset("data_points")

    def projects_of(store) -> list[str]:
        return list(projects) or store.raw_project_ids()

    def audit(context: dg.AssetCheckExecutionContext, query):
        """Run a warehouse audit over the check's window and configured projects."""
        start, end = check_window(context, partitions_def)
        with warehouse.open() as store:
            return query(store, projects_of(store), start, end)

    @dg.asset_check(asset=data_points, name="matches_usersnap",
                    description="Reconciliation: per project and day, data points (+ rejected items) equal "
                                "Usersnap's filter-count for the same created_at window.")
    def matches_usersnap(context: dg.AssetCheckExecutionContext):
        start, end = check_window(context, partitions_def)
        if usersnap.credentials() is None:
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                       description=usersnap.disconnected_reason())
        with usersnap.client() as client, warehouse.open() as store:
            result = reconcile(client, store, projects_of(store), start, end)
        ours = sum(w for w, _ in result.totals.values())
        theirs = sum(u for _, u in result.totals.values())
        return dg.AssetCheckResult(
            passed=result.passed,
            description=None if result.passed else
            f"{len(result.mismatches)} (project, day) partition(s) differ from Usersnap: re-import them",
            metadata={
                "window": f"{start} .. {end} (exclusive)",
                "warehouse_items": ours,
                "usersnap_items": theirs,
                "mismatched_partitions": len(result.mismatches),
                "mismatches": preview_table(result.mismatches[:50], ("project_id", "day", "warehouse", "usersnap")),
                "api_requests": result.requests,
            })

    @dg.asset_check(asset=data_points, name="feedback_id_unique",
                    description="No feedback_id appears twice among the data points.")
    def feedback_id_unique(context: dg.AssetCheckExecutionContext):
        duplicates = audit(context, audits.duplicate_feedback_ids)
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicates": duplicates})

    @dg.asset_check(asset=data_points, name="required_columns_not_null",
                    description=f"{', '.join(audits.REQUIRED_COLUMNS)} are never null.")
    def required_columns_not_null(context: dg.AssetCheckExecutionContext):
        nulls = audit(context, audits.null_counts)
        return dg.AssetCheckResult(passed=not any(nulls.values()), metadata={f"null_{k}": v for k, v in nulls.items()})

    @dg.asset_check(asset=data_points, name="metadata_rows_have_their_data_point",
                    description="Every message, field, label and custom-data row belongs to an existing data point.")
    def metadata_rows_have_their_data_point(context: dg.AssetCheckExecutionContext):
        orphans = audit(context, audits.orphan_counts)
        return dg.AssetCheckResult(passed=not any(orphans.values()),
                                   metadata={f"orphans_in_{k}": v for k, v in orphans.items()})

    @dg.asset_check(asset=data_points, name="no_rejected_items",
                    description="Warns when items could not be normalized (they stay in raw_feedback and are "
                                "listed in rejected_feedback with the reason), or were listed in a window they "
                                "are not dated in (kept in set_aside_feedback).")
    def no_rejected_items(context: dg.AssetCheckExecutionContext):
        reasons = audit(context, audits.rejected_reasons)
        return dg.AssetCheckResult(passed=not reasons, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"rejected": sum(reasons.values()),
                                             "reasons": dg.MetadataValue.json(reasons)})

    return [matches_usersnap, feedback_id_unique, required_columns_not_null, metadata_rows_have_their_data_point,
            no_rejected_items]
