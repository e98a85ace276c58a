"""A loopback fake of the Vertex AI v1 customJobs API.

    with FakeVertex() as fake:
        fake.base_url              # point the client at it
        fake.fail_next("create", 503)
        fake.drop_after_next("create")
        fake.script_next_job(["JOB_STATE_PENDING", "JOB_STATE_FAILED"], error_message="OOM")
        fake.requests              # what was called, in order

Job states advance one step on every GET of the job. Cancel moves a running
job to CANCELLING, and the next GET to CANCELLED. DELETE of an unfinished job
is refused like the real API (FAILED_PRECONDITION); it returns an operation
that is done on its `operation_gets_until_done`-th GET (the first, by default),
when the job disappears. Create bodies are
validated against the discovery document (400 with fieldViolations if invalid).
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth
import google.auth.credentials

from tests import discovery

DEFAULT_TIMELINE = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
TERMINAL_STATES = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
CREATE_TIME = "2026-11-28T12:00:00.000000Z"

_HTTP_STATUS_NAMES = {
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

_JOBS = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/customJobs"
_ROUTES = [
    ("create", "POST", re.compile(rf"^{_JOBS}$")),
    ("list", "GET", re.compile(rf"^{_JOBS}$")),
    ("cancel", "POST", re.compile(rf"^{_JOBS}/(?P<job>[^/:]+):cancel$")),
    ("get", "GET", re.compile(rf"^{_JOBS}/(?P<job>[^/:]+)$")),
    ("delete", "DELETE", re.compile(rf"^{_JOBS}/(?P<job>[^/:]+)$")),
    ("operation", "GET", re.compile(r"^/v1/(?P<operation>projects/[^/]+/locations/[^/]+/operations/[^/]+)$")),
]
_LABEL_FILTER = re.compile(r'^labels\.(?P<key>[a-z0-9_-]+)\s*=\s*"(?P<value>[^"]*)"$')


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
            "status": status or _HTTP_STATUS_NAMES.get(code, "UNKNOWN"),
            "details": list(details),
        }
    }


# --- the fake -----------------------------------------------------------------------------------


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


@dataclass
class _Job:
    resource: dict[str, Any]
    timeline: list[str]
    step: int = 0
    error_message: str | None = None

    @property
    def state(self) -> str:
        return self.timeline[self.step]

    def advance(self) -> None:
        self.step = min(self.step + 1, len(self.timeline) - 1)

    def view(self) -> dict[str, Any]:
        resource = dict(self.resource, state=self.state, updateTime=CREATE_TIME)
        if self.state == "JOB_STATE_FAILED":
            resource["error"] = {
                "code": 13,
                "message": self.error_message or "The replica workerpool0-0 exited with a non-zero status of 1.",
            }
        return resource


@dataclass
class FakeVertex:
    validate_bodies: bool = True
    jobs: dict[str, _Job] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    next_timelines: list[tuple[list[str], str | None]] = field(default_factory=list)
    operation_gets_until_done: int = 1

    def __post_init__(self) -> None:
        self._ids = itertools.count(8_000_000_000_000_000_001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---

    def __enter__(self) -> FakeVertex:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            vertex = fake

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
        """Handle the next `route` request (e.g. create the job), then close the socket without answering."""
        self.faults.append(Fault(route, drop="after"))

    def drop_before_next(self, route: str) -> None:
        self.faults.append(Fault(route, drop="before"))

    def script_next_job(self, timeline: list[str], error_message: str | None = None) -> None:
        """States the next created job goes through, one step per GET."""
        self.next_timelines.append((list(timeline), error_message))

    def add_job(self, project: str, region: str, timeline: list[str], **fields: Any) -> str:
        """A job that exists server-side already (e.g. made by someone else)."""
        name = f"projects/{project}/locations/{region}/customJobs/{next(self._ids)}"
        self.jobs[name] = _Job({"name": name, "createTime": CREATE_TIME, **fields}, list(timeline))
        return name

    def routes(self) -> list[str]:
        return [request.route for request in self.requests]

    def count(self, route: str) -> int:
        return self.routes().count(route)

    # --- request handling (called on server threads) ---

    def _take_fault(self, route: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.route == route:
                return self.faults.pop(index)
        return None

    def handle(self, route: str, params: dict[str, str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        return getattr(self, f"_{route}")(params, query, body)

    def _create(self, params: dict[str, str], _query: Any, body: Any) -> tuple[int, Any]:
        if self.validate_bodies:
            problems = discovery.validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", body)
            if problems:
                violations = dict(problem.split(": ", 1) for problem in problems)
                return 400, google_error(400, "List of found errors: " + "; ".join(problems), bad_request(**violations))
        timeline, error_message = self.next_timelines.pop(0) if self.next_timelines else (list(DEFAULT_TIMELINE), None)
        name = self.add_job(params["project"], params["region"], timeline, **body)
        self.jobs[name].error_message = error_message
        return 200, self.jobs[name].view()

    def _job_or_404(self, params: dict[str, str]) -> _Job | None:
        return self.jobs.get(f"projects/{params['project']}/locations/{params['region']}/customJobs/{params['job']}")

    def _not_found(self, what: str) -> tuple[int, Any]:
        return 404, google_error(404, f'The CustomJob "{what}" does not exist.')

    def _get(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        job = self._job_or_404(params)
        if job is None:
            return self._not_found(params["job"])
        job.advance()
        return 200, job.view()

    def _list(self, params: dict[str, str], query: dict[str, list[str]], _body: Any) -> tuple[int, Any]:
        prefix = f"projects/{params['project']}/locations/{params['region']}/customJobs/"
        matching = [job for name, job in self.jobs.items() if name.startswith(prefix)]
        if "filter" in query:
            label = _LABEL_FILTER.match(query["filter"][0])
            if not label:
                return 400, google_error(400, f"Unsupported filter: {query['filter'][0]}")
            matching = [job for job in matching if job.resource.get("labels", {}).get(label["key"]) == label["value"]]
        return 200, {"customJobs": [job.view() for job in matching]} if matching else {}

    def _cancel(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        job = self._job_or_404(params)
        if job is None:
            return self._not_found(params["job"])
        if job.state in TERMINAL_STATES:
            return 400, google_error(400, f"Cannot cancel job in state {job.state}.", status="FAILED_PRECONDITION")
        job.timeline, job.step = ["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"], 0
        return 200, {}

    def _delete(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        job = self._job_or_404(params)
        if job is None:
            return self._not_found(params["job"])
        if job.state not in TERMINAL_STATES:
            return 400, google_error(
                400, f"The CustomJob is in state {job.state} and cannot be deleted.", status="FAILED_PRECONDITION"
            )
        name = f"projects/{params['project']}/locations/{params['region']}/operations/{next(self._ids)}"
        self.operations[name] = {
            "name": name,
            "done": False,
            "deletes": job.resource["name"],
            "gets_left": self.operation_gets_until_done,
        }
        return 200, {
            "name": name,
            "metadata": {"@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata"},
        }

    def _operation(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        operation = self.operations.get(params["operation"])
        if operation is None:
            return self._not_found(params["operation"])
        operation["gets_left"] -= 1
        if operation["gets_left"] > 0:
            return 200, {"name": operation["name"], "done": False}
        self.jobs.pop(operation["deletes"], None)
        operation["done"] = True
        return 200, {
            "name": operation["name"],
            "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }


class _Handler(BaseHTTPRequestHandler):
    vertex: FakeVertex

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
        route, params = self._route(url.path)
        query = parse_qs(url.query)
        vertex = self.vertex
        with vertex._lock:
            vertex.requests.append(
                RecordedRequest(route, self.command, url.path, query, body, self.headers.get("Authorization"))
            )
            fault = vertex._take_fault(route)
            if fault and fault.drop == "before":
                return self._hang_up()
            if fault and fault.drop is None:
                return self._answer(fault.status, fault.body)
            if route == "unknown":
                status, answer = 404, google_error(404, f"no route for {self.command} {url.path}")
            else:
                status, answer = vertex.handle(route, params, query, body)
            if fault and fault.drop == "after":
                return self._hang_up()
        self._answer(status, answer)

    def _route(self, path: str) -> tuple[str, dict[str, str]]:
        for route, method, pattern in _ROUTES:
            match = pattern.match(path)
            if match and method == self.command:
                return route, match.groupdict()
        return "unknown", {}

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


# --- credentials and timing for tests that drive providers.rest --------------------------------

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


def make_backoff_tiny(monkeypatch: Any) -> None:
    from providers import rest, vertex_job

    tiny_retry = rest.RetryPolicy(
        max_attempts=4, initial_delay_seconds=0.001, max_delay_seconds=0.005, deadline_seconds=10
    )
    tiny_poll = rest.PollPolicy(initial_delay_seconds=0.001, max_delay_seconds=0.005)
    monkeypatch.setattr(rest, "DEFAULT_RETRY_POLICY", tiny_retry)
    monkeypatch.setattr(rest, "DEFAULT_POLL_POLICY", tiny_poll)
    monkeypatch.setattr(vertex_job, "CREATE_RETRY_POLICY", tiny_retry)
    monkeypatch.setattr(vertex_job, "JOB_POLL_POLICY", tiny_poll)
