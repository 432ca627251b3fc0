"""Which projects an import covers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..usersnap import UsersnapClient, UsersnapNotFoundError

log = logging.getLogger(__name__)

MAX_PROJECT_ID = 200  # characters; Usersnap's ids are UUIDs


def resolve_projects(client: UsersnapClient, configured: Sequence[str]) -> list[str]:
    """The configured projects, checked against those the key can see; all of them if none is configured.

    An id is used as the API gives it (any characters: requests encode it), unless it cannot be one: not a
    string, empty, with control characters or over ``MAX_PROJECT_ID`` characters. Such a project is skipped,
    and named in the log."""
    visible = []
    for project in client.list_projects():
        project_id = project.get("project_id") if isinstance(project, dict) else project
        if isinstance(project_id, str) and 0 < len(project_id) <= MAX_PROJECT_ID and project_id.isprintable():
            visible.append(project_id)
        else:
            log.warning("skipping a project the API lists with an unusable id: %.100r", project_id)
    if not configured:
        return visible
    missing = [p for p in configured if p not in set(visible)]
    if missing:
        raise UsersnapNotFoundError(
            f"the key cannot see configured project(s) {', '.join(map(repr, missing))}; check the configured "
            f"projects (visible: {', '.join(map(repr, visible)) or 'none'})", call="GET /projects")
    return list(configured)


def select_projects(resolved: Sequence[str], only: Sequence[str]) -> list[str]:
    """Narrow a run to ``only`` (e.g. to backfill one newly added project), refusing strangers."""
    if not only:
        return list(resolved)
    strangers = [p for p in only if p not in resolved]
    if strangers:
        raise ValueError(f"project_ids {', '.join(strangers)} are not among the configured projects "
                         f"({', '.join(resolved)})")
    return list(only)
