"""Assignee users (the API's dicts) → rows of the assignees table. Pure."""

from __future__ import annotations

from typing import Any

from .normalize import clean_text


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
