"""Keep the warehouse fresh between schedules: new submissions, edits to old ones, new projects."""

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timezone

import dagster as dg

from ..steps.changes import ChangeCursor, RunPlan, detect_changes, plan_runs
from ..steps.projects import resolve_projects
from ..usersnap import api_timestamp
from .import_feedback import IMPORT_OP, import_asset_keys
from .naming import AccountNames
from .partitions import range_tags
from .resources import UsersnapResource, WarehouseResource

CHANGE_SENSOR = "usersnap_change_sensor"


def project_run_config(project_ids: Sequence[str], names: AccountNames = AccountNames()) -> dict:
    return {"ops": {names(IMPORT_OP): {"config": {"project_ids": list(project_ids)}}}}


def build_change_sensor(job, partitions_def: dg.TimeWindowPartitionsDefinition, *, projects: Sequence[str],
                        interval_seconds: int, status: str, names: AccountNames, usersnap: UsersnapResource,
                        warehouse: WarehouseResource) -> dg.SensorDefinition:
    sensor_name, import_keys = names(CHANGE_SENSOR), import_asset_keys(names)

    @dg.sensor(
        name=sensor_name,
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus(status.upper()),
        description="Walks each project's feedback newest-update first down to the last mark, and requests "
                    "one run per range of days whose items were added or edited. A project never imported "
                    "gets one run of the whole import job for its history window (projects and assignees "
                    "included). An idle tick costs one request per project.",
    )
    def usersnap_change_sensor(context: dg.SensorEvaluationContext):
        if usersnap.credentials() is None:
            return dg.SkipReason(usersnap.disconnected_reason())
        cursor = ChangeCursor.from_json(context.cursor)
        with usersnap.tick_client() as client, warehouse.open() as store:
            watched = list(projects)
            if not watched:
                now = datetime.now(timezone.utc)
                if cursor.visible_projects_due(now):
                    cursor.visible, cursor.visible_at = resolve_projects(client, ()), api_timestamp(now)
                watched = list(cursor.visible)
            changed, new_projects = detect_changes(client, store, watched, cursor)
            requests_made = client.stats.snapshot()["requests"]

        keys = partitions_def.get_partition_keys()
        first, last = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
        plans = [(plan, import_keys) for plan in plan_runs(changed, first_partition=first, last_partition=last)]
        if new_projects:  # the whole job: the first import fills projects and assignees too
            plans.insert(0, (RunPlan(first, last, tuple(new_projects)), None))
        new_cursor = cursor.to_json()
        # A run key per (plan, resulting cursor): a retried tick does not launch twice, and a later
        # change to the same days gets a new key (run keys are remembered forever).
        run_requests = [dg.RunRequest(run_key=_run_key(sensor_name, plan, new_cursor),
                                      tags=range_tags(plan.first_day.isoformat(), plan.last_day.isoformat()),
                                      run_config=project_run_config(plan.project_ids, names), asset_selection=selection)
                        for plan, selection in plans]
        # An idle tick says so in its skip reason only: nothing at INFO every interval.
        log = context.log.info if run_requests else context.log.debug
        log(f"{len(watched)} project(s), {requests_made} request(s), {sum(len(d) for d in changed.values())} changed "
            f"partition(s), {len(new_projects)} new project(s) -> {len(run_requests)} run(s)")
        return dg.SensorResult(run_requests=run_requests, cursor=new_cursor,
                               skip_reason=None if run_requests else
                               dg.SkipReason(f"no new or edited feedback ({requests_made} request(s))"))

    return usersnap_change_sensor


def _run_key(sensor_name: str, plan: RunPlan, cursor: str) -> str:
    digest = hashlib.sha1(repr((plan, cursor)).encode()).hexdigest()[:16]
    return f"{sensor_name}:{plan.first_day}..{plan.last_day}:{digest}"
