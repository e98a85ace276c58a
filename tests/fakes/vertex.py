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
from tests.fakes import google_api
from tests.fakes.google_api import (
    FAKE_SERVICE_ACCOUNT,
    FAKE_TOKEN,
    FakeCredentials,
    LoopbackApi,
    ResourceStore,
    Scripted,
    bad_request,
    collection_routes,
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

_JOBS = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/customJobs"
_ROUTES = [
    *collection_routes("customJobs"),
    ("delete", "DELETE", re.compile(rf"^{_JOBS}/(?P<id>[^/:]+)$")),
    ("operation", "GET", re.compile(r"^/v1/(?P<operation>projects/[^/]+/locations/[^/]+/operations/[^/]+)$")),
]
_LABEL_FILTER = re.compile(r'^labels\.(?P<key>[a-z0-9_-]+)\s*=\s*"(?P<value>[^"]*)"$')


# --- the fake -----------------------------------------------------------------------------------


@dataclass
class _Job(Scripted):
    error_message: str | None = None

    def view(self) -> dict[str, Any]:
        resource = dict(self.resource, state=self.state, updateTime=CREATE_TIME)
        if self.state == "JOB_STATE_FAILED":
            resource["error"] = {
                "code": 13,
                "message": self.error_message or "The replica workerpool0-0 exited with a non-zero status of 1.",
            }
        return resource


@dataclass
class FakeVertex(ResourceStore, LoopbackApi):
    ROUTES = _ROUTES
    COLLECTION = "customJobs"
    NOT_FOUND = 'The CustomJob "{id}" does not exist.'
    LIST_FILTER = _LABEL_FILTER
    TERMINAL = TERMINAL_STATES
    CANCEL_REFUSED = "Cannot cancel job in state {state}."

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
        name = self.add_job(params["project"], params["location"], timeline, **body)
        self.jobs[name].error_message = error_message
        return 200, self.jobs[name].view()

    def stored(self) -> dict[str, _Job]:
        return self.jobs

    def matches(self, job: _Job, condition: re.Match[str]) -> bool:
        return job.resource.get("labels", {}).get(condition["key"]) == condition["value"]

    def start_cancelling(self, job: _Job) -> dict[str, Any]:
        job.timeline, job.step = ["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"], 0
        return {}

    def _delete(self, params: dict[str, str], _query: Any, _body: Any) -> tuple[int, Any]:
        job = self._item_or_none(params)
        if job is None:
            return self._not_found(params["id"])
        if job.state not in TERMINAL_STATES:
            return 400, google_error(
                400, f"The CustomJob is in state {job.state} and cannot be deleted.", status="FAILED_PRECONDITION"
            )
        name = f"projects/{params['project']}/locations/{params['location']}/operations/{next(self._ids)}"
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
    google_api.make_backoff_tiny(monkeypatch, "providers.vertex_job.JOB_POLL_POLICY")
