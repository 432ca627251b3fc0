"""The emulator's feedback store: items per project, kept in sorted indexes so that a page costs
O(log n + limit) at any size, with the published query semantics (filters, order, cursors).

Cursor semantics follow keyset pagination: ``after=X`` means "items that come after X's *current*
position in this order". An item edited while a crawl reads the ``updated_at`` order therefore moves
and can be skipped or repeated, exactly the trap the spec warns about; ``created_at`` order is stable.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .data import Dataset, ItemFactory, fmt_time, parse_time

FILTER_TYPES = ("assignee", "created_at", "email", "feedback_number", "nps", "one_to_five", "state", "thumb")
OPERATORS = ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "like", "ilike")
ORDER_TYPES = ("created_at", "rating", "updated_at", "likes")
_LAST = "\U0010ffff"  # sorts after every feedback_id: (t, _LAST) is "after everything at instant t"


class CursorError(ValueError):
    """``after``/``before`` names no item of the project (it may have been deleted since)."""


class QueryError(ValueError):
    """A filter body or cursor the API would refuse with 400."""


@dataclass(frozen=True)
class Query:
    filters: tuple[tuple[str, str, Any], ...] = ()
    order_by: str = "updated_at"
    descending: bool = True

    @classmethod
    def from_body(cls, body: Any) -> Query:
        if not isinstance(body, dict):
            raise QueryError("the filter body must be a JSON object")
        order = body.get("order_by") or {}
        if not isinstance(order, dict):
            raise QueryError("order_by must be an object")
        order_type = order.get("order_by_type", "updated_at")
        direction = order.get("direction", "desc")
        if order_type not in ORDER_TYPES:
            raise QueryError(f"order_by_type must be one of {', '.join(ORDER_TYPES)}")
        if direction not in ("asc", "desc"):
            raise QueryError("direction must be asc or desc")
        query = body.get("query") or []
        if not isinstance(query, list):
            raise QueryError("query must be a list of filters")
        filters = []
        for entry in query:
            if not isinstance(entry, dict):
                raise QueryError("each filter must be an object")
            ftype, op, value = entry.get("filter_type"), entry.get("operator"), entry.get("value")
            if ftype not in FILTER_TYPES:
                raise QueryError(f"filter_type must be one of {', '.join(FILTER_TYPES)}")
            if op not in OPERATORS:
                raise QueryError(f"operator must be one of {', '.join(OPERATORS)}")
            if ftype == "created_at":
                try:
                    value = fmt_time(parse_time(str(value)))
                except ValueError as exc:
                    raise QueryError(f"created_at value {value!r} is not an ISO 8601 timestamp") from exc
            filters.append((ftype, op, value))
        return cls(tuple(filters), order_type, direction == "desc")


@dataclass(frozen=True)
class PageResult:
    items: list[dict[str, Any]]
    has_more: bool
    keys: list[str]  # the store's key of each item: its feedback_id, or an internal one for a malformed item


class FeedbackStore:
    """Thread-safe store of projects and their feedback.

    Stored items are never mutated: an edit replaces the item's dict (copy-on-write). So a page can
    hand out the stored dicts themselves and be serialized outside the lock without a deep copy,
    which is most of what a page would otherwise cost. Callers treat page items as read-only.
    """

    def __init__(self, dataset: Dataset, *, seed: int = 0, clock: Callable[[], datetime] | None = None):
        self._lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._rng = random.Random(seed)
        self.projects = {p["project_id"]: dict(p) for p in dataset.projects}
        self.api_keys = {p["api_key"]: p["project_id"] for p in dataset.projects}
        self.assignees = dataset.assignees
        self.topics = dict(dataset.topics)
        self.rating_scales = dict(dataset.rating_scales)
        self.deleted_projects: set[str] = set()
        self._items: dict[str, dict[str, Any]] = {}
        # Index metadata per key, kept apart from the item so that a malformed item (no feedback_id,
        # a created_at that is not a date) can still be stored, paged and served exactly as given.
        self._meta: dict[str, tuple[str, str, str]] = {}  # key -> (project_id, created_at, updated_at)
        self._by_created: dict[str, list[tuple[str, str]]] = {pid: [] for pid in self.projects}
        self._by_updated: dict[str, list[tuple[str, str]]] = {pid: [] for pid in self.projects}
        self._next_number = {pid: 0 for pid in self.projects}
        labels = {lab["company_label_id"]: lab for item in dataset.items for lab in item.get("labels") or []}
        self._factories = {pid: ItemFactory(self._rng, p, self.assignees[pid], list(labels.values()))
                           for pid, p in self.projects.items()}
        for item in dataset.items:
            pid, key = item["project_id"], item["feedback_id"]
            self._items[key] = item
            self._meta[key] = (pid, item["created_at"], item["updated_at"])
            self._by_created[pid].append((item["created_at"], key))
            self._by_updated[pid].append((item["updated_at"], key))
            self._next_number[pid] = max(self._next_number[pid], item["feedback_number"])
        for index in (*self._by_created.values(), *self._by_updated.values()):
            index.sort()

    # -- reading ------------------------------------------------------------------------------

    def project_for(self, key: str, *, by_api_key: bool = False) -> str | None:
        return self.api_keys.get(key) if by_api_key else (key if key in self.projects else None)

    def list_projects(self) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for pid, project in self.projects.items():
                if pid in self.deleted_projects:
                    continue
                ids = [fid for _, fid in self._by_created[pid]]
                out.append({**project, "feedback_count": len(ids),
                            "open_feedback_count": sum(1 for fid in ids if isinstance(self._items[fid], dict)
                                                       and self._items[fid].get("status_type") == "open")})
            return copy.deepcopy(out)

    def items(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored item (the emulator's truth), deep-copied, in created_at order."""
        with self._lock:
            pids = [project_id] if project_id else list(self.projects)
            return [copy.deepcopy(self._items[fid]) for pid in pids for _, fid in self._by_created[pid]]

    def item(self, feedback_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._items[feedback_id])

    def page(self, project_id: str, query: Query, *, limit: int, after: str | None = None,
             before: str | None = None) -> PageResult:
        with self._lock:
            if before is not None:
                preceding = list(self._walk(project_id, query, before, backwards=True, stop=limit + 1))
                has_more = len(preceding) > limit
                chosen = list(reversed(preceding[:limit]))
            else:
                following = list(self._walk(project_id, query, after, backwards=False, stop=limit + 1))
                has_more = len(following) > limit
                chosen = following[:limit]
            return PageResult([self._items[key] for key in chosen], has_more, chosen)

    def count(self, project_id: str, query: Query) -> int:
        # "ordering only matters when the pagination is passed": count on the created_at index,
        # where a created_at window is two bisections.
        query = dataclasses.replace(query, order_by="created_at")
        with self._lock:
            index, lo, hi, rest = self._index_and_bounds(project_id, query)
            if not rest:
                return hi - lo
            return sum(1 for i in range(lo, hi) if self._matches(index[i][1], rest))

    def _walk(self, project_id: str, query: Query, cursor: str | None, *, backwards: bool,
              stop: int) -> Iterator[str]:
        index, lo, hi, rest = self._index_and_bounds(project_id, query)
        # Positions in the index run ascending; a descending order walks them from the top.
        forward = not query.descending
        if cursor is None:
            positions = range(lo, hi) if forward else range(hi - 1, lo - 1, -1)
        else:
            key = self._sort_key(cursor, project_id, query)
            if forward != backwards:  # walking up the index from the cursor
                positions = range(max(lo, bisect.bisect_right(index, key)), hi)
            else:
                positions = range(min(hi, bisect.bisect_left(index, key)) - 1, lo - 1, -1)
        found = 0
        for position in positions:
            key = index[position][1]
            if self._matches(key, rest):
                yield key
                found += 1
                if found >= stop:
                    return

    def _index_and_bounds(self, project_id: str, query: Query):
        if query.order_by == "created_at":
            index = self._by_created[project_id]
        elif query.order_by == "updated_at":
            index = self._by_updated[project_id]
        else:  # rating / likes: rare orders, sorted on demand
            index = sorted((self._order_value(self._items[fid], query.order_by), fid)
                           for _, fid in self._by_created[project_id])
        lo, hi, rest = 0, len(index), []
        for ftype, op, value in query.filters:
            if ftype == "created_at" and query.order_by == "created_at" and op in ("gt", "gte", "lt", "lte"):
                if op == "gte":
                    lo = max(lo, bisect.bisect_left(index, (value,)))
                elif op == "gt":
                    lo = max(lo, bisect.bisect_right(index, (value, _LAST)))
                elif op == "lt":
                    hi = min(hi, bisect.bisect_left(index, (value,)))
                else:
                    hi = min(hi, bisect.bisect_right(index, (value, _LAST)))
            else:
                rest.append((ftype, op, value))
        return index, lo, max(lo, hi), rest

    def _sort_key(self, cursor: str, project_id: str, query: Query) -> tuple[Any, str]:
        meta = self._meta.get(cursor)
        if meta is None or meta[0] != project_id:
            raise CursorError(f"cursor {cursor!r} is not a feedback_id of this project")
        if query.order_by == "created_at":
            return (meta[1], cursor)
        if query.order_by == "updated_at":
            return (meta[2], cursor)
        return (self._order_value(self._items[cursor], query.order_by), cursor)

    def _order_value(self, item: dict[str, Any], order_by: str) -> float:
        if order_by == "rating":
            rating = self._rating(item)
            return rating if rating is not None else float("-inf")
        return float(item.get("likes") or 0)

    def _rating(self, item: dict[str, Any]) -> float | None:
        # A rating input: no text, no yes/no, its number as a string in `value` (as published).
        for entry in item.get("ordered_inputs") or []:
            if isinstance(entry, dict) and entry.get("text_value") is None and entry.get("boolean_value") is None:
                try:
                    return float(entry.get("value"))
                except (TypeError, ValueError):
                    continue
        return None

    def _matches(self, key: str, filters: list[tuple[str, str, Any]]) -> bool:
        item = self._items[key]
        for ftype, op, value in filters:
            if ftype == "created_at":
                actual: Any = self._meta[key][1]
            elif ftype == "state":
                actual = item.get("status_type")
            elif ftype == "email":
                actual = item.get("email")
            elif ftype == "assignee":
                actual = item.get("assignee_id")
            elif ftype == "feedback_number":
                actual = item.get("feedback_number")
            else:  # nps / one_to_five / thumb: the rating of that scale, if the item has one
                if self.rating_scales.get(key) != ftype:
                    return False
                actual = self._rating(item)
            if not _compare(actual, op, value, numeric=ftype in ("feedback_number", "nps", "one_to_five", "thumb")):
                return False
        return True

    # -- writing ------------------------------------------------------------------------------

    def _now_after(self, previous: str) -> str:
        now = self._clock()
        floor = parse_time(previous) + timedelta(microseconds=1)
        return fmt_time(max(now, floor))

    def edit(self, feedback_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change fields of an item as a Usersnap user would; ``updated_at`` moves to now."""
        with self._lock:
            item = {**self._items[feedback_id], **copy.deepcopy(changes)}
            pid, created, updated = self._meta[feedback_id]
            old_key = (updated, feedback_id)
            item["updated_at"] = self._now_after(updated)
            self._items[feedback_id] = item
            self._meta[feedback_id] = (pid, created, item["updated_at"])
            index = self._by_updated[pid]
            del index[bisect.bisect_left(index, old_key)]
            bisect.insort(index, (item["updated_at"], feedback_id))
            return copy.deepcopy(item)

    def delete(self, feedback_id: str) -> None:
        """Delete an item, as a Usersnap user can: it is no longer listed, counted or usable as a cursor."""
        with self._lock:
            pid, created, updated = self._meta.pop(feedback_id)
            del self._items[feedback_id]
            for index, key in ((self._by_created[pid], (created, feedback_id)),
                               (self._by_updated[pid], (updated, feedback_id))):
                del index[bisect.bisect_left(index, key)]

    def edit_random(self) -> dict[str, Any] | None:
        """A live edit of a random item: status, priority and labels change, as triage does."""
        with self._lock:
            if not self._items:
                return None
            pid = self._rng.choice(list(self.projects))
            if not self._by_created[pid]:
                return None
            _, fid = self._rng.choice(self._by_created[pid])
            if not isinstance(self._items[fid], dict) or self._items[fid].get("feedback_id") != fid:
                return None  # leave injected malformed items as they are
            status = self._rng.choice(["open", "in_progress", "done", "wont_fix"])
            return self.edit(fid, {"status_type": status,
                                   "priority": self._rng.choice(["high", None])})

    def submit(self, project_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Store a new submission. Known item fields in ``payload`` override generated ones."""
        if "ordered_inputs" in payload:
            _check_published_inputs(payload["ordered_inputs"])
        with self._lock:
            self._next_number[project_id] += 1
            created = self._now_after(self._latest_created(project_id))
            item, topic, scale = self._factories[project_id].make(parse_time(created), self._next_number[project_id])
            while item["feedback_id"] in self._meta:  # seeded like the dataset, the live rng can replay its ids
                item, topic, scale = self._factories[project_id].make(parse_time(created), self._next_number[project_id])
            item["updated_at"] = created
            item["labels"] = []
            item["status_type"] = "open"
            for key in ("email", "ordered_inputs", "custom_data", "client", "labels", "is_demo", "priority"):
                if key in payload:
                    item[key] = copy.deepcopy(payload[key])
            fid = item["feedback_id"]
            self._items[fid] = item
            self._meta[fid] = (project_id, item["created_at"], item["updated_at"])
            bisect.insort(self._by_created[project_id], (item["created_at"], fid))
            bisect.insort(self._by_updated[project_id], (item["updated_at"], fid))
            self.topics[fid] = topic
            if scale and "ordered_inputs" not in payload:
                self.rating_scales[fid] = scale
            return copy.deepcopy(item)

    def submit_random(self) -> dict[str, Any]:
        with self._lock:
            return self.submit(self._rng.choice(list(self.projects)), {})

    def inject(self, project_id: str, item: Any, *, created_at: datetime, key: str | None = None) -> str:
        """Store an item exactly as given, however malformed (for bad-input tests). It is indexed
        and filtered by ``created_at`` (the moment it really was submitted) whatever its own fields say."""
        with self._lock:
            key = key or (item.get("feedback_id") if isinstance(item, dict) and isinstance(item.get("feedback_id"), str)
                          else f"malformed-{len(self._meta)}")
            stamp = fmt_time(created_at)
            self._items[key] = item
            self._meta[key] = (project_id, stamp, stamp)
            bisect.insort(self._by_created[project_id], (stamp, key))
            bisect.insort(self._by_updated[project_id], (stamp, key))
            return key

    def _latest_created(self, project_id: str) -> str:
        index = self._by_created[project_id]
        return index[-1][0] if index else fmt_time(self._clock() - timedelta(seconds=1))


_INPUT_TYPES = {"order": (int,), "label": (str,), "boolean_value": (bool, type(None)),
                "text_value": (str, type(None)), "value": (str, type(None))}


def _check_published_inputs(entries: Any) -> None:
    """A submission's form inputs must have the published types, or the API would serve what the spec
    says it never does (a number in ``value``)."""
    if not isinstance(entries, list):
        raise QueryError("ordered_inputs must be a list")
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != set(_INPUT_TYPES):
            raise QueryError(f"each input must have exactly the keys {', '.join(_INPUT_TYPES)}")
        for key, types in _INPUT_TYPES.items():
            if not isinstance(entry[key], types) or (key == "order" and isinstance(entry[key], bool)):
                raise QueryError(f"input {key} must be {' or '.join(t.__name__ for t in types)}")


def _compare(actual: Any, op: str, value: Any, *, numeric: bool) -> bool:
    if op in ("in", "not_in"):
        options = value if isinstance(value, list) else str(value).split(",")
        options = [str(o).strip() for o in options]
        found = actual is not None and str(actual) in options
        return found if op == "in" else not found
    if op in ("like", "ilike"):
        if actual is None:
            return False
        pattern = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(value))
        return re.fullmatch(pattern, str(actual), re.IGNORECASE if op == "ilike" else 0) is not None
    if numeric:
        try:
            target: Any = float(value)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"value {value!r} must be a number") from exc
        actual = float(actual) if isinstance(actual, (int, float)) else None
    else:
        target = str(value)
    if op == "eq":
        return actual == target
    if op == "neq":
        return actual != target
    if actual is None:
        return False
    return {"gt": actual > target, "gte": actual >= target, "lt": actual < target, "lte": actual <= target}[op]
