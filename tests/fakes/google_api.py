"""What every loopback fake of a Google REST API shares.

Google's error bodies (for fault injection), a ThreadingHTTPServer on 127.0.0.1 that records
each request and can fail, or hang up on, the next call of a route, and credentials whose token is
a distinctive string. A fake subclasses `LoopbackApi`, lists its `ROUTES` and implements one
`_<route>(params, query, body) -> (status, answer)` method per route. `ResourceStore` adds the get,
list and cancel routes of a collection of `Scripted` resources (a Cloud Build build, a Vertex AI job).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import google.auth
import google.auth.credentials
import pytest

HTTP_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}

# (route name, HTTP method, path pattern with named groups)
Route = tuple[str, str, re.Pattern[str]]


# --- Google error bodies, for fault injection ---------------------------------------------------


def error_info(reason: str, domain: str = "googleapis.com", **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
        "metadata": metadata,
    }


def quota_failure(*violations: dict[str, Any]) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": list(violations)}


def bad_request(**field_descriptions: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": name, "description": text} for name, text in field_descriptions.items()],
    }


def google_error(code: int, message: str, *details: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status or HTTP_STATUS_NAMES.get(code, "UNKNOWN"),
            "details": list(details),
        }
    }


def invalid_body_error(problems: list[str]) -> tuple[int, dict[str, Any]]:
    """The 400 a Google API answers to a body that breaks its schema (problems from tests.discovery)."""
    violations = dict(problem.split(": ", 1) for problem in problems)
    return 400, google_error(400, "List of found errors: " + "; ".join(problems), bad_request(**violations))


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Fault:
    route: str
    status: int = 503
    body: dict[str, Any] | None = None
    drop: str | None = None  # "before": close without handling; "after": handle, then close without answering


@dataclass
class RecordedRequest:
    route: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


class _Handler(BaseHTTPRequestHandler):
    """Records and routes GET, POST and DELETE; a fake that takes other methods names a subclass as its HANDLER."""

    served: LoopbackApi

    def log_message(self, *_args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        api = self.served
        route, params = api.route(self.command, url.path)
        query = parse_qs(url.query)
        with api._lock:
            api.requests.append(
                RecordedRequest(route, self.command, url.path, query, body, self.headers.get("Authorization"))
            )
            fault = api.take_fault(route)
            if fault and fault.drop == "before":
                return self._hang_up()
            if fault and fault.drop is None:
                return self._answer(fault.status, fault.body)
            if route == "unknown":
                status, answer = 404, google_error(404, f"no route for {self.command} {url.path}")
            else:
                status, answer = api.handle(route, params, query, body)
            if fault and fault.drop == "after":
                return self._hang_up()
        self._answer(status, answer)

    def _answer(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _hang_up(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


@dataclass
class LoopbackApi:
    ROUTES: ClassVar[list[Route]] = []
    HANDLER: ClassVar[type[_Handler]] = _Handler

    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        api = self

        class Handler(self.HANDLER):
            served = api

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- scripting ---

    def fail_next(self, route: str, status: int = 503, body: dict[str, Any] | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(route, status, body or google_error(status, f"injected {status}")))

    def drop_after_next(self, route: str) -> None:
        """Handle the next `route` request (e.g. create the resource), then close the socket without answering."""
        self.faults.append(Fault(route, drop="after"))

    def drop_before_next(self, route: str) -> None:
        self.faults.append(Fault(route, drop="before"))

    def routes(self) -> list[str]:
        return [request.route for request in self.requests]

    def count(self, route: str) -> int:
        return self.routes().count(route)

    # --- request handling (called on server threads, under the lock) ---

    def take_fault(self, route: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.route == route:
                return self.faults.pop(index)
        return None

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        for route, route_method, pattern in self.ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                return route, match.groupdict()
        return "unknown", {}

    def handle(self, route: str, params: dict[str, str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        return getattr(self, f"_{route}")(params, query, body)


# --- a collection of resources whose state follows a script -------------------------------------


@dataclass
class Scripted:
    """A fake resource whose state follows `timeline`, one step further on every GET of it."""

    resource: dict[str, Any]
    timeline: list[str]
    step: int = 0

    @property
    def state(self) -> str:
        return self.timeline[self.step]

    def advance(self) -> None:
        self.step = min(self.step + 1, len(self.timeline) - 1)

    def view(self) -> dict[str, Any]:
        """The resource as the API answers it."""
        raise NotImplementedError


def collection_routes(collection: str) -> list[Route]:
    """The create, list, cancel and get routes of projects/P/locations/L/{collection}, as ResourceStore names them."""
    base = rf"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/{collection}"
    return [
        ("create", "POST", re.compile(rf"^{base}$")),
        ("list", "GET", re.compile(rf"^{base}$")),
        ("cancel", "POST", re.compile(rf"^{base}/(?P<id>[^/:]+):cancel$")),
        ("get", "GET", re.compile(rf"^{base}/(?P<id>[^/:]+)$")),
    ]


class ResourceStore:
    """The get, list and cancel routes of a LoopbackApi whose resources are projects/P/locations/L/COLLECTION/ID.

    The routes (`collection_routes`) name their groups `project`, `location` and `id`; `stored()` maps
    names to `Scripted`s. A GET advances the resource one step; a list answers those under the parent
    that match its filter; a cancel of a finished one is refused (FAILED_PRECONDITION)."""

    COLLECTION: ClassVar[str]  # the path segment, and the key of a list answer
    NOT_FOUND: ClassVar[str]  # the 404 message, with {id}
    LIST_FILTER: ClassVar[re.Pattern[str]]  # the one filter a list understands
    TERMINAL: ClassVar[frozenset[str]]
    CANCEL_REFUSED: ClassVar[str]  # the message for a cancel of a finished one, with {state}

    def stored(self) -> dict[str, Any]:
        raise NotImplementedError

    def matches(self, item: Any, condition: re.Match[str]) -> bool:
        """Whether `item` passes the list filter that `condition` is the LIST_FILTER match of."""
        raise NotImplementedError

    def cancel_body_refusal(self, body: Any) -> tuple[int, Any] | None:
        return None

    def start_cancelling(self, item: Any) -> Any:
        """Make a running `item` stop (on later GETs); the cancel's answer."""
        raise NotImplementedError

    def _item_or_none(self, params: dict[str, str]) -> Any:
        parent = f"projects/{params['project']}/locations/{params['location']}"
        return self.stored().get(f"{parent}/{self.COLLECTION}/{params['id']}")

    def _not_found(self, what: str) -> tuple[int, Any]:
        return 404, google_error(404, self.NOT_FOUND.format(id=what))

    def _get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        item = self._item_or_none(params)
        if item is None:
            return self._not_found(params["id"])
        item.advance()
        return 200, item.view()

    def _list(self, params: dict[str, str], query: dict[str, list[str]], _body: Any) -> tuple[int, Any]:
        prefix = f"projects/{params['project']}/locations/{params['location']}/{self.COLLECTION}/"
        matching = [item for name, item in self.stored().items() if name.startswith(prefix)]
        if "filter" in query:
            condition = self.LIST_FILTER.match(query["filter"][0])
            if not condition:
                return 400, google_error(400, f"Unsupported filter: {query['filter'][0]}")
            matching = [item for item in matching if self.matches(item, condition)]
        return 200, {self.COLLECTION: [item.view() for item in matching]} if matching else {}

    def _cancel(self, params: dict[str, str], _query: Any, body: Any) -> tuple[int, Any]:
        refusal = self.cancel_body_refusal(body)
        if refusal:
            return refusal
        item = self._item_or_none(params)
        if item is None:
            return self._not_found(params["id"])
        if item.state in self.TERMINAL:
            return 400, google_error(400, self.CANCEL_REFUSED.format(state=item.state), status="FAILED_PRECONDITION")
        return 200, self.start_cancelling(item)


# --- for tests that drive the providers -----------------------------------------------------------


def transient_failures(quota_metric: str) -> pytest.MarkDecorator:
    """Parametrizes `status, body` with what a create must retry: 503, 502, and a rate limit on `quota_metric`."""
    rate_limited = google_error(429, "Rate limited.", error_info("RATE_LIMIT_EXCEEDED", quota_metric=quota_metric))
    return pytest.mark.parametrize(
        "status, body",
        [
            pytest.param(503, None, id="503"),
            pytest.param(502, None, id="502"),
            pytest.param(429, rate_limited, id="429-rate-limit"),
        ],
    )


def make_backoff_tiny(monkeypatch: Any, *poll_policies: str) -> None:
    """Shrink providers.rest's retry and poll delays, and each named poll policy ("module.NAME"), to milliseconds."""
    from providers import rest

    tiny_retry = rest.RetryPolicy(
        max_attempts=4, initial_delay_seconds=0.001, max_delay_seconds=0.005, deadline_seconds=10
    )
    tiny_poll = rest.PollPolicy(initial_delay_seconds=0.001, max_delay_seconds=0.005)
    monkeypatch.setattr(rest, "DEFAULT_RETRY_POLICY", tiny_retry)
    monkeypatch.setattr(rest, "CREATE_RETRY_POLICY", tiny_retry)
    monkeypatch.setattr(rest, "DEFAULT_POLL_POLICY", tiny_poll)
    for name in poll_policies:
        monkeypatch.setattr(name, tiny_poll)


# --- credentials for tests that drive providers.rest --------------------------------------------

FAKE_TOKEN = "ya29.FAKE-TOKEN-must-never-reach-the-state-7f3c9e"
FAKE_SERVICE_ACCOUNT = "trainer@test-project.iam.gserviceaccount.com"


class FakeCredentials(google.auth.credentials.Credentials):
    """Credentials whose token is a distinctive string, to search for where it must not be."""

    def __init__(self, service_account_email: str | None = FAKE_SERVICE_ACCOUNT) -> None:
        super().__init__()
        if service_account_email:
            self.service_account_email = service_account_email

    def refresh(self, request: Any) -> None:
        self.token = FAKE_TOKEN


def install_credentials(monkeypatch: Any, credentials: google.auth.credentials.Credentials) -> list[Any]:
    """Make google.auth.default() return `credentials`; returns the list of scopes asked for, per call."""
    scopes_asked: list[Any] = []

    def default(scopes: Any = None, **_kwargs: Any) -> tuple[Any, str]:
        scopes_asked.append(scopes)
        return credentials, "test-project"

    monkeypatch.setattr(google.auth, "default", default)
    return scopes_asked
