"""An API item → its row in the raw layer, kept as the JSON it arrived as. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

from .normalize import parse_timestamp


class RawFeedback(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    created_at: datetime | None
    updated_at: datetime | None
    fetched_at: datetime
    item_json: str
    deleted_at: datetime | None = None  # set when Usersnap stopped returning it (soft delete)


def item_json(item: Any) -> str:
    """Compact JSON text of an item, non-ASCII kept as is (a NaN, which is not JSON, becomes null)."""
    try:
        return orjson.dumps(item).decode()
    except TypeError:
        # orjson refuses lone surrogates and integers beyond 64 bits; the json module writes both
        # (a surrogate escaped) rather than lose the item.
        return json.dumps(item, ensure_ascii=True, separators=(",", ":"))


def raw_key(item: Any, text: str | None = None) -> str:
    """The key an item is stored under: its ``feedback_id``.

    An item without a usable ``feedback_id`` is keyed by a hash of its JSON, so it still has a
    stable identity to be reported (and re-normalized) by: of our own encoding, not of the text as
    sent, which a page read the slow way does not have.
    """
    key = item.get("feedback_id") if isinstance(item, dict) else None
    if isinstance(key, str) and key.strip():
        return key
    # An item too deep to read arrives as None with its text: only the text tells two apart.
    unread = item is None and text is not None
    return "sha256:" + hashlib.sha256((text if unread else item_json(item)).encode()).hexdigest()


def raw_row(item: Any, *, project_id: str, partition_date: date, fetched_at: datetime,
            text: str | None = None) -> RawFeedback:
    """Every item is kept, even one the normalizer will reject: the raw layer loses nothing.

    ``text`` is the item's JSON as the API sent it, when the client has it; else the item is encoded.
    """
    fields = item if isinstance(item, dict) else {}
    return RawFeedback(raw_key(item, text), project_id, partition_date, parse_timestamp(fields.get("created_at")),
                       parse_timestamp(fields.get("updated_at")), fetched_at,
                       item_json(item) if text is None else text)
