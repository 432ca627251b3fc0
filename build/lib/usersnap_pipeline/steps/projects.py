"""Which projects an import covers."""

from __future__ import annotations

from collections.abc import Sequence

from ..usersnap import UsersnapClient, UsersnapNotFoundError


def resolve_projects(client: UsersnapClient, configured: Sequence[str]) -> list[str]:
    """The configured projects, checked against those the key can see; all of them if none is configured."""
    visible = [p["project_id"] for p in client.list_projects() if isinstance(p, dict) and p.get("project_id")]
    if not configured:
        return visible
    missing = [p for p in configured if p not in set(visible)]
    if missing:
        raise UsersnapNotFoundError(
            f"the key cannot see project(s) {', '.join(missing)}; check USERSNAP_PROJECT_IDS "
            f"(visible: {', '.join(visible) or 'none'})", call="GET /projects")
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
