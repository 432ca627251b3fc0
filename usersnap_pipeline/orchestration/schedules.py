"""The hourly import of recent days."""

import dagster as dg

from .naming import AccountNames
from .partitions import range_tags
from .resources import UsersnapResource

RECENT_DAYS = 2  # today and yesterday: late submissions and edits of the last day land too


def build_recent_import_schedule(job, partitions_def: dg.TimeWindowPartitionsDefinition,
                                 cron_schedule: str, names: AccountNames) -> dg.ScheduleDefinition:
    usersnap_key = names("usersnap")

    @dg.schedule(
        name=names("usersnap_hourly_recent_import"),
        required_resource_keys={usersnap_key},
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Re-import the last {RECENT_DAYS} days (today included) in one run ({cron_schedule}, UTC; "
                    "USERSNAP_IMPORT_SCHEDULE_CRON).",
    )
    def hourly_recent_import(context: dg.ScheduleEvaluationContext):
        usersnap: UsersnapResource = getattr(context.resources, usersnap_key)
        if usersnap.credentials() is None:
            return dg.SkipReason(usersnap.disconnected_reason())
        keys = partitions_def.get_partition_keys(current_time=context.scheduled_execution_time)
        recent = keys[-RECENT_DAYS:]
        return dg.RunRequest(tags=range_tags(recent[0], recent[-1]))

    return hourly_recent_import
