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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin

import google.auth
import google.auth.exceptions
import requests
import tenacity
from google.auth.transport.requests import AuthorizedSession

from providers.google_errors import GoogleApiError
from stack.catalog import CLOUD_PLATFORM_SCOPE

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
# For the POST that creates a resource (submit_exactly_once): each retry first looks for the resource.
CREATE_RETRY_POLICY = RetryPolicy(
    max_attempts=5, initial_delay_seconds=2.0, max_delay_seconds=30.0, deadline_seconds=240.0
)
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    google.auth.exceptions.TransportError,
)


# A Google Cloud region (europe-west1, us-central1, northamerica-northeast2).
REGION_NAME = re.compile(r"[a-z]+(?:-[a-z]+)+[0-9]+")
# Google's API hosts; plain http only to loopback, for the offline fakes.
GOOGLE_ENDPOINT = re.compile(r"https://([a-z0-9-]+\.)*googleapis\.com/?")
LOOPBACK_ENDPOINT = re.compile(r"http://(127\.0\.0\.1|localhost)(:\d{1,5})?/?")


def endpoint_problems(region: Any, api_endpoint: Any) -> list[tuple[str, str]]:
    """(property, problem) pairs for a region or endpoint that would send requests (and the token) elsewhere.

    Callers pass unknown (preview) values as None; a dynamic provider's `check` calls this before any request."""
    problems = []
    if isinstance(region, str) and region and not REGION_NAME.fullmatch(region):
        problems.append(("region", f"region {region!r} is not a Google Cloud region name such as europe-west1"))
    if (
        isinstance(api_endpoint, str)
        and api_endpoint
        and not (GOOGLE_ENDPOINT.fullmatch(api_endpoint) or LOOPBACK_ENDPOINT.fullmatch(api_endpoint))
    ):
        problems.append(
            ("api_endpoint", f"api_endpoint {api_endpoint!r} is not https://*.googleapis.com (nor a loopback fake)")
        )
    return problems


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
    return isinstance(error, TRANSPORT_ERRORS)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    _log.warning(
        "retrying after attempt %d failed: %s", retry_state.attempt_number, str(error).splitlines()[0] if error else ""
    )


def retrying(
    policy: RetryPolicy | None = None, predicate: Callable[[BaseException], bool] = is_retryable
) -> tenacity.Retrying:
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


def submit_exactly_once(
    post: Callable[[], T], find_by_token: Callable[[], T | None], policy: RetryPolicy | None = None
) -> T:
    """Create something once: `post()` sends the create (one attempt, no retries of its own).

    Transient failures are retried (CREATE_RETRY_POLICY unless `policy`), but every retry first calls
    `find_by_token()`, which looks for what a create carrying this call's create token made: a create
    that reached the server before its answer was lost is adopted, never made twice.
    """
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            # The failed POST may have been accepted before its answer was lost.
            adopted = find_by_token()
            if adopted:
                return adopted
        return post()

    return retrying(policy or CREATE_RETRY_POLICY)(attempt)


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

    def __enter__(self) -> GoogleRestClient:
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

    def cancel_if_running(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST v1/{name}:cancel; {} if it had already finished (FAILED_PRECONDITION): nothing to cancel."""
        try:
            return self.request("POST", f"v1/{name}:cancel", body=body)
        except GoogleApiError as error:
            # It finished between the caller's GET and the cancel.
            if error.status != "FAILED_PRECONDITION":
                raise
            return {}
