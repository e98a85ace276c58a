"""The project's one REST client for Google Cloud APIs.

One place for authentication (application default credentials), retries
(bounded exponential backoff with full jitter, via tenacity) and the
translation of Google's error JSON into actionable `GoogleApiError`s.

Security: credentials are obtained with `google.auth.default()` when a client is
created, and a client is meant to live only inside one provider method (use it as
a context manager). Never keep a client or credentials on an object that Pulumi
pickles into the state (dynamic providers are dill-pickled), and never log a
request's headers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar
from urllib.parse import urljoin

import google.auth
import google.auth.exceptions
import requests
import tenacity
from google.auth.transport.requests import AuthorizedSession

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying one call: whichever of attempts or deadline comes first."""

    max_attempts: int = 6
    initial_delay_seconds: float = 1.0
    max_delay_seconds: float = 32.0
    deadline_seconds: float = 180.0


@dataclass(frozen=True)
class PollPolicy:
    """How often to re-read something that is expected to change (a job, an operation)."""

    initial_delay_seconds: float = 5.0
    max_delay_seconds: float = 60.0


# Module-level so tests can monkeypatch them to tiny delays.
DEFAULT_RETRY_POLICY = RetryPolicy()
DEFAULT_POLL_POLICY = PollPolicy()

_TYPE_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_TYPE_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_TYPE_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# google.rpc.Code numbers, as found in long-running operation errors.
_GRPC_CODE_NAMES = {
    1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
    13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}

_RETRYABLE_HTTP_STATUSES = frozenset({500, 502, 503})
# A 429 is retried only when it is rate limiting; an exhausted quota will not
# recover within a retry window and must be reported (AIP-194).
_RATE_LIMIT_REASONS = frozenset({"RATE_LIMIT_EXCEEDED", "rateLimitExceeded", "userRateLimitExceeded"})
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    google.auth.exceptions.TransportError,
)


class GoogleApiError(Exception):
    """A failed Google API call, with the parsed error and a hint about what to do."""

    def __init__(
        self,
        *,
        http_status: int | None,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request: str = "",
        identity: str = "",
        project: str | None = None,
        legacy_reasons: Iterable[str] = (),
    ) -> None:
        self.http_status = http_status
        self.status = status
        self.api_message = message
        self.details = details or []
        self.request = request
        self.identity = identity
        self.project = project
        self.legacy_reasons = tuple(legacy_reasons)
        super().__init__(self._describe())

    @classmethod
    def from_response(
        cls, response: requests.Response, *, identity: str = "", project: str | None = None
    ) -> "GoogleApiError":
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        if not isinstance(error, dict):  # OAuth endpoints answer {"error": "invalid_grant", ...}
            error = {"message": str(error)}
        return cls(
            http_status=response.status_code,
            status=str(error.get("status", "")),
            message=str(error.get("message") or response.reason or response.text[:500]),
            details=[d for d in error.get("details", []) if isinstance(d, dict)],
            request=f"{response.request.method} {_without_query(response.url)}",
            identity=identity,
            project=project,
            legacy_reasons=[e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)],
        )

    @classmethod
    def from_status(
        cls, status: Mapping[str, Any], *, request: str, identity: str = "", project: str | None = None
    ) -> "GoogleApiError":
        """From a google.rpc.Status, e.g. the `error` of a long-running operation."""
        code = status.get("code")
        return cls(
            http_status=None,
            status=_GRPC_CODE_NAMES.get(code, str(code)) if isinstance(code, int) else str(code or ""),
            message=str(status.get("message", "")),
            details=[d for d in status.get("details", []) if isinstance(d, dict)],
            request=request,
            identity=identity,
            project=project,
        )

    # --- parsed details ---------------------------------------------------

    def _details_of_type(self, type_url: str) -> list[dict[str, Any]]:
        return [d for d in self.details if d.get("@type") == type_url]

    @property
    def reasons(self) -> list[str]:
        return [d.get("reason", "") for d in self._details_of_type(_TYPE_ERROR_INFO)] + list(self.legacy_reasons)

    @property
    def error_info_metadata(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for info in self._details_of_type(_TYPE_ERROR_INFO):
            merged.update(info.get("metadata") or {})
        return merged

    @property
    def is_not_found(self) -> bool:
        return self.http_status == 404 or self.status == "NOT_FOUND"

    @property
    def is_rate_limited(self) -> bool:
        return bool(_RATE_LIMIT_REASONS.intersection(self.reasons))

    @property
    def is_service_disabled(self) -> bool:
        return "SERVICE_DISABLED" in self.reasons or (
            self.status == "PERMISSION_DENIED" and "has not been used in project" in self.api_message
        )

    @property
    def retryable(self) -> bool:
        if self.http_status in _RETRYABLE_HTTP_STATUSES:
            return True
        return self.http_status == 429 and self.is_rate_limited

    @property
    def quota_names(self) -> list[str]:
        names: list[str] = []
        for failure in self._details_of_type(_TYPE_QUOTA_FAILURE):
            for violation in failure.get("violations", []):
                name = violation.get("quotaMetric") or violation.get("quotaId") or violation.get("subject")
                described = " ".join(
                    part for part in (name, f"({violation['description']})" if violation.get("description") else "") if part
                )
                if described:
                    names.append(described)
        metadata = self.error_info_metadata
        for key in ("quota_metric", "quota_limit", "quota_id"):
            if metadata.get(key) and not any(metadata[key] in n for n in names):
                names.append(metadata[key])
        return names

    @property
    def field_violations(self) -> list[str]:
        return [
            f"`{violation.get('field', '?')}`: {violation.get('description', '')}".rstrip(": ")
            for bad_request in self._details_of_type(_TYPE_BAD_REQUEST)
            for violation in bad_request.get("fieldViolations", [])
        ]

    @property
    def missing_permission(self) -> str | None:
        permission = self.error_info_metadata.get("permission")
        if permission:
            return permission
        match = re.search(r"[Pp]ermission[s]? ['\"`]?([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+){2,})", self.api_message)
        return match.group(1) if match else None

    # --- message ----------------------------------------------------------

    def _hint(self) -> str:
        project = self.project or "PROJECT"
        if self.is_service_disabled:
            metadata = self.error_info_metadata
            service = metadata.get("service") or _service_from_message(self.api_message) or "the API"
            return (
                f"The {service} API is not enabled in project {project}. Enable it with "
                f"`gcloud services enable {service} --project {project}` "
                "(or a google_project_service resource) and retry after a minute."
            )
        if self.http_status == 403 or self.status == "PERMISSION_DENIED":
            permission = self.missing_permission or "(permission not named in the response)"
            return (
                f"Permission denied: {self.identity or 'the caller'} lacks {permission} in project {project}. "
                "Grant that identity a role containing it."
            )
        if self.http_status == 429 or self.status == "RESOURCE_EXHAUSTED":
            quotas = ", ".join(self.quota_names) or "(quota not named in the response)"
            if self.is_rate_limited:
                return f"Rate limit still exceeded after retries: {quotas}. Retry later."
            return (
                f"Quota exhausted: {quotas}. Request an increase at "
                f"https://console.cloud.google.com/iam-admin/quotas?project={project} "
                "or choose a smaller machine, fewer accelerators or another region."
            )
        if self.http_status == 400 or self.status in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"):
            violations = self.field_violations
            if violations:
                return "Invalid request: " + "; ".join(violations)
        if self.http_status == 401 or self.status == "UNAUTHENTICATED":
            return (
                f"The credentials of {self.identity or 'the caller'} were rejected: run "
                "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS."
            )
        return ""

    def _describe(self) -> str:
        code = f"HTTP {self.http_status} " if self.http_status is not None else ""
        head = f"{self.request}: {code}{self.status}: {self.api_message}".strip()
        hint = self._hint()
        return f"{head}\n{hint}" if hint else head


def _service_from_message(message: str) -> str | None:
    match = re.search(r"\b([a-z0-9-]+\.googleapis\.com)\b", message)
    return match.group(1) if match else None


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def describe_identity(credentials: Any) -> str:
    """Who is calling, for error messages; never includes a token."""
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and email and email != "default":
        return f"service account {email}"
    if email == "default":
        return "the default service account of this VM (metadata server)"
    return "the application default credentials (user account; see `gcloud auth list`)"


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, GoogleApiError):
        return error.retryable
    return isinstance(error, _TRANSPORT_ERRORS)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    _log.warning(
        "retrying after attempt %d failed: %s", retry_state.attempt_number, str(error).splitlines()[0] if error else ""
    )


def retrying(policy: RetryPolicy | None = None, predicate: Callable[[BaseException], bool] = is_retryable) -> tenacity.Retrying:
    """A tenacity retrier with bounded exponential backoff and full jitter."""
    policy = policy or DEFAULT_RETRY_POLICY
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(predicate),
        stop=tenacity.stop_after_attempt(policy.max_attempts) | tenacity.stop_after_delay(policy.deadline_seconds),
        wait=tenacity.wait_random_exponential(multiplier=policy.initial_delay_seconds, max=policy.max_delay_seconds),
        before_sleep=_log_retry,
        reraise=True,
    )


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    deadline_seconds: float,
    description: str,
    policy: PollPolicy | None = None,
) -> T:
    """Call `fetch` until `done(result)`, backing off between calls; TimeoutError past the deadline.

    Errors raised by `fetch` propagate at once (it is expected to retry on its own).
    """
    policy = policy or DEFAULT_POLL_POLICY
    poller = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda result: not done(result)),
        stop=tenacity.stop_before_delay(deadline_seconds),
        wait=tenacity.wait_exponential(
            multiplier=policy.initial_delay_seconds, min=policy.initial_delay_seconds, max=policy.max_delay_seconds
        ),
    )
    try:
        return poller(fetch)
    except tenacity.RetryError as timed_out:
        raise TimeoutError(f"gave up after {deadline_seconds:g}s waiting for {description}") from timed_out


class GoogleRestClient:
    """JSON over HTTPS to one Google API endpoint, authenticated with application default credentials.

    Use as a context manager inside the function that needs it; do not store it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        project: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout_seconds: float = 60.0,
    ) -> None:
        try:
            credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError as missing:
            raise RuntimeError(
                "No Google credentials found: run `gcloud auth application-default login`, "
                "or set GOOGLE_APPLICATION_CREDENTIALS, or run with an attached service account."
            ) from missing
        self._session = AuthorizedSession(credentials)
        self.identity = describe_identity(credentials)
        self.base_url = base_url.rstrip("/") + "/"
        self.project = project
        self.retry_policy = retry_policy
        self.timeout_seconds = timeout_seconds

    def __enter__(self) -> "GoogleRestClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def __reduce__(self) -> Any:
        raise TypeError("GoogleRestClient holds credentials and must not be pickled")

    def send_once(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One attempt; raises GoogleApiError for an error answer, requests' errors for transport failures."""
        response = self._session.request(
            method,
            urljoin(self.base_url, path.lstrip("/")),
            json=body,
            params=params,
            timeout=self.timeout_seconds,
        )
        if response.status_code >= 400:
            raise GoogleApiError.from_response(response, identity=self.identity, project=self.project)
        return response.json() if response.content else {}

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Send, retrying transient failures when `retry` (only for idempotent calls)."""
        if not retry:
            return self.send_once(method, path, body=body, params=params)
        return retrying(self.retry_policy)(self.send_once, method, path, body=body, params=params)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path)

    def wait_for_operation(
        self, operation: Mapping[str, Any], *, deadline_seconds: float, policy: PollPolicy | None = None
    ) -> dict[str, Any]:
        """Poll a long-running operation (GET v1/{name}) until done; raise its error if it failed."""
        name = operation.get("name", "")
        if not operation.get("done"):
            operation = poll(
                lambda: self.get(f"v1/{name}"),
                lambda current: bool(current.get("done")),
                deadline_seconds=deadline_seconds,
                description=f"operation {name}",
                policy=policy,
            )
        if operation.get("error"):
            raise GoogleApiError.from_status(
                operation["error"], request=f"operation {name}", identity=self.identity, project=self.project
            )
        return dict(operation)
