"""The hourly import of recent days."""

import dagster as dg

from .partitions import range_tags
from .resources import DISCONNECTED, credentials_from_env

RECENT_DAYS = 2  # today and yesterday: late submissions and edits of the last day land too


def build_recent_import_schedule(job, partitions_def: dg.TimeWindowPartitionsDefinition,
                                 cron_schedule: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="usersnap_hourly_recent_import",
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Re-import the last {RECENT_DAYS} days (today included) in one run ({cron_schedule}, UTC; "
                    "USERSNAP_IMPORT_SCHEDULE_CRON).",
    )
    def hourly_recent_import(context: dg.ScheduleEvaluationContext):
        if credentials_from_env() is None:
            return dg.SkipReason(DISCONNECTED)
        keys = partitions_def.get_partition_keys(current_time=context.scheduled_execution_time)
        recent = keys[-RECENT_DAYS:]
        return dg.RunRequest(tags=range_tags(recent[0], recent[-1]))

    return hourly_recent_import
