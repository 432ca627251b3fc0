"""Who feedback can be assigned to, so assignee ids read as names."""

from collections.abc import Sequence

import dagster as dg

from ..steps.projects import resolve_projects
from ..transform.assignees import assignee_rows
from ..warehouse.schema import assignees as assignees_table
from .metadata import table_metadata
from .naming import AccountNames
from .resources import UsersnapResource, WarehouseResource

ASSIGNEES_JOB = "usersnap_assignees"


def build_assignees_asset(configured_projects: Sequence[str], names: AccountNames):
    usersnap_key, warehouse_key = names.usersnap_key, names.warehouse_key

    @dg.asset(key=names.asset("assignees"), group_name=names.import_group, kinds={"python", "sql"}, tags=names.tags,
              metadata=table_metadata(assignees_table), required_resource_keys={usersnap_key, warehouse_key},
              description="Assignee users per project (table assignees); joins data_points.assignee_id to a name.")
    def assignees(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        usersnap: UsersnapResource = getattr(context.resources, usersnap_key)
        warehouse: WarehouseResource = getattr(context.resources, warehouse_key)
        per_project = {}
        with usersnap.client() as client, warehouse.open() as store:
            visible = {p["project_id"]: p for p in client.list_projects()}
            for project_id in resolve_projects(client, configured_projects):
                # The assignees endpoint takes the project's api_key, not its id.
                rows = assignee_rows(project_id, client.list_assignees(visible[project_id]["api_key"]))
                store.replace_project_rows(assignees_table, project_id, rows)
                per_project[project_id] = len(rows)
        return dg.MaterializeResult(metadata={"dagster/row_count": sum(per_project.values()),
                                              "per_project": dg.MetadataValue.json(per_project)})

    return assignees


def build_assignees_schedule(job, names: AccountNames, cron_schedule: str) -> dg.ScheduleDefinition:
    usersnap_key = names.usersnap_key

    @dg.schedule(name=names("usersnap_daily_assignees"), cron_schedule=cron_schedule, execution_timezone="UTC",
                 job=job, default_status=dg.DefaultScheduleStatus.RUNNING, required_resource_keys={usersnap_key},
                 description="Refresh the assignees table once a day.")
    def daily_assignees(context: dg.ScheduleEvaluationContext):
        usersnap: UsersnapResource = getattr(context.resources, usersnap_key)
        if usersnap.credentials() is None:
            return dg.SkipReason(usersnap.disconnected_reason())
        return dg.RunRequest()

    return daily_assignees
