"""Projects and assignee users (the API's dicts) → rows of the projects and assignees tables. Pure."""

from __future__ import annotations

from typing import Any

from .normalize import clean_text, parse_timestamp


def assignee_rows(project_id: str, users: list[Any]) -> list[tuple]:
    rows: dict[str, tuple] = {}
    for user in users:
        if not isinstance(user, dict):
            continue
        user_id = clean_text(user.get("user_id"))
        if user_id is None:
            continue
        first, last = clean_text(user.get("first_name")), clean_text(user.get("last_name"))
        full = " ".join(part for part in (first, last) if part) or None
        rows[user_id] = (project_id, user_id, first, last, full, clean_text(user.get("gravatar_url")))
    return list(rows.values())


def project_row(project: dict[str, Any]) -> tuple:
    is_live = project.get("is_live")
    return (project["project_id"], clean_text(project.get("name")), is_live if isinstance(is_live, bool) else None,
            parse_timestamp(project.get("created_at")), parse_timestamp(project.get("archived_at")))
