"""A loopback fake of the Cloud Build v1 builds API (regional paths).

    with FakeCloudBuild() as fake:
        fake.base_url                       # point the client at it
        fake.fail_next("create", 503)       # and the other faults of tests.fakes.google_api
        fake.drop_after_next("create")      # the build exists, the answer is lost
        fake.script_next_build(FAILED, failure_type="USER_BUILD_STEP", failure_detail="step 0 exited 1")
        fake.requests                       # what was called, in order

Create answers a long-running operation whose metadata holds the build (BuildOperationMetadata).
A build's status advances one step on every GET of it (QUEUED -> WORKING -> SUCCESS by default); a
successful build reports a digest for each of its `images` in `results.images` (unless
`reports_digests` is off). Cancel of a running
build answers the build and makes it CANCELLED after `cancel_gets_until_cancelled` more GETs; cancel
of a finished one is refused (FAILED_PRECONDITION). Create and cancel bodies are validated against
the discovery document, and create also applies the rules the server enforces beyond it (build tag
format, service account resource name, logging with a user-managed service account).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from tests import discovery
from tests.fakes import google_api
from tests.fakes.google_api import (
    LoopbackApi,
    ResourceStore,
    Scripted,
    collection_routes,
    google_error,
    invalid_body_error,
)

SUCCEEDED = ("QUEUED", "WORKING", "SUCCESS")
FAILED = ("QUEUED", "WORKING", "FAILURE")
TIMED_OUT = ("QUEUED", "WORKING", "TIMEOUT")
RUNS_FOREVER = ("QUEUED", "WORKING")
TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"})
CREATE_TIME = "2026-11-28T12:00:00.000000Z"
PROJECT_NUMBER = "123456789012"

_TAG_FILTER = re.compile(r'^tags\s*=\s*"(?P<tag>[^"]*)"$')
_BUILD_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_SERVICE_ACCOUNT_NAME = re.compile(r"^projects/[^/]+/serviceAccounts/[^/]+$")


def fake_digest(image: str, build_id: str) -> str:
    return "sha256:" + hashlib.sha256(f"{image}@{build_id}".encode()).hexdigest()


@dataclass
class _Build(Scripted):
    failure: dict[str, str] | None = None
    reports_digests: bool = True

    def view(self) -> dict[str, Any]:
        build = dict(self.resource, status=self.state)
        if self.state == "SUCCESS" and self.reports_digests:
            build["results"] = {
                "images": [{"name": image, "digest": fake_digest(image, build["id"])} for image in build["images"]]
            }
        elif self.state == "FAILURE":
            build["failureInfo"] = self.failure or {"type": "USER_BUILD_STEP", "detail": "Build step failure"}
            build["statusDetail"] = "Build step failure: build step 0 failed: step exited with non-zero status: 1"
        elif self.state == "TIMEOUT":
            build["statusDetail"] = f"Build timed out after {build.get('timeout', '3600s')}"
        return build


@dataclass
class FakeCloudBuild(ResourceStore, LoopbackApi):
    ROUTES = collection_routes("builds")
    COLLECTION = "builds"
    NOT_FOUND = 'Build "{id}" not found'
    LIST_FILTER = _TAG_FILTER
    TERMINAL = TERMINAL_STATUSES
    CANCEL_REFUSED = "build is already in a terminal state: {state}"

    validate_bodies: bool = True
    builds: dict[str, _Build] = field(default_factory=dict)
    next_builds: list[tuple[list[str], dict[str, str] | None]] = field(default_factory=list)
    cancel_gets_until_cancelled: int = 1
    operation_names_the_build: bool = True
    reports_digests: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(1)

    # --- scripting ---

    def script_next_build(
        self, timeline: tuple[str, ...], failure_type: str | None = None, failure_detail: str | None = None
    ) -> None:
        """Statuses the next created build goes through, one step per GET."""
        failure = {"type": failure_type, "detail": failure_detail or ""} if failure_type else None
        self.next_builds.append((list(timeline), failure))

    def add_build(self, project: str, location: str, timeline: tuple[str, ...], **fields: Any) -> str:
        """A build that exists server-side already (e.g. started by someone else); returns its name."""
        build_id = f"{next(self._ids):08d}-0000-4000-8000-00000000b111"
        name = f"projects/{project}/locations/{location}/builds/{build_id}"
        resource = {
            "id": build_id,
            "name": name,
            "projectId": project,
            "createTime": CREATE_TIME,
            "logUrl": f"https://console.cloud.google.com/cloud-build/builds;region={location}/{build_id}?project={PROJECT_NUMBER}",
            "images": [],
            **fields,
        }
        self.builds[name] = _Build(resource, list(timeline))
        return name

    def statuses(self) -> dict[str, str]:
        return {name: build.state for name, build in self.builds.items()}

    # --- request handling (called on server threads) ---

    def _refusal(self, body: Any) -> tuple[int, Any] | None:
        """What the server rejects: the discovery schema, then the rules it enforces beyond it."""
        if not self.validate_bodies:
            return None
        problems = discovery.validate("cloudbuild.v1", "Build", body)
        if problems:
            return invalid_body_error(problems)
        for tag in body.get("tags", []):
            if not _BUILD_TAG.fullmatch(tag):
                return 400, google_error(
                    400, f'invalid build: invalid build tag "{tag}": must match format "^[\\w][\\w.-]{{0,127}}$"'
                )
        account = body.get("serviceAccount")
        if account and not _SERVICE_ACCOUNT_NAME.fullmatch(account):
            return 400, google_error(400, f"invalid build: invalid service account name {account!r}")
        if account and (body.get("options") or {}).get("logging") not in ("CLOUD_LOGGING_ONLY", "NONE"):
            return 400, google_error(
                400,
                "generic::invalid_argument: if 'build.service_account' is specified, the build must either "
                "(a) specify 'build.logs_bucket', (b) use the REGIONAL_USER_OWNED_BUCKET option, or "
                "(c) use either CLOUD_LOGGING_ONLY / NONE logging options",
            )
        return None

    def _create(self, params: dict[str, str], _query: Any, body: Any) -> tuple[int, Any]:
        refusal = self._refusal(body)
        if refusal:
            return refusal
        timeline, failure = self.next_builds.pop(0) if self.next_builds else (list(SUCCEEDED), None)
        name = self.add_build(params["project"], params["location"], tuple(timeline), **body)
        self.builds[name].failure = failure
        self.builds[name].reports_digests = self.reports_digests
        operation: dict[str, Any] = {
            "name": f"projects/{params['project']}/locations/{params['location']}/operations/{next(self._ids)}",
            "metadata": {"@type": "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata"},
        }
        if self.operation_names_the_build:
            operation["metadata"]["build"] = self.builds[name].view()
        return 200, operation

    def stored(self) -> dict[str, _Build]:
        return self.builds

    def matches(self, build: _Build, condition: re.Match[str]) -> bool:
        return condition["tag"] in build.resource.get("tags", [])

    def cancel_body_refusal(self, body: Any) -> tuple[int, Any] | None:
        problems = discovery.validate("cloudbuild.v1", "CancelBuildRequest", body) if self.validate_bodies else []
        return invalid_body_error(problems) if problems else None

    def start_cancelling(self, build: _Build) -> dict[str, Any]:
        answer = build.view()
        build.timeline, build.step = [build.state] * self.cancel_gets_until_cancelled + ["CANCELLED"], 0
        return answer


# --- timing for tests that drive providers.cloud_build ----------------------------------------


def make_backoff_tiny(monkeypatch: Any) -> None:
    google_api.make_backoff_tiny(monkeypatch, "providers.cloud_build.BUILD_POLL_POLICY")
