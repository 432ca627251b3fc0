"""A real HTTP server that answers like Usersnap's REST API v0.1, traps included.

Base URL: ``http://127.0.0.1:<port>/v0.1`` (the CLI's default port is 8765; tests pick a free one).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt

from .data import Dataset, generate
from .faults import FaultInjector, Faults
from .store import CursorError, FeedbackStore, Query, QueryError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_JWT_ID = "demo-jwt-id"
DEFAULT_JWT_SECRET = "demo-jwt-secret-for-the-emulator-only"
PREFIX = "/v0.1"
STATS_PATH = "/_emulator/stats"

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/projects$"), "projects"),
    ("GET", re.compile(r"^/projects/([^/]+)/feedbacks$"), "list"),
    ("GET", re.compile(r"^/projects/([^/]+)/feedbacks/count$"), "count"),
    ("POST", re.compile(r"^/projects/([^/]+)/feedbacks/filter$"), "filter"),
    ("POST", re.compile(r"^/projects/([^/]+)/feedbacks/filter/count$"), "filter_count"),
    ("POST", re.compile(r"^/projects/([^/]+)/feedbacks$"), "submit"),
    ("GET", re.compile(r"^/projects/([^/]+)/assignees$"), "assignees"),
]


class ApiError(Exception):
    def __init__(self, status: int, msg: str, errortype: str, errordata: dict[str, Any] | None = None):
        super().__init__(msg)
        self.status, self.msg, self.errortype, self.errordata = status, msg, errortype, errordata or {}


def _unauthorized() -> ApiError:
    # Usersnap answers every auth failure alike; it does not tell an attacker which part was wrong.
    return ApiError(401, "Authorization failed", "WRONG_AUTH")


class Emulator:
    """The local Usersnap: ``with Emulator(generate(items=500)) as api: api.base_url``."""

    def __init__(self, dataset: Dataset | None = None, *, jwt_id: str = DEFAULT_JWT_ID,
                 jwt_secret: str = DEFAULT_JWT_SECRET, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, rest_api_enabled: bool = True, seed: int = 0,
                 tls: ssl.SSLContext | None = None):
        # Submissions and edits are stamped on the API's clock, which clock_offset may set apart from the machine's.
        self.store = FeedbackStore(dataset or generate(), seed=seed,
                                   clock=lambda: datetime.fromtimestamp(self.now(), timezone.utc))
        self.faults = FaultInjector(faults)
        self.jwt_id = jwt_id
        self._jwt_secret = jwt_secret
        self.rest_api_enabled = rest_api_enabled
        self.clock_offset = 0.0  # seconds the API's clock is ahead of the machine's (negative: behind)
        self.request_counts: Counter[str] = Counter()  # authorised requests, per route
        self.requests_received = 0  # every request that reached the server: rejected, faulted or served
        self.request_paths: list[str] = []
        self.tokens_seen: set[str] = set()  # every bearer token presented, for leak tests
        self._phantoms: set[str] = set()  # ids of items the phantom_pages fault made up
        self._page_numbers: dict[str, int] = {}  # a listing's next cursor -> the number of the page it asks for
        self._counts_lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        # Served over TLS with ``tls`` (a server context holding a certificate): the client's HTTPS path.
        self._scheme = "http" if tls is None else "https"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)  # in the handler's thread
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}{PREFIX}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="usersnap-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def now(self) -> float:
        """The API's clock."""
        return time.time() + self.clock_offset

    def requests_made(self, route: str | None = None) -> int:
        """Authorised requests to ``route``; without one, every request that reached the server, whatever
        became of it (refused credentials, an injected fault, an unknown path): "no call was made" means none."""
        with self._counts_lock:
            return self.request_counts[route] if route else self.requests_received

    def reset_request_counts(self) -> None:
        with self._counts_lock:
            self.request_counts.clear()
            self.requests_received = 0
            self.request_paths.clear()

    def count_received(self) -> None:
        with self._counts_lock:
            self.requests_received += 1

    def describe(self) -> str:
        lines = [f"Usersnap emulator at {self.base_url}", f"  accepts JWT ID {self.jwt_id!r} (HS256)"]
        for project in self.store.list_projects():
            lines.append(f"  project {project['name']!r}: project_id={project['project_id']} "
                         f"api_key={project['api_key']} feedback={project['feedback_count']}")
        return "\n".join(lines)

    # -- request handling (called from the handler threads) ----------------------------------

    def _count(self, route: str, path: str) -> None:
        with self._counts_lock:
            self.request_counts[route] += 1
            self.request_paths.append(path)

    def authorize(self, header: str | None) -> None:
        if not header or not header.startswith("Bearer "):
            raise _unauthorized()
        token = header[len("Bearer "):].strip()
        with self._counts_lock:
            self.tokens_seen.add(token)
        try:
            head = jwt.get_unverified_header(token)
            if head.get("alg") != "HS256" or head.get("kid") != self.jwt_id:
                raise _unauthorized()
            claims = jwt.decode(token, self._jwt_secret, algorithms=["HS256"],
                                options={"require": ["exp"], "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise _unauthorized() from None
        # Expiry and issue time by the API's own clock: a token issued in its future is refused too.
        now = self.now()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now or \
                (isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now):
            raise _unauthorized()
        if not self.rest_api_enabled:
            raise ApiError(403, "The REST API is not available on your plan", "FORBIDDEN")

    def handle(self, method: str, raw_path: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        if not parts.path.startswith(PREFIX + "/"):
            raise ApiError(404, "Not found", "NOT_FOUND")
        path = parts.path[len(PREFIX):]
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                self._count(name, path)
                # A path segment is percent-encoded by the client: an id holding "/", "?" or "'" arrives whole.
                return getattr(self, f"_route_{name}")(*map(unquote, match.groups()), params=params, body=body)
        if any(p.match(path) for _, p, _ in _ROUTES):
            raise ApiError(405, "Method not allowed", "METHOD_NOT_ALLOWED")
        raise ApiError(404, "Not found", "NOT_FOUND")

    def _project(self, key: str, *, by_api_key: bool = False) -> str:
        pid = self.store.project_for(key, by_api_key=by_api_key)
        if pid is None:
            raise ApiError(400, "Site not found", "SITE_NOT_FOUND", {"site_id": key})
        if pid in self.store.deleted_projects:
            raise ApiError(404, "Not found", "NOT_FOUND")
        return pid

    def _route_projects(self, *, params, body):
        projects = self.store.list_projects()
        return 200, {"has_more": False, "count": len(projects), "projects": projects}

    def _route_list(self, project_id, *, params, body):
        return 200, self._page(self._project(project_id), Query(), params)

    def _route_filter(self, project_id, *, params, body):
        pid = self._project(project_id)
        query = _query_from_body(body)
        order = self.faults.faults.serve_order
        if order:  # a broken API that ignores order_by
            query = dataclasses.replace(query, order_by=order, descending=False)
        return 200, self._page(pid, query, params)

    def _route_count(self, project_id, *, params, body):
        return 200, {"total_count": self.store.count(self._project(project_id), Query())}

    def _route_filter_count(self, project_id, *, params, body):
        pid = self._project(project_id)
        return 200, {"total_count": self.store.count(pid, _query_from_body(body))}

    def _route_submit(self, api_key, *, params, body):
        pid = self._project(api_key, by_api_key=True)
        payload = _json_body(body)
        try:
            item = self.store.submit(pid, payload)
        except QueryError as exc:
            raise ApiError(400, str(exc), "VALIDATION_ERROR") from None
        return 201, {"feedback": item}

    def _route_assignees(self, api_key, *, params, body):
        pid = self._project(api_key, by_api_key=True)
        return 200, {"users": [dict(u) for u in self.store.assignees[pid]]}

    def _page(self, project_id: str, query: Query, params: dict[str, str]) -> dict[str, Any]:
        raw_limit = params.get("limit", "10")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise ApiError(400, "limit must be an integer between 1 and 100", "VALIDATION_ERROR",
                           {"limit": raw_limit})
        after, before = params.get("after") or None, params.get("before") or None
        faults = self.faults.faults
        if after and faults.endless_pages:  # a broken API that never says the crawl is over
            return _page_answer([], True, limit, str(uuid.uuid4()))
        if after in self._phantoms:
            return self._phantom_page(project_id, limit)
        try:
            result = self.store.page(project_id, query, limit=limit, after=after, before=before)
        except CursorError as exc:
            raise ApiError(400, str(exc), "INVALID_CURSOR") from None
        except QueryError as exc:
            raise ApiError(400, str(exc), "VALIDATION_ERROR") from None
        if faults.phantom_pages and not result.items:
            return self._phantom_page(project_id, limit)
        last = result.keys[-1] if result.keys else after
        if after and self.faults.repeat_cursor_item():
            result.items.insert(0, self.store.item(after))
        has_more = result.has_more or faults.phantom_pages
        if faults.listing_pages and has_more:
            number = self._page_numbers.pop(after, 1) if after else 1
            if number >= faults.listing_pages:
                has_more = False
            elif last is not None:
                self._page_numbers[last] = number + 1
        return _page_answer(result.items, has_more, limit, last)

    def _phantom_page(self, project_id: str, limit: int) -> dict[str, Any]:
        """Made-up items past the end of a crawl (the phantom_pages fault)."""
        model = self.store.items(project_id)[0]
        items = [{**model, "feedback_id": str(uuid.uuid4())} for _ in range(limit)]
        self._phantoms.update(item["feedback_id"] for item in items)
        return _page_answer(items, True, limit, items[-1]["feedback_id"])


def _page_answer(items: list[Any], has_more: bool, limit: int, last: str | None) -> dict[str, Any]:
    # As in the spec's own example: `next` is there even when has_more is false, and `count`
    # is the number of items on this page, not a total.
    return {"has_more": has_more, "count": len(items), "feedbacks": items,
            "next": {"query_string": urlencode({"limit": limit, **({"after": last} if last else {})}),
                     "limit": limit, "after": last}}


def _json_body(body: bytes | None) -> Any:
    if not body:
        raise ApiError(400, "A JSON body is required", "VALIDATION_ERROR")
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "The body is not valid JSON", "VALIDATION_ERROR") from None


def _query_from_body(body: bytes | None) -> Query:
    try:
        return Query.from_body(_json_body(body))
    except QueryError as exc:
        raise ApiError(400, str(exc), "VALIDATION_ERROR") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def handle_error(self, request, client_address) -> None:
        # A client that disconnects mid-answer (killed, timed out) is normal traffic, not a server bug.
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)


class RawJSON:
    """An item served exactly as this JSON text: one no encoder would write (nested 3,000 levels deep)."""

    def __init__(self, text: str):
        self.text = text


def _encode(payload: dict[str, Any]) -> bytes:
    raw: list[str] = []

    def placeholder(value: Any) -> str:
        if not isinstance(value, RawJSON):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        raw.append(value.text)
        return f"\x00raw{len(raw) - 1}\x00"

    body = json.dumps(payload, separators=(",", ":"), default=placeholder)
    for index, text in enumerate(raw):
        body = body.replace(json.dumps(f"\x00raw{index}\x00"), text, 1)
    return body.encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True
    server: _Server

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header tells the API's clock, which may be set wrong (Emulator.clock_offset).
        return super().date_time_string(self.server.emulator.now() if timestamp is None else timestamp)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        emulator = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.path == STATS_PATH:  # outside the API: for benchmarks run against a separate process
            self._send(200, {"requests": emulator.requests_made(), "faults": dict(emulator.faults.injected)})
            return
        emulator.count_received()
        decision = emulator.faults.decide()
        if decision.latency:
            time.sleep(decision.latency)
        if decision.status:
            headers = {"Retry-After": f"{decision.retry_after:g}"} if decision.retry_after is not None else {}
            self._send(decision.status, {"status": False, "msg": "Too many requests" if decision.status == 429
                                         else "Service unavailable", "errortype": "SERVER_ERROR",
                                         "errordata": {}}, headers)
            return
        if decision.live_edit:
            emulator.store.edit_random()
        if decision.live_submit:
            emulator.store.submit_random()
        try:
            emulator.authorize(self.headers.get("Authorization"))
            status, data = emulator.handle(method, self.path, body)
            payload: dict[str, Any] = {"status": True, "data": data}
        except ApiError as exc:
            status = exc.status
            payload = {"status": False, "msg": exc.msg, "errortype": exc.errortype, "errordata": exc.errordata}
        trickle = isinstance(payload.get("data"), dict) and "feedbacks" in payload["data"]
        self._send(status, payload, truncate=decision.truncate, trickle=trickle)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None,
              truncate: str | None = None, trickle: bool = False) -> None:
        body = _encode(payload)
        sent = body[: max(1, len(body) // 2)] if truncate else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        # "close": announce the whole body, send half, drop the connection (a proxy cut mid-stream).
        # "short": a well-formed HTTP answer whose JSON is cut (a broken upstream).
        self.send_header("Content-Length", str(len(body) if truncate == "close" else len(sent)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        rate = self.server.emulator.faults.faults.body_bytes_per_second
        if rate and trickle:  # a page trickled: every read gets a byte, the answer takes forever
            self.wfile.flush()
            for index in range(len(sent)):
                self.wfile.write(sent[index:index + 1])
                self.wfile.flush()
                time.sleep(1 / rate)
            return
        self.wfile.write(sent)
        if truncate == "close":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
