"""The projects and who feedback can be assigned to, so project and assignee ids read as names."""

from collections.abc import Sequence

import dagster as dg

from ..steps.projects import resolve_projects
from ..transform.assignees import assignee_rows, project_row
from ..warehouse.schema import assignees as assignees_table
from ..warehouse.schema import projects as projects_table
from .metadata import table_metadata
from .naming import AccountNames
from .resources import UsersnapResource, WarehouseResource

ASSIGNEES_JOB = "usersnap_assignees"


def build_assignees_asset(configured_projects: Sequence[str], names: AccountNames, *, usersnap: UsersnapResource,
                          warehouse: WarehouseResource):
    common = {"group_name": names.projects_group, "kinds": {"python", "sql"}, "tags": names.tags}

    @dg.multi_asset(specs=[
        dg.AssetSpec(names.asset("projects"), **common, metadata=table_metadata(projects_table),
                     description="The imported projects with their names (table projects): the report's "
                                 "per-project sections read them."),
        dg.AssetSpec(names.asset("assignees"), **common, metadata=table_metadata(assignees_table),
                     description="Assignee users per project (table assignees); joins data_points.assignee_id to "
                                 "a name."),
    ], name=names("projects_and_assignees"))
    def projects_and_assignees(context: dg.AssetExecutionContext):
        per_project = {}
        with usersnap.client() as client, warehouse.open() as store:
            visible = {p["project_id"]: p for p in client.list_projects()}
            resolved = resolve_projects(client, configured_projects)
            store.replace_rows({projects_table: [project_row(visible[p]) for p in resolved]}, whole=[projects_table])
            for project_id in resolved:
                # The assignees endpoint takes the project's api_key, not its id.
                rows = assignee_rows(project_id, client.list_assignees(visible[project_id]["api_key"]))
                store.replace_project_rows(assignees_table, project_id, rows)
                per_project[project_id] = len(rows)
        yield dg.MaterializeResult(asset_key=names.asset("projects"), metadata={
            "dagster/row_count": len(resolved),
            "names": dg.MetadataValue.json({p: visible[p].get("name") for p in resolved})})
        yield dg.MaterializeResult(asset_key=names.asset("assignees"), metadata={
            "dagster/row_count": sum(per_project.values()), "per_project": dg.MetadataValue.json(per_project)})

    return projects_and_assignees


def build_assignees_schedule(job, names: AccountNames, *, cron: str, status: str,
                             usersnap: UsersnapResource) -> dg.ScheduleDefinition:
    @dg.schedule(name=names("usersnap_daily_assignees"), cron_schedule=cron, execution_timezone="UTC",
                 job=job, default_status=dg.DefaultScheduleStatus(status.upper()),
                 description="Refresh the projects and assignees tables once a day.")
    def daily_assignees(context: dg.ScheduleEvaluationContext):
        if usersnap.credentials() is None:
            return dg.SkipReason(usersnap.disconnected_reason())
        return dg.RunRequest()

    return daily_assignees
