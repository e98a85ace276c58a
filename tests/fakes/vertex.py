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
import re
from dataclasses import dataclass, field
from typing import Any

from tests import discovery
from tests.fakes.google_api import (
    FAKE_SERVICE_ACCOUNT,
    FAKE_TOKEN,
    FakeCredentials,
    LoopbackApi,
    bad_request,
    error_info,
    google_error,
    install_credentials,
    invalid_body_error,
    quota_failure,
)

# Re-exported: the Vertex tests import the shared helpers from here.
__all__ = [
    "FAKE_SERVICE_ACCOUNT",
    "FAKE_TOKEN",
    "FakeCredentials",
    "FakeVertex",
    "bad_request",
    "error_info",
    "google_error",
    "install_credentials",
    "make_backoff_tiny",
    "quota_failure",
]

DEFAULT_TIMELINE = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
TERMINAL_STATES = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
CREATE_TIME = "2026-11-28T12:00:00.000000Z"

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


# --- the fake -----------------------------------------------------------------------------------


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
class FakeVertex(LoopbackApi):
    ROUTES = _ROUTES

    validate_bodies: bool = True
    jobs: dict[str, _Job] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_timelines: list[tuple[list[str], str | None]] = field(default_factory=list)
    operation_gets_until_done: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(8_000_000_000_000_000_001)

    # --- scripting ---

    def script_next_job(self, timeline: list[str], error_message: str | None = None) -> None:
        """States the next created job goes through, one step per GET."""
        self.next_timelines.append((list(timeline), error_message))

    def add_job(self, project: str, region: str, timeline: list[str], **fields: Any) -> str:
        """A job that exists server-side already (e.g. made by someone else)."""
        name = f"projects/{project}/locations/{region}/customJobs/{next(self._ids)}"
        self.jobs[name] = _Job({"name": name, "createTime": CREATE_TIME, **fields}, list(timeline))
        return name

    # --- request handling (called on server threads) ---

    def _create(self, params: dict[str, str], _query: Any, body: Any) -> tuple[int, Any]:
        if self.validate_bodies:
            problems = discovery.validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", body)
            if problems:
                return invalid_body_error(problems)
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


# --- timing for tests that drive providers.rest ------------------------------------------------


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
