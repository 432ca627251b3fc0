"""The hourly import of recent days, the daily reconciliation sweep (counts) and the weekly one (ids) over
the whole window."""

from collections.abc import Sequence
from datetime import date, timedelta

import dagster as dg

from ..steps.changes import plan_runs
from ..steps.reconcile import reconcile
from .naming import AccountNames
from .partitions import range_tags
from .resources import UsersnapResource, WarehouseResource
from .import_feedback import IMPORT_OP, import_asset_keys
from .sensors import project_run_config


RECENT_DAYS = 2  # today and yesterday: late submissions and edits of the last day land too


def _partition_keys_if_connected(context: dg.ScheduleEvaluationContext, usersnap: UsersnapResource,
                                 partitions_def: dg.TimeWindowPartitionsDefinition) -> list[str] | dg.SkipReason:
    """The partitions as of the tick; a quiet skip, calling nothing, when the account is disconnected."""
    if usersnap.credentials() is None:
        return dg.SkipReason(usersnap.disconnected_reason())
    return partitions_def.get_partition_keys(current_time=context.scheduled_execution_time)


def build_recent_import_schedule(job, partitions_def: dg.TimeWindowPartitionsDefinition, names: AccountNames, *,
                                 cron: str, status: str, usersnap: UsersnapResource) -> dg.ScheduleDefinition:
    import_keys = import_asset_keys(names)

    @dg.schedule(
        name=names("usersnap_hourly_recent_import"),
        cron_schedule=cron,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus(status.upper()),
        description=f"Re-import the last {RECENT_DAYS} days (today included) in one run ({cron}, UTC; "
                    "attribute import_schedule_cron).",
    )
    def hourly_recent_import(context: dg.ScheduleEvaluationContext):
        keys = _partition_keys_if_connected(context, usersnap, partitions_def)
        if isinstance(keys, dg.SkipReason):
            return keys
        recent = keys[-RECENT_DAYS:]
        return dg.RunRequest(tags=range_tags(recent[0], recent[-1]), asset_selection=import_keys)

    return hourly_recent_import


def build_reconciliation_schedule(job, partitions_def: dg.TimeWindowPartitionsDefinition,
                                  configured_projects: Sequence[str], names: AccountNames, *, cron: str, status: str,
                                  usersnap: UsersnapResource, warehouse: WarehouseResource) -> dg.ScheduleDefinition:
    import_keys = import_asset_keys(names)

    @dg.schedule(
        name=names("usersnap_daily_reconciliation"),
        cron_schedule=cron,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus(status.upper()),
        description="Compares Usersnap's counts with the warehouse per project over the whole history window "
                    "(one request per project when they match, about 2 per day that differs) and re-imports "
                    "exactly the days that differ: feedback deleted in Usersnap, a missed tick, rows changed "
                    "behind the pipeline's back. Run it by hand with Test schedule → Launch.",
    )
    def daily_reconciliation(context: dg.ScheduleEvaluationContext):
        keys = _partition_keys_if_connected(context, usersnap, partitions_def)
        if isinstance(keys, dg.SkipReason):
            return keys
        first, last = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
        with usersnap.tick_client() as client, warehouse.open() as store:
            projects = list(configured_projects) or store.raw_project_ids()
            result = reconcile(client, store, projects, first, last + timedelta(days=1))
        if result.passed:
            return dg.SkipReason(f"the warehouse matches Usersnap over {first}..{last} for {len(projects)} "
                                 f"project(s) ({result.requests} request(s))")
        changed: dict[str, set[date]] = {}
        for mismatch in result.mismatches:
            changed.setdefault(mismatch.project_id, set()).add(mismatch.day)
        plans = plan_runs(changed, first_partition=first, last_partition=last, max_gap_days=0)
        context.log.info(f"{len(result.mismatches)} (project, day) partition(s) differ from Usersnap "
                         f"({result.requests} request(s)): {len(plans)} re-import run(s)")
        return [dg.RunRequest(run_key=f"{names('usersnap_daily_reconciliation')}:"
                                      f"{context.scheduled_execution_time.date()}:{plan.first_day}.."
                                      f"{plan.last_day}:{','.join(plan.project_ids)}",
                              tags=range_tags(plan.first_day.isoformat(), plan.last_day.isoformat()),
                              run_config=project_run_config(plan.project_ids, names), asset_selection=import_keys)
                for plan in plans]

    return daily_reconciliation


def build_id_reconciliation_schedule(job, partitions_def: dg.TimeWindowPartitionsDefinition, names: AccountNames, *,
                                     cron: str, status: str, usersnap: UsersnapResource) -> dg.ScheduleDefinition:
    import_keys = import_asset_keys(names)

    @dg.schedule(
        name=names("usersnap_weekly_id_reconciliation"),
        cron_schedule=cron,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus(status.upper()),
        description="Lists every id and version of the whole history window, page by page, and imports again exactly "
                    "the days whose items differ from Usersnap's: what the daily count-based sweep cannot see (an "
                    "item deleted and another created on the same day, a missed edit). One run; it costs the "
                    f"window's pages ({cron}, UTC; attribute id_reconciliation_cron).",
    )
    def weekly_id_reconciliation(context: dg.ScheduleEvaluationContext):
        keys = _partition_keys_if_connected(context, usersnap, partitions_def)
        if isinstance(keys, dg.SkipReason):
            return keys
        return dg.RunRequest(run_key=f"{names('usersnap_weekly_id_reconciliation')}:"
                                     f"{context.scheduled_execution_time.date()}",
                             tags=range_tags(keys[0], keys[-1]), asset_selection=import_keys,
                             run_config={"ops": {names(IMPORT_OP): {"config": {"only_differing_days": True}}}})

    return weekly_id_reconciliation
