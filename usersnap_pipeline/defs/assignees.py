"""Who feedback can be assigned to, so assignee ids read as names."""

from collections.abc import Sequence

import dagster as dg

from ..steps.projects import resolve_projects
from ..transform.assignees import assignee_rows
from ..warehouse.schema import assignees as assignees_table
from .metadata import table_metadata
from .resources import DISCONNECTED, UsersnapResource, WarehouseResource, credentials_from_env

ASSIGNEES_JOB = "usersnap_assignees"


def build_assignees_asset(configured_projects: Sequence[str]):
    @dg.asset(name="assignees", group_name="usersnap", kinds={"python", "sql"}, metadata=table_metadata(assignees_table),
              description="Assignee users per project (table assignees); joins data_points.assignee_id to a name.")
    def assignees(usersnap: UsersnapResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
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


def build_assignees_schedule(job) -> dg.ScheduleDefinition:
    @dg.schedule(name="usersnap_daily_assignees", cron_schedule="15 3 * * *", execution_timezone="UTC", job=job,
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Refresh the assignees table once a day.")
    def daily_assignees(context: dg.ScheduleEvaluationContext):
        if credentials_from_env() is None:
            return dg.SkipReason(DISCONNECTED)
        return dg.RunRequest()

    return daily_assignees
