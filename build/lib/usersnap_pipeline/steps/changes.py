"""Detect new and edited feedback between imports, and plan the fewest runs that import it.

The list endpoint returns feedback newest ``updated_at`` first. Per project we keep a high-water
mark (the newest ``updated_at`` seen) and the ``(feedback_id, updated_at)`` pairs seen in an
overlap window just below it. A scan reads pages only until it passes ``hwm - overlap``: an idle
project costs one request.

Why no edit is lost:
- An item edited *while* a scan pages through the list jumps to the top, behind the cursor, so this
  scan may miss it. Its new ``updated_at`` is later than the first page this scan read, hence later
  than the new high-water mark: the next scan sees it.
- An edit committed late with a timestamp slightly in the past (clock skew, slow transaction) still
  falls inside the overlap window, where any pair not seen before counts as a change.
- The cursor holding the mark is saved only when the sensor's tick succeeds, after its run requests
  are submitted; a failed tick re-scans from the old mark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..transform.normalize import parse_timestamp
from ..usersnap import Page, UsersnapClient, api_timestamp
from ..warehouse import Warehouse

DEFAULT_OVERLAP = timedelta(minutes=5)
PROJECT_LIST_REFRESH = timedelta(hours=1)
CURSOR_VERSION = 1


@dataclass
class Watermark:
    hwm: str | None = None  # newest updated_at seen, as the API wrote it
    recent: dict[str, str] = field(default_factory=dict)  # feedback_id -> updated_at, inside the overlap


@dataclass
class ChangeCursor:
    projects: dict[str, Watermark] = field(default_factory=dict)
    # When no project is configured ("every project the key can see"), the visible list is cached
    # here and refreshed now and then, so an idle tick still costs one request per project.
    visible: list[str] | None = None
    visible_at: str | None = None

    def to_json(self) -> str:
        return json.dumps({"v": CURSOR_VERSION, "visible": self.visible, "visible_at": self.visible_at,
                           "projects": {pid: {"hwm": mark.hwm, "recent": mark.recent}
                                        for pid, mark in sorted(self.projects.items())}}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> ChangeCursor:
        if not text:
            return cls()
        data = json.loads(text)
        if data.get("v") != CURSOR_VERSION:
            return cls()
        return cls({pid: Watermark(m.get("hwm"), dict(m.get("recent") or {}))
                    for pid, m in (data.get("projects") or {}).items()},
                   data.get("visible"), data.get("visible_at"))

    def visible_projects_due(self, now: datetime, every: timedelta = PROJECT_LIST_REFRESH) -> bool:
        listed = parse_timestamp(self.visible_at) if self.visible_at else None
        return self.visible is None or listed is None or now - listed >= every


@dataclass(frozen=True)
class Change:
    feedback_id: str
    created_day: date
    updated_at: str


def scan_for_changes(pages: Iterable[Page], mark: Watermark, *,
                     overlap: timedelta = DEFAULT_OVERLAP) -> tuple[list[Change], Watermark]:
    """Read pages (newest ``updated_at`` first) until below ``hwm - overlap``; return what changed.

    ``pages`` is consumed lazily: stopping early means the next page is never requested.
    """
    old_hwm = parse_timestamp(mark.hwm) if mark.hwm else None
    floor = old_hwm - overlap if old_hwm else None
    changes: list[Change] = []
    seen: dict[str, str] = {}
    newest_text, newest = mark.hwm, old_hwm
    for page in pages:
        reached_floor = False
        for item in page.items:
            if not isinstance(item, dict):
                continue
            feedback_id, updated_text = item.get("feedback_id"), item.get("updated_at")
            updated = parse_timestamp(updated_text)
            if not isinstance(feedback_id, str) or updated is None:
                continue
            if floor is not None and updated < floor:
                reached_floor = True
                break
            if newest is None or updated > newest:
                newest_text, newest = updated_text, updated
            if mark.recent.get(feedback_id) != updated_text:
                created = parse_timestamp(item.get("created_at"))
                if created is not None:
                    changes.append(Change(feedback_id, created.date(), updated_text))
            seen[feedback_id] = updated_text
        if reached_floor:
            break
    new_floor = newest - overlap if newest else None
    recent = {fid: text for fid, text in {**mark.recent, **seen}.items()
              if new_floor is None or (parse_timestamp(text) or new_floor) >= new_floor}
    return changes, Watermark(newest_text, recent)


def newest_mark(pages: Iterable[Page]) -> Watermark:
    """A starting mark for a project with nothing to compare yet: its newest item (one page)."""
    for page in pages:
        stamps = [(parse_timestamp(i.get("updated_at")), i.get("updated_at")) for i in page.items
                  if isinstance(i, dict) and parse_timestamp(i.get("updated_at"))]
        return Watermark(max(stamps)[1] if stamps else None)
    return Watermark()


@dataclass(frozen=True)
class RunPlan:
    first_day: date
    last_day: date  # inclusive
    project_ids: tuple[str, ...]


def plan_runs(changed: dict[str, set[date]], *, first_partition: date, last_partition: date,
              max_gap_days: int = 2) -> list[RunPlan]:
    """Group changed (project, day) partitions into as few contiguous-range runs as is sensible.

    Days closer than ``max_gap_days`` are merged into one range (re-importing a quiet day costs one
    request per project, cheaper than a run); each run imports only the projects that changed in it.
    Days outside the partitions (before the import-history start) are dropped.
    """
    by_day: dict[date, set[str]] = {}
    for project_id, days in changed.items():
        for day in days:
            if first_partition <= day <= last_partition:
                by_day.setdefault(day, set()).add(project_id)
    plans: list[RunPlan] = []
    current: list = []  # [first, last, projects]
    for day in sorted(by_day):
        if current and (day - current[1]).days <= max_gap_days + 1:
            current[1] = day
            current[2] |= by_day[day]
        else:
            if current:
                plans.append(RunPlan(current[0], current[1], tuple(sorted(current[2]))))
            current = [day, day, set(by_day[day])]
    if current:
        plans.append(RunPlan(current[0], current[1], tuple(sorted(current[2]))))
    return plans


def changed_partitions(changes: Sequence[Change]) -> set[date]:
    return {change.created_day for change in changes}


def detect_changes(client: UsersnapClient, warehouse: Warehouse, project_ids: Sequence[str],
                   cursor: ChangeCursor) -> tuple[dict[str, set[date]], list[str]]:
    """Scan each project from its mark in ``cursor`` (updated in place).

    Returns the changed days per project, and the projects never imported (their mark starts at
    their newest item; their whole history is for the caller to import).
    """
    changed: dict[str, set[date]] = {}
    new_projects: list[str] = []
    for project_id in project_ids:
        mark = cursor.projects.get(project_id)
        if mark is None and not warehouse.has_partitions(project_id):
            cursor.projects[project_id] = newest_mark(client.iter_feedback_pages(project_id, limit=1))
            new_projects.append(project_id)
            continue
        if mark is None:  # imported before the sensor ran: continue from what the warehouse holds
            newest = warehouse.newest_update(project_id)
            mark = Watermark(api_timestamp(newest) if newest else None)
        changes, cursor.projects[project_id] = scan_for_changes(client.iter_feedback_pages(project_id, limit=100),
                                                                mark)
        if changes:
            changed[project_id] = changed_partitions(changes)
    return changed, new_projects
