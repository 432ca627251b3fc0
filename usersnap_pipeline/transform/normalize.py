"""Feedback items (the API's dicts) → rows of the data point tables. Pure: no I/O, no Dagster.

One item is one data point. Its non-empty form inputs, in form order, are typed fields, each also
a message of the data point's thread; labels and flattened custom data are rows of their own. An
item whose identity (``feedback_id``, ``created_at``) is unusable is rejected with a reason; every
other oddity (a missing or null field, a number where text is expected, an object where a list is
expected) degrades to NULL or to text, so one bad field never loses the rest of the item.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, NamedTuple

from .links import safe_link

TITLE_LABEL = re.compile(r"^\s*(title|subject|summary|headline)\s*$", re.IGNORECASE)
NPS_LABEL = re.compile(r"recommend|likely|nps", re.IGNORECASE)
THUMBS_LABEL = re.compile(r"helpful|thumb|useful", re.IGNORECASE)
SMILEY_LABEL = re.compile(r"smiley|emoji|mood|feel", re.IGNORECASE)
# The API sends a rating as a string ("value": "4"); a bare number typed into a text input is one too.
NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*")
YES_NO = {"true": True, "false": False}
TITLE_LENGTH = 120
MIN_CUT_TITLE = 20
# What text inputs are compared by when one repeats the start of another: case, spacing and the
# punctuation a form adds or cuts ("Login broken…" / "login broken, since monday") do not count.
_NOT_COMPARED = re.compile(r"[\s.,;:!?…\-–—'\"()\[\]]+")
# Why an item the API listed under a day it is not dated on (served in another day's window) is rejected there.
DATED_ELSEWHERE = "created_at is not on the day the API listed it under (served in a window it is not dated in)"
# What json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) writes, without building an
# encoder per call (one per custom data value).
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


class DataPoint(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    feedback_number: int | None
    created_at: datetime
    updated_at: datetime | None
    status: str | None
    priority: str | None
    rating: float | None
    rating_scale: str | None
    submitter_email: str | None
    assignee_id: str | None
    title: str | None
    text: str
    source_url: str | None
    screenshot_url: str | None
    page_url: str | None
    browser: str | None
    os: str | None
    country: str | None
    city: str | None
    is_demo: bool
    deleted_at: datetime | None = None  # the raw item's: deleted in Usersnap since it was imported


class Field(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    position: int
    label: str
    field_type: str  # text | number | boolean
    text_value: str | None
    number_value: float | None
    boolean_value: bool | None
    # The input as its thread shows it, where that is not text_value: a number or yes/no written out.
    # The thread (the data_point_messages view) is read from the fields: each text is stored once.
    message_text: str | None


class Label(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    label_id: str
    identifier: str | None
    name: str | None
    color: str | None


class CustomDatum(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    key: str
    value_json: str


class Rejected(NamedTuple):
    feedback_id: str
    project_id: str
    partition_date: date
    reason: str


class RejectedItem(ValueError):
    """The item cannot become a data point; the message is the reason recorded for it."""


@dataclass
class NormalizedBatch:
    data_points: list[DataPoint] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    custom_data: list[CustomDatum] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    drift: Counter = field(default_factory=Counter)  # "labels: dict instead of list" -> items


def normalize_items(items: list[tuple[str, Any]], *, project_id: str, partition_date: date) -> NormalizedBatch:
    """Normalize raw items of one (project, day); ``items`` are (raw key, item) pairs."""
    batch = NormalizedBatch()
    for raw_key, item in items:
        try:
            _normalize_into(batch, item, project_id, partition_date)
        except RejectedItem as exc:
            batch.rejected.append(Rejected(raw_key, project_id, partition_date, str(exc)))
        except RecursionError:  # one hostile item never fails its partition
            batch.rejected.append(Rejected(raw_key, project_id, partition_date,
                                           "the item is nested too deeply to read; the raw layer keeps it as sent"))
    return batch


def normalize_item(item: Any, *, project_id: str, partition_date: date) -> NormalizedBatch:
    """One item's rows; raises RejectedItem when it cannot become a data point."""
    batch = NormalizedBatch()
    _normalize_into(batch, item, project_id, partition_date)
    return batch


def _normalize_into(batch: NormalizedBatch, item: Any, project_id: str, partition_date: date) -> None:
    # Appends to the batch only once the item is known to be usable: a rejected item adds nothing.
    if item is None:
        raise RejectedItem("the item is null, or nested too deeply to read; the raw layer keeps it as sent")
    if not isinstance(item, dict):
        raise RejectedItem(f"the item is a {type(item).__name__}, not an object")
    feedback_id = item.get("feedback_id")
    if not isinstance(feedback_id, str) or not feedback_id.strip():
        raise RejectedItem("feedback_id is missing or not a string")
    created_at = parse_timestamp(item.get("created_at"))
    if created_at is None:
        raise RejectedItem(f"created_at {item.get('created_at')!r} is missing or not an ISO 8601 timestamp")
    if created_at.date() != partition_date:
        # The API listed it among another day's items (a window it is not dated in): a data point on a day
        # it is not dated on would be counted there, and missed where it belongs.
        raise RejectedItem(DATED_ELSEWHERE)
    key = (feedback_id, project_id, partition_date)
    _count_drift(batch.drift, item)

    inputs = _ordered_inputs(item.get("ordered_inputs"))
    fields, texts, rating, rating_scale, title = [], [], None, None, None
    for position, entry in inputs:
        label = clean_text(entry.get("label")) or f"Field {position + 1}"
        kind, text_value, number_value, boolean_value = _typed_value(entry)
        if kind is None:
            continue  # an empty input is not part of the conversation
        if kind == "text":
            fields.append(Field(*key, position, label, kind, text_value, None, None, None))
            texts.append(text_value)
            if title is None and TITLE_LABEL.match(label):
                title = text_value
            continue
        fields.append(Field(*key, position, label, kind, None, number_value, boolean_value,
                            _written_out(number_value, boolean_value)))
        if kind == "number" and rating is None:
            rating_scale = _rating_scale(label, number_value)
            if rating_scale is not None:
                rating = number_value

    if title is None and texts:
        title = texts[0].split("\n", 1)[0][:TITLE_LENGTH]
    client = item.get("client")
    if not isinstance(client, dict):
        client = {}
    screenshot = item.get("screenshot")
    # Positional, in DataPoint's field order: keyword arguments cost a third of building the row.
    data_point = DataPoint(
        *key,
        _feedback_number(item.get("feedback_number"), batch.drift),
        created_at,
        parse_timestamp(item.get("updated_at")),
        clean_text(item.get("status_type")),
        clean_text(item.get("priority")),
        rating,
        rating_scale,
        clean_text(item.get("email")),
        clean_text(item.get("assignee_id")),
        title,
        "\n".join(_without_repeated_starts(texts)),
        _link(item.get("public_link"), "public_link", batch.drift),
        _link(screenshot.get("annotated_image_url"), "screenshot.annotated_image_url", batch.drift)
        if isinstance(screenshot, dict) else None,
        clean_text(client.get("url")),
        clean_text(client.get("browser_full_name") or client.get("browser_name")),
        clean_text(client.get("browser_os")),
        clean_text(client.get("country_name")),
        clean_text(client.get("city_name")),
        item.get("is_demo") is True,
    )
    labels = _labels(key, item.get("labels"))
    custom_data = [CustomDatum(*key, path, value) for path, value in flatten_custom_data(item.get("custom_data"))]
    batch.data_points.append(data_point)
    batch.fields.extend(fields)
    batch.labels.extend(labels)
    batch.custom_data.extend(custom_data)


# The published item's fields and their JSON types (spec/usersnap-api-v0.1.schema.json); null is allowed.
PUBLISHED_TYPES: dict[str, tuple[type, ...]] = {
    "feedback_id": (str,), "feedback_number": (int,), "public_link": (str,), "project_id": (str,),
    "created_at": (str,), "updated_at": (str,), "status_type": (str,), "priority": (str,), "assignee_id": (str,),
    "is_demo": (bool,), "email": (str,), "client": (dict,), "custom_data": (dict,), "screenshot": (dict,),
    "screen_recording": (dict,), "ordered_inputs": (list,), "labels": (list,),
}
_PUBLISHED = frozenset(PUBLISHED_TYPES)
_JSON_NAMES = {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean"}


def _count_drift(drift: Counter, item: dict[str, Any]) -> None:
    """Count what departs from the published shape: a field of another type (its valid parts are still read,
    the rest is lost but for the raw layer), and fields the spec does not have."""
    for name, kinds in PUBLISHED_TYPES.items():
        value = item.get(name)
        if value is not None and type(value) not in kinds:
            drift[f"{name}: {_JSON_NAMES.get(type(value), type(value).__name__)} instead of "
                  f"{_JSON_NAMES[kinds[0]]}"] += 1
    if not _PUBLISHED.issuperset(item):
        for name in sorted(set(item) - _PUBLISHED):
            drift[f"new field: {name}"] += 1


def _link(value: Any, name: str, drift: Counter) -> str | None:
    """A link from the item, only if it is safe to render (https); any other is dropped and counted."""
    text = clean_text(value)
    if text is None:
        return None
    link = safe_link(text)
    if link is None:
        drift[f"{name}: not an https link (dropped)"] += 1
    return link


def _feedback_number(value: Any, drift: Counter) -> int | None:
    number = _as_int(value)
    if number is None and type(value) is int:  # the type is right (no drift counted for it), the size is not
        drift["feedback_number: outside the 64-bit integer range (dropped)"] += 1
    return number


def parse_timestamp(value: Any) -> datetime | None:
    if type(value) is not str:
        return None
    try:
        # Python 3.11 reads the API's form ("...T03:52:51.242475Z") as it is: no copies of the text.
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is timezone.utc:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00-01:00 or 0001-01-01T00:30+01:00: no UTC instant a datetime holds
        return None


def clean_text(value: Any) -> str | None:
    """Text safe for any database: NUL removed, lone surrogates replaced; non-text values as text."""
    if type(value) is not str:  # most values are: one check for them
        if value is None:
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            value = _JSON.encode(value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():  # only non-ASCII text can hold a lone surrogate
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value if value and not value.isspace() else None


def flatten_custom_data(data: Any) -> list[tuple[str, str]]:
    """Nested custom data as (path, JSON value) pairs; path segments are joined with ``.``
    (a ``.`` or ``\\`` inside a key is escaped with ``\\``). Lists and scalars are leaves.

    Bounded for any input: below ``MAX_CUSTOM_DATA_DEPTH`` levels a node is one leaf, ``DEEPER``; a path
    longer than ``MAX_KEY_LENGTH`` is cut and given a hash of the whole (see :func:`bounded_key`).
    The raw layer keeps the item as sent."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return [("$", _json(data))]
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, node: dict[str, Any], depth: int) -> None:
        if not node and prefix:
            rows.append((bounded_key(prefix), "{}"))
        for raw_key, value in node.items():
            segment = clean_text(raw_key) or ""
            segment = segment.replace("\\", "\\\\").replace(".", "\\.")
            path = f"{prefix}.{segment}" if prefix else segment
            if isinstance(value, dict) and depth >= MAX_CUSTOM_DATA_DEPTH:
                rows.append((bounded_key(path), DEEPER))
            elif isinstance(value, dict):
                walk(path, value, depth + 1)
            else:
                rows.append((bounded_key(path), _json(value)))

    walk("", data, 1)
    # Keys that differ only in what clean_text removes ("" and "\r", "a" and "a\x00") meet on one path,
    # the table's key: the first keeps it (the raw layer keeps them all).
    unique: dict[str, str] = {}
    for path, value in rows:
        unique.setdefault(path, value)
    return list(unique.items())


def _json(value: Any) -> str:
    kind = type(value)
    # What the encoder writes for the scalars custom data mostly holds, without its Python-level set-up.
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return clean_text(_JSON.encode(value)) or "null"


def _ordered_inputs(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    entries = [e for e in value if isinstance(e, dict)]
    orders = [entry.get("order") for entry in entries]
    if all(type(order) is int for order in orders) and orders == sorted(orders):
        return list(enumerate(entries))  # as published: already in order, which the sort would keep
    ranked = sorted(enumerate(entries), key=lambda pair: (_order_of(pair[1], pair[0]), pair[0]))
    return [(position, entry) for position, (_, entry) in enumerate(ranked)]


def _order_of(entry: dict[str, Any], index: int) -> float:
    order = entry.get("order")
    return float(order) if isinstance(order, (int, float)) and not isinstance(order, bool) else float(index)


def _typed_value(entry: dict[str, Any]) -> tuple[str | None, str | None, float | None, bool | None]:
    """(field_type, text, number, boolean) of an input; field_type None when it is empty.

    Read as published (a yes/no in ``boolean_value``; text in ``text_value``; a rating's number as a
    string in ``value``) and leniently beyond it: a JSON number or boolean in ``value``, a bare number
    in ``text_value``, text only in ``value``."""
    boolean_value = entry.get("boolean_value")
    if isinstance(boolean_value, bool):
        return "boolean", None, None, boolean_value
    text_value = entry.get("text_value")
    no_text = text_value is None or (type(text_value) is str and not text_value.strip())
    answer = entry.get("value") if no_text else text_value
    if type(answer) is str:
        if NUMBER.fullmatch(answer):
            return "number", None, float(answer), None
        if no_text and answer.strip().lower() in YES_NO:
            return "boolean", None, None, YES_NO[answer.strip().lower()]
    elif isinstance(answer, bool):
        return "boolean", None, None, answer
    elif isinstance(answer, (int, float)):
        return ("number", None, float(answer), None) if answer == answer else (None, None, None, None)
    if isinstance(answer, (str, list, dict)):
        text = clean_text(answer)  # None when nothing readable is left: not text then
        if text is not None and text not in ("[]", "{}"):
            return "text", text, None, None
    return None, None, None, None


def _written_out(number: float | None, boolean: bool | None) -> str:
    """A number or yes/no input as a message of the thread."""
    if number is None:
        return "Yes" if boolean else "No"
    return str(int(number)) if number.is_integer() else str(number)


def _rating_scale(label: str, value: float) -> str | None:
    """The scale of a rating input, from its label and its value; None when the number is on no
    rating scale (a count or an amount typed into the form is a number field, not a rating)."""
    if not (-1 <= value <= 10 and (value * 2).is_integer()):
        return None
    if value == -1 or (THUMBS_LABEL.search(label) and value in (0, 1)):
        return "thumbs"
    if NPS_LABEL.search(label) or value > 5 or value == 0:
        return "nps" if value.is_integer() and value >= 0 else None
    return "smileys" if SMILEY_LABEL.search(label) else "five_star"


def _without_repeated_starts(texts: list[str]) -> list[str]:
    """The text inputs less any that only repeats the start of another (a title the form prefilled
    from the comment, or a comment that begins with its title): themes and quotes read it once."""
    if len(texts) < 2:
        return texts
    keys = _comparison_keys(texts)
    return [text for index, (text, key) in enumerate(zip(texts, keys, strict=True))
            if not key or not any(_starts(other, key) and (len(other) > len(key) or other_index < index)
                                  for other_index, other in enumerate(keys) if other_index != index)]


def _comparison_key(text: str) -> str:
    return _NOT_COMPARED.sub(" ", text.casefold()).strip()


def _comparison_keys(texts: list[str]) -> list[str]:
    """Each text's comparison key; the longest text's only as far as comparisons with the others read it.

    The key of a text's start is a start of the text's key, so the longest text's is taken from its first
    characters when that already reaches past every other key (and its boundary character): then no other
    key can be a start of more of it, nor it a start of another. A pasted log of 30 kB was half of this
    function's time over an import."""
    longest = max(range(len(texts)), key=lambda index: len(texts[index]))
    keys = [_comparison_key(text) if index != longest else "" for index, text in enumerate(texts)]
    reach = max(map(len, keys)) + 1
    key = _comparison_key(texts[longest][:4 * reach + 64])
    keys[longest] = key if len(key) > reach else _comparison_key(texts[longest])
    return keys


def _starts(text: str, start: str) -> bool:
    # At a word boundary, or anywhere for a long start: forms cut a prefilled title mid-word.
    return text.startswith(start) and (len(start) >= MIN_CUT_TITLE or text[len(start):len(start) + 1] in ("", " "))


_BIGINT = range(-2**63, 2**63)  # what the warehouse's integer columns hold


def _as_int(value: Any) -> int | None:
    """An integer the warehouse can store, from an int, an integral float or digits; None otherwise (a value
    past BIGINT would fail the whole day's write)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 21:
        value = int(value.strip())
    return value if isinstance(value, int) and value in _BIGINT else None


MAX_KEY_LENGTH = 500  # characters of a custom-data path or a label id: well inside an index entry's limit
MAX_CUSTOM_DATA_DEPTH = 32
DEEPER = '"(nested deeper than 32 levels: see raw_feedback)"'


def bounded_key(key: str) -> str:
    """``key``, or, when longer than MAX_KEY_LENGTH, its start and a hash of the whole: still unique, and
    short enough for a database index (PostgreSQL refuses an index entry over about 2.7 kB)."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{key[:MAX_KEY_LENGTH - 20]}…#{digest}"


def _labels(key: tuple[str, str, date], value: Any) -> list[Label]:
    if not isinstance(value, list):
        return []
    seen: dict[str, Label] = {}
    for entry in value:
        if not isinstance(entry, dict):
            continue
        label_id = clean_text(entry.get("company_label_id") or entry.get("label_id") or entry.get("identifier"))
        label_id = None if label_id is None else bounded_key(label_id)
        if label_id is None or label_id in seen:
            continue  # a label applied twice is still one label
        seen[label_id] = Label(*key, label_id, clean_text(entry.get("identifier")), clean_text(entry.get("name")),
                               clean_text(entry.get("color")))
    return list(seen.values())
