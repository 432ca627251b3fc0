"""HTTP client for Usersnap's REST API v0.1: one pooled session, retries, cursor pages, typed errors.

Items are passed on as the API's dicts, unknown fields included, with the JSON text each arrived as:
the raw layer keeps that text, and only the normalizer decides what a field means.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import requests
import urllib3

from ..net import AbortedError, DeadlineSession
from ..transform.links import is_loopback
from .auth import TokenMinter
from .errors import (
    UsersnapAuthError,
    UsersnapCancelledError,
    UsersnapConfigError,
    UsersnapForbiddenError,
    UsersnapNotFoundError,
    UsersnapProtocolError,
    UsersnapRequestError,
    UsersnapUnavailableError,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://platform.usersnap.com/v0.1"
MAX_PAGE_SIZE = 100
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# A whole answer (connecting, headers, body) must arrive within this many seconds, else the attempt fails and
# is retried like a 5xx: per-read timeouts alone let a peer trickling a byte at a time hold a run forever.
RESPONSE_DEADLINE = 60.0
# The most an answer may hold once decompressed: a page of 100 items is a few hundred kB, so anything near this
# is not a page (a gzip bomb, a file served by mistake); it fails the call, unretried, before memory runs out.
MAX_BODY_BYTES = 64 * 1024 * 1024
# A crawl reads at most the pages its window's item count needs, plus this slack (a page may repeat an item,
# items may be added meanwhile); past that it counts again, and stops when the count does not explain more.
PAGE_SLACK = 2
PAGES_BEFORE_COUNTING = 10  # pages a crawl reads before asking how many items to expect, when not told
RECOUNTS = 3  # times a crawl may find its window grown before it stops trusting the API's has_more
# Clocks further apart than this (the API's Date against ours) explain a refused token: mint on the API's.
CLOCK_TOLERANCE = 30.0


@dataclass(frozen=True)
class Page:
    """One page of feedback items, in the order the API returned them."""

    items: list[dict[str, Any]]
    has_more: bool
    # Each item's JSON text exactly as sent, when the page parsed on the fast path; else None.
    item_texts: list[str] | None = None


class ClientStats:
    """Counters of what a client cost, safe to share between worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.pages = 0

    def add(self, *, requests: int = 0, retries: int = 0, pages: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.pages += pages

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "pages": self.pages}


def created_at_window(start: datetime, end: datetime, *, direction: str = "asc") -> dict[str, Any]:
    """Filter body for items created in ``[start, end)``, ordered by ``created_at``.

    A ``created_at`` ordering is stable: editing an item changes its ``updated_at`` only, so a
    crawl of a history window can neither skip nor repeat an item edited while it runs.
    """
    return {
        "order_by": {"order_by_type": "created_at", "direction": direction},
        "query": [
            {"filter_type": "created_at", "operator": "gte", "value": api_timestamp(start)},
            {"filter_type": "created_at", "operator": "lt", "value": api_timestamp(end)},
        ],
    }


_ANY_JSON = msgspec.json.Decoder()
_ITEM_TEXTS = object()  # the key of a page's item texts in its data: never one of the API's own keys


class _SentItems(msgspec.Struct):
    feedbacks: list[msgspec.Raw]


class _SentPage(msgspec.Struct):
    """A page read for its items' JSON texts alone: every other field is skipped unread."""
    data: _SentItems


_SENT_PAGE = msgspec.json.Decoder(_SentPage)


def _decode_json(content: bytes) -> Any:
    """A JSON body as Python values; ValueError when it is not JSON (a truncated body).

    msgspec reads pages 1.6 times as fast as the json module and keeps integers beyond 64 bits
    exact. It refuses what json accepts and the API may still send (NaN, a lone surrogate escape,
    a number beyond float range): those bodies are read by json, as before.
    """
    try:
        return _ANY_JSON.decode(content)
    except msgspec.DecodeError:
        return json.loads(content)


def _decode_page(content: bytes) -> Any:
    """A page body as :func:`_decode_json` reads it, plus each item's JSON text as sent under
    ``data[_ITEM_TEXTS]``: the raw layer stores that text, with no second encoding of the item.

    Two passes of msgspec over the body, each in one call: the page as Python values, then the
    items' texts with the rest skipped (cutting the page into pieces first and decoding each took a
    third longer)."""
    try:
        body = _ANY_JSON.decode(content)
        texts = [bytes(item).decode() for item in _SENT_PAGE.decode(content).data.feedbacks]
    except msgspec.DecodeError:  # not a well-formed page (its ValidationError too): the generic path says what is wrong
        return _decode_json(content)
    except RecursionError:
        return _decode_page_item_by_item(content)
    data = body.get("data") if isinstance(body, dict) else None
    items = data.get("feedbacks") if isinstance(data, dict) else None
    if isinstance(items, list) and len(items) == len(texts):  # both read the last of repeated keys
        data[_ITEM_TEXTS] = texts
    return body


# JSON's structure without its contents: a string (escapes included) or one structural character.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
TOO_DEEP = None  # what an item nested beyond any decoder's reach is read as; its text is kept as sent


def _decode_page_item_by_item(content: bytes) -> Any:
    """A page holding an item nested too deeply for any decoder (a recursion limit): the page is read
    with its items cut out by a scan of its structure, then each item alone; the ones too deep are
    read as ``TOO_DEEP`` with their text, so the raw layer keeps them and the rest of the page lands."""
    spans, depth, start, in_items = [], 0, None, None
    previous = b""
    for token in _JSON_TOKEN.finditer(content):
        char = token.group()
        if char in (b"{", b"["):
            depth += 1
            if in_items is None and depth == 3 and char == b"[" and previous == b'"feedbacks"':
                in_items = token.start()
            elif in_items is not None and depth == 4 and start is None:
                start = token.start()
        elif char in (b"}", b"]"):
            depth -= 1
            if in_items is not None and depth == 3 and start is not None:
                spans.append((start, token.end()))
                start = None
            elif in_items is not None and depth == 2:
                outer = _decode_json(content[:in_items] + b"[]" + content[token.end():])
                break
        elif in_items is not None and depth == 3 and start is None and char != b",":
            spans.append((token.start(), token.end()))  # a string item
        if char != b":":
            previous = char
    else:
        raise ValueError("a page too deeply nested to read, with no feedbacks list to cut out")
    items = []
    for first, stop in spans:
        try:
            items.append(_decode_json(content[first:stop]))
        except RecursionError:
            items.append(TOO_DEEP)
    outer["data"].update({"feedbacks": items, _ITEM_TEXTS: [content[a:b].decode() for a, b in spans]})
    return outer


def api_timestamp(moment: datetime) -> str:
    """A moment in the API's own format: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate_api_url(api_url: str) -> str:
    """The API URL must be https, except on loopback (the emulator); TLS is never turned off."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsersnapConfigError(
            f"USERSNAP_API_URL {api_url!r} is not an http(s) URL; the default is {DEFAULT_API_URL}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsersnapConfigError(
            f"USERSNAP_API_URL {api_url!r} must use https (plain http is only allowed on loopback)")
    return api_url.rstrip("/")


class UsersnapClient:
    """Read (and, for demos, submit) Usersnap feedback.

    Public calls: :meth:`list_projects`, :meth:`iter_feedback_pages`, :meth:`iter_filtered_pages`,
    :meth:`count_feedback`, :meth:`count_filtered`, :meth:`list_assignees`, :meth:`submit_feedback`.

    Retries 429/500/502/503/504, connection errors and truncated or invalid JSON bodies with
    exponential backoff and full jitter, honouring ``Retry-After``. A 429 pauses every thread
    using this client, not just the one that got it. 401/403/404/other 4xx raise at once.
    """

    def __init__(
        self,
        api_url: str,
        jwt_id: str,
        jwt_secret: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        deadline: float = RESPONSE_DEADLINE,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        page_size: int = MAX_PAGE_SIZE,
        pool_size: int = 16,
        sleep=None,
    ):
        self.api_url = validate_api_url(api_url)
        self._minter = TokenMinter(jwt_id, jwt_secret)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise UsersnapConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        if max_attempts < 1:
            raise UsersnapConfigError("max_attempts must be at least 1")
        self.page_size = page_size
        self.timeout = timeout
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.stats = ClientStats()
        self._closed = threading.Event()
        self._sleep = sleep or self._wait
        self._pause_lock = threading.Lock()
        self._paused_until = 0.0
        self._session = DeadlineSession(pool_size=pool_size)
        self._session.headers["Accept"] = "application/json"
        self._session.headers["User-Agent"] = "usersnap-pipeline"
        # Proxy and CA bundle settings come from the environment, read once here: requests reads them
        # again on every request, walking the whole environment (0.3 ms per request in a Dagster run).
        self._session.proxies = requests.utils.get_environ_proxies(self.api_url)
        self._session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._session.trust_env = False

    def __repr__(self) -> str:
        return f"UsersnapClient(api_url={self.api_url!r}, jwt_id={self._minter.jwt_id!r})"

    def close(self) -> None:
        """Stop: cut every request in flight, wake every call waiting to retry; each raises
        :class:`UsersnapCancelledError` instead of calling again."""
        self._closed.set()
        self._session.abort()

    def _wait(self, seconds: float) -> None:
        # An Event, not time.sleep: a run stopped from the UI closes the client, and no thread of it
        # sleeps on through a long Retry-After.
        if self._closed.wait(seconds):
            raise UsersnapCancelledError("stopped while waiting to retry: the client was closed")

    def __enter__(self) -> UsersnapClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def secrets(self) -> tuple[str, ...]:
        """Values a caller must never log (used by tests that search logs for leaks)."""
        return self._minter.secrets()

    # -- calls --------------------------------------------------------------------------------

    def list_projects(self) -> list[dict[str, Any]]:
        """Projects visible to the key. A 200 here proves the credentials work."""
        data = self._request("GET", "/projects")
        projects = data.get("projects")
        if not isinstance(projects, list):
            raise UsersnapProtocolError("the answer has no 'projects' list", call="GET /projects")
        if data.get("has_more"):
            # The spec documents no cursor for projects; say so rather than pretend we saw them all.
            log.warning("GET /projects says has_more=true but offers no cursor; using the %d projects returned",
                        len(projects))
        return projects

    def iter_feedback_pages(self, project_id: str, *, limit: int | None = None) -> Iterator[Page]:
        """All feedback of a project, newest ``updated_at`` first (the API's default order)."""
        return self._iter_pages("GET", f"{_project_path(project_id)}/feedbacks", None, limit,
                                count=lambda: self.count_feedback(project_id), what=f"project {project_id}")

    def iter_filtered_pages(self, project_id: str, body: dict[str, Any], *, limit: int | None = None,
                            expected_items: int | None = None) -> Iterator[Page]:
        """Feedback matching a filter body (``order_by`` + ``query``); see :func:`created_at_window`.

        ``expected_items``: how many items the filter counted (saves a count request). The crawl reads at
        most the pages those items need, and stops with :class:`UsersnapProtocolError` when the API says
        there is more than its own count explains, or sends an empty page that is not the last."""
        return self._iter_pages("POST", f"{_project_path(project_id)}/feedbacks/filter", body or {}, limit,
                                count=lambda: self.count_filtered(project_id, body), expected_items=expected_items,
                                what=f"project {project_id}, {_describe_window(body)}")

    def count_feedback(self, project_id: str) -> int:
        path = f"{_project_path(project_id)}/feedbacks/count"
        return self._total_count(self._request("GET", path), f"GET {path}")

    def count_filtered(self, project_id: str, body: dict[str, Any]) -> int:
        path = f"{_project_path(project_id)}/feedbacks/filter/count"
        return self._total_count(self._request("POST", path, json_body=body or {}), f"POST {path}")

    def list_assignees(self, api_key: str) -> list[dict[str, Any]]:
        """Users that feedback can be assigned to; the path takes the project's **api_key**."""
        path = f"{_project_path(api_key)}/assignees"
        users = self._request("GET", path).get("users")
        if not isinstance(users, list):
            raise UsersnapProtocolError("the answer has no 'users' list", call=f"GET {path}")
        return users

    def submit_feedback(self, api_key: str, feedback: dict[str, Any]) -> dict[str, Any]:
        """Submit feedback (the path takes the project's **api_key**); returns ``data.feedback``.

        Not retried: a POST that timed out may have been stored, and a retry would duplicate it.
        """
        path = f"{_project_path(api_key)}/feedbacks"
        data = self._request("POST", path, json_body=feedback, retry=False)
        created = data.get("feedback")
        if not isinstance(created, dict) or not created.get("feedback_id"):
            raise UsersnapProtocolError("the answer has no data.feedback.feedback_id", call=f"POST {path}")
        return created

    # -- machinery ----------------------------------------------------------------------------

    def _iter_pages(self, method: str, path: str, body: dict[str, Any] | None, limit: int | None, *,
                    count: Callable[[], int], what: str, expected_items: int | None = None) -> Iterator[Page]:
        limit = limit or self.page_size
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise UsersnapConfigError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        call = f"{method} {path}"
        after: str | None = None
        cursors_used: set[str] = set()
        resume = _Resume()
        bound = _PageBound(limit, count, expected_items, what)
        while True:
            params: dict[str, Any] = {"limit": limit}
            if after is not None:
                params["after"] = after
            try:
                data = self._request(method, path, params=params, json_body=body, decode=_decode_page)
            except UsersnapRequestError as exc:
                resumed = resume.body(body) if exc.errortype == "INVALID_CURSOR" and after is not None else None
                if resumed is None:
                    raise
                # The cursor's item was deleted between two pages: go on from the last created_at served.
                log.warning("%s: the cursor's item is gone (INVALID_CURSOR); resuming from created_at %s",
                            call, resume.created_at)
                body, after = resumed, None
                continue
            items, has_more = data.get("feedbacks"), data.get("has_more")
            if not isinstance(items, list) or not isinstance(has_more, bool):
                raise UsersnapProtocolError("the page has no 'feedbacks' list or no boolean 'has_more'", call=call)
            self.stats.add(pages=1)
            page = resume.unseen(Page(items=items, has_more=has_more, item_texts=data.get(_ITEM_TEXTS)))
            yield page
            # `next` is present even on the last page (the spec's own example): only has_more ends it.
            if not has_more:
                return
            if not items:
                raise UsersnapProtocolError(
                    f"{what}: an empty page that says has_more=true after {bound.pages} page(s); a page that "
                    "brings nothing is not progress, so the crawl stops instead of paging on", call=call)
            bound.read_one(call)
            after = _next_cursor(items, data)
            if after is None:
                raise UsersnapProtocolError("has_more is true but the page gives no cursor to go on", call=call)
            if after in cursors_used:
                raise UsersnapProtocolError(
                    f"the cursor did not advance (after={after} was already used); stopping instead of looping",
                    call=call)
            cursors_used.add(after)

    @staticmethod
    def _total_count(data: dict[str, Any], call: str) -> int:
        total = data.get("total_count")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise UsersnapProtocolError("the answer has no integer 'total_count'", call=call)
        return total

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json_body: dict[str, Any] | None = None, retry: bool = True,
                 decode: Callable[[bytes], Any] = _decode_json) -> dict[str, Any]:
        call = f"{method} {path}"
        url = self.api_url + path
        attempts = self.max_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            self._wait_out_shared_pause()
            if self._closed.is_set():
                raise UsersnapCancelledError("stopped: the client was closed", call=call)
            retry_after: float | None = None
            timing = None
            try:
                started = time.monotonic()
                with self._session.deadline(self.deadline) as timing:
                    response = self._session.request(
                        method, url, params=params, json=json_body, timeout=self.timeout, stream=True,
                        allow_redirects=False, headers={"Authorization": f"Bearer {self._minter.token()}"},
                    )
                    content = _read_body(response, call)
                if timing.expired:  # the body ended when its connection was cut: whatever arrived is not it
                    raise requests.Timeout()
                self.stats.add(requests=1)
                log.debug("%s -> %s in %.3fs (attempt %d)", call, response.status_code,
                          time.monotonic() - started, attempt)
            except AbortedError:
                raise UsersnapCancelledError("stopped: the client was closed", call=call) from None
            except (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError, OSError) as exc:
                # urllib3's ProtocolError (IncompleteRead) is how a body cut before its Content-Length shows.
                self.stats.add(requests=1)
                if self._closed.is_set():
                    raise UsersnapCancelledError("stopped: the client was closed", call=call) from None
                untrusted = _certificate_refusal(exc)
                if untrusted is not None:  # retrying cannot change a certificate
                    raise UsersnapUnavailableError(
                        f"the API's TLS certificate is not trusted ({untrusted}): not retried; behind a proxy "
                        "that re-signs TLS, set REQUESTS_CA_BUNDLE to its CA bundle", call=call) from None
                reason = (f"no whole answer within {self.deadline:g} s" if timing is not None and timing.expired
                          else f"connection error ({type(exc).__name__})")
            else:
                if response.status_code in RETRYABLE_STATUS:
                    reason = f"HTTP {response.status_code}"
                    retry_after = _retry_after_seconds(response)
                    if retry_after is not None and retry_after > self.max_retry_after:
                        raise UsersnapUnavailableError(
                            f"HTTP {response.status_code} with Retry-After: {retry_after:g} s, longer than the "
                            f"{self.max_retry_after:g} s this client waits; the API is rate-limiting or down for "
                            "a while: run again later", call=call, status=response.status_code)
                    if response.status_code == 429:
                        self._pause_everyone(retry_after if retry_after is not None else self._backoff(attempt))
                elif response.status_code == 401 and self._adopt_api_clock(response):
                    reason = "HTTP 401 with the API's clock far from ours: token minted again on its clock"
                    retry_after = 0.0
                elif response.status_code >= 400:
                    raise _typed_error(call, response, content, clock_offset=_clock_offset(response))
                elif response.status_code >= 300:
                    raise UsersnapProtocolError(
                        f"the API answered HTTP {response.status_code}, a redirect: not followed (a token is "
                        "never sent elsewhere); check USERSNAP_API_URL", call=call, status=response.status_code)
                else:
                    try:
                        body = decode(content)
                    except ValueError:
                        reason = "truncated or invalid JSON body"
                    else:
                        if not isinstance(body, dict) or body.get("status") is not True or \
                                not isinstance(body.get("data"), dict):
                            raise UsersnapProtocolError(
                                "the answer is not a Usersnap API envelope {status: true, data: {...}}; "
                                "check USERSNAP_API_URL", call=call, status=response.status_code)
                        return body["data"]
            if attempt == attempts:
                raise UsersnapUnavailableError(
                    f"gave up after {attempts} attempt(s); last error: {reason}", call=call)
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            self.stats.add(retries=1)
            log.warning("%s failed with %s; retry %d/%d in %.2fs", call, reason, attempt,
                        attempts - 1, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _adopt_api_clock(self, response: requests.Response) -> bool:
        """After a 401: if the API's clock (its ``Date``) is far from the one the token was minted on, mint
        on the API's clock from now on and say so (True: worth one more try)."""
        offset = _clock_offset(response)
        if offset is None or abs(offset - self._minter.clock_offset) <= CLOCK_TOLERANCE:
            return False
        log.warning("the API's clock is %+.0f s from this machine's: tokens are minted on the API's clock", offset)
        self._minter.follow_clock(offset)
        return True

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries of concurrent workers instead of synchronising them.
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def _pause_everyone(self, seconds: float) -> None:
        with self._pause_lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_out_shared_pause(self) -> None:
        with self._pause_lock:
            remaining = self._paused_until - time.monotonic()
        if remaining > 0:
            self._sleep(remaining)


class _Resume:
    """Where a ``created_at``-ascending crawl can go on from when its cursor item is deleted: the last
    ``created_at`` served, minus the items already served at exactly that instant."""

    def __init__(self):
        self.created_at: str | None = None
        self._ids_at_last: set[str] = set()
        self._resumed = False

    def unseen(self, page: Page) -> Page:
        """``page`` without the items served before a resumption, remembering where it ends."""
        if self._resumed:
            keep = [i for i, item in enumerate(page.items)
                    if not (isinstance(item, dict) and item.get("created_at") == self.created_at
                            and item.get("feedback_id") in self._ids_at_last)]
            if len(keep) < len(page.items):
                page = Page(items=[page.items[i] for i in keep], has_more=page.has_more,
                            item_texts=[page.item_texts[i] for i in keep] if page.item_texts else None)
        # Only the page's last instant matters: walk back from its end while created_at stays the same.
        last_instant = None
        for item in reversed(page.items):
            created = item.get("created_at") if isinstance(item, dict) else None
            if not isinstance(created, str):
                continue
            if last_instant is None:
                last_instant = created
                if created != self.created_at:  # else the instant goes on from the previous page
                    self.created_at, self._ids_at_last = created, set()
            elif created != last_instant:
                break
            self._ids_at_last.add(item.get("feedback_id"))
        return page

    def body(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """``body`` starting at the last created_at served; None when the crawl is not one that can resume."""
        order = (body or {}).get("order_by") or {}
        if self.created_at is None or order.get("order_by_type") != "created_at" or order.get("direction") != "asc":
            return None
        query = [f for f in body.get("query") or []
                 if not (f.get("filter_type") == "created_at" and f.get("operator") in ("gt", "gte"))]
        self._resumed = True
        return {**body, "query": [{"filter_type": "created_at", "operator": "gte", "value": self.created_at}, *query]}


class _PageBound:
    """How many pages a crawl may read: what its item count needs, plus a slack.

    An API that keeps answering ``has_more: true`` with fresh cursors would otherwise be paged forever (63,577
    requests in 85 s, seen against a hostile API). Not told the count, a crawl asks for it once it has read
    ``PAGES_BEFORE_COUNTING`` pages; at the bound it counts again, since a window that ends now grows while it
    is read, and stops when the new count does not explain more pages."""

    def __init__(self, limit: int, count: Callable[[], int], expected_items: int | None, what: str):
        self.limit, self._count, self.what = limit, count, what
        self.pages = 0
        self.items = expected_items
        self.allowed = self._pages_for(expected_items) if expected_items is not None else PAGES_BEFORE_COUNTING
        self.recounts = 0

    def _pages_for(self, items: int) -> int:
        pages = -(-items // self.limit)
        return pages + PAGE_SLACK + pages // 20

    def read_one(self, call: str) -> None:
        """A page was read and the API says there is more: raise when the count cannot explain another."""
        self.pages += 1
        if self.pages < self.allowed:
            return
        counted = self._count()
        grown = self.items is None or counted > self.items
        if grown and self.recounts < RECOUNTS and self._pages_for(counted) > self.pages:
            self.recounts += self.items is not None
            self.items, self.allowed = counted, self._pages_for(counted)
            return
        raise UsersnapProtocolError(
            f"{self.what}: {self.pages} page(s) of {self.limit} read and the API still says has_more=true, but it "
            f"counts {counted} item(s); the crawl stops instead of paging on", call=call)


def _project_path(project_id: str) -> str:
    # An id is one path segment whatever it holds ("../", "?", "'"): encoded, it cannot change the request.
    return f"/projects/{quote(project_id, safe='')}"


def _describe_window(body: dict[str, Any] | None) -> str:
    """The created_at window of a filter body, for messages: "created_at 2026-11-14T00:00:00Z .. 2026-12-06T…"."""
    bounds = {f.get("operator"): f.get("value") for f in (body or {}).get("query") or []
              if isinstance(f, dict) and f.get("filter_type") == "created_at"}
    low, high = bounds.get("gte") or bounds.get("gt"), bounds.get("lt") or bounds.get("lte")
    return f"created_at {low or '…'} .. {high or '…'}" if low or high else "the whole project"


def _next_cursor(items: list[Any], data: dict[str, Any]) -> str | None:
    # The documented cursor is the feedback_id of the page's last item; `next.after` says the same
    # and is the fallback when that item is malformed.
    last = items[-1] if items else None
    if isinstance(last, dict) and isinstance(last.get("feedback_id"), str) and last["feedback_id"]:
        return last["feedback_id"]
    nxt = data.get("next")
    if isinstance(nxt, dict) and isinstance(nxt.get("after"), str) and nxt["after"]:
        return nxt["after"]
    return None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff rather than parse a clock we don't share
    return max(0.0, seconds) if math.isfinite(seconds) else math.inf


def _read_body(response: requests.Response, call: str) -> bytes:
    """The whole body in one read, then the connection goes back to the pool.

    requests reads a body 10 kB at a time, and a thread that waits on a socket gets the GIL back
    only at the next switch (every 5 ms) while other import threads normalize: measured, a 240 kB
    page went from 4.5 ms to 40 ms beside one busy thread; read whole, 22 ms.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        response.close()
        raise UsersnapProtocolError(f"the answer declares {int(declared):,} bytes, more than any page "
                                    f"({MAX_BODY_BYTES:,} at most): not read", call=call)
    try:
        content = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    except BaseException:
        response.close()
        raise
    if len(content) > MAX_BODY_BYTES:
        response.close()  # the rest stays unread: the connection cannot serve another request
        raise UsersnapProtocolError(f"the answer holds more than {MAX_BODY_BYTES:,} bytes once decompressed, "
                                    "more than any page: not read further", call=call)
    response.raw.release_conn()  # Response.close() would close the connection: nothing of it was read via requests
    return content


def _certificate_refusal(exc: BaseException) -> str | None:
    """Why the API's certificate was refused (OpenSSL's words, e.g. "self-signed certificate"), if that is
    what ``exc`` is: requests wraps the ssl error two or three levels down."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        seen = seen.__cause__ or seen.__context__ or next(
            (arg for arg in getattr(seen, "args", ()) if isinstance(arg, BaseException)), None)
    return None


def _clock_offset(response: requests.Response) -> float | None:
    """How far the API's clock (its ``Date`` header) is ahead of ours, in seconds; None without one."""
    try:
        return parsedate_to_datetime(response.headers["Date"]).timestamp() - time.time()
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _typed_error(call: str, response: requests.Response, content: bytes, *, clock_offset: float | None = None):
    status = response.status_code
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errortype = body.get("errortype") if isinstance(body.get("errortype"), str) else None
    msg = body.get("msg") if isinstance(body.get("msg"), str) else response.reason
    detail = f"HTTP {status}" + (f" {errortype}" if errortype else "") + (f" ({msg})" if msg else "")
    kwargs = {"call": call, "status": status, "errortype": errortype}
    if status == 401:
        skew = "" if clock_offset is None or abs(clock_offset) <= CLOCK_TOLERANCE else (
            f"; the API's clock is {clock_offset:+.0f} s from this machine's, and the token was minted on the "
            "API's clock, so the clock is not the cause")
        return UsersnapAuthError(f"{detail}: Usersnap refused the token; check the JWT ID and secret "
                                 f"(Usersnap → Settings → REST API){skew}", **kwargs)
    if status == 403:
        return UsersnapForbiddenError(f"{detail}: the REST API is not enabled on this Usersnap plan "
                                      "(Enterprise and Premium only), or the key may not read this project",
                                      **kwargs)
    if status == 404 or errortype == "SITE_NOT_FOUND":
        errordata = body.get("errordata") if isinstance(body.get("errordata"), dict) else {}
        site = f" (site_id {errordata['site_id']})" if "site_id" in errordata else ""
        return UsersnapNotFoundError(f"{detail}: project not found{site}: deleted, or not visible to this key",
                                     **kwargs)
    return UsersnapRequestError(f"{detail}: the request was refused", **kwargs)
