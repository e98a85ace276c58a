"""providers.rest: error translation, retry classification, and the client against a loopback fake."""

from __future__ import annotations

import json
import pickle
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import pytest
import requests

from providers import rest
from tests.fakes.vertex import (
    FAKE_SERVICE_ACCOUNT,
    FAKE_TOKEN,
    FakeCredentials,
    FakeVertex,
    bad_request,
    error_info,
    google_error,
    install_credentials,
    make_backoff_tiny,
    quota_failure,
)

JOBS = "v1/projects/p/locations/us-central1/customJobs"


def api_error(status: int, body: Any, **kwargs: Any) -> rest.GoogleApiError:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response.url = (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/customJobs?filter=x"
    )
    response.request = requests.Request("POST", response.url).prepare()
    return rest.GoogleApiError.from_response(response, **kwargs)


# --- classification ----------------------------------------------------------------------------

RATE_LIMITED = google_error(429, "Too many requests.", error_info("RATE_LIMIT_EXCEEDED"))
QUOTA_EXHAUSTED = google_error(
    429,
    "Quota exceeded.",
    error_info("RESOURCE_EXHAUSTED", quota_metric="aiplatform.googleapis.com/custom_model_training_cpus"),
)


@pytest.mark.parametrize(
    "status, body, retryable",
    [
        (500, google_error(500, "Internal error."), True),
        (502, "<html>Bad Gateway</html>", True),
        (503, google_error(503, "The service is currently unavailable."), True),
        (429, RATE_LIMITED, True),
        (429, {"error": {"code": 429, "message": "x", "errors": [{"reason": "rateLimitExceeded"}]}}, True),
        (429, {"error": {"code": 429, "message": "x", "errors": [{"reason": "userRateLimitExceeded"}]}}, True),
        (429, QUOTA_EXHAUSTED, False),
        (429, google_error(429, "Resource exhausted."), False),
        (400, google_error(400, "Bad."), False),
        (403, google_error(403, "Denied."), False),
        (404, google_error(404, "Missing."), False),
        (409, google_error(409, "Exists."), False),
        (504, google_error(504, "Deadline.", status="DEADLINE_EXCEEDED"), False),
    ],
)
def test_only_transient_answers_are_retryable(status: int, body: Any, retryable: bool) -> None:
    error = api_error(status, body)
    assert error.retryable is retryable
    assert rest.is_retryable(error) is retryable


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("reset"),
        requests.Timeout("slow"),
        requests.exceptions.ChunkedEncodingError("connection broken mid-body"),
        google.auth.exceptions.TransportError("metadata down"),
    ],
    ids=["connection", "timeout", "chunked-encoding", "auth-transport"],
)
def test_transport_failures_are_retryable(error: Exception) -> None:
    assert rest.is_retryable(error)


def test_non_transport_exceptions_are_not_retryable() -> None:
    assert not rest.is_retryable(ValueError("bug"))
    assert not rest.is_retryable(google.auth.exceptions.RefreshError("revoked"))


# --- messages ----------------------------------------------------------------------------------


def test_an_error_names_the_call_without_its_query() -> None:
    error = api_error(404, google_error(404, "Not there."))
    assert str(error).startswith(
        "POST https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/customJobs: "
        "HTTP 404 NOT_FOUND: Not there."
    )
    assert error.is_not_found


def test_a_disabled_service_is_named_with_the_enable_command() -> None:
    body = google_error(
        403, "API disabled.", error_info("SERVICE_DISABLED", service="compute.googleapis.com", consumer="projects/42")
    )
    message = str(api_error(403, body, project="my-proj"))
    assert "The compute.googleapis.com API is not enabled in project my-proj" in message
    assert "gcloud services enable compute.googleapis.com --project my-proj" in message


def test_a_disabled_service_is_recognised_from_the_message_alone() -> None:
    body = google_error(
        403,
        "Vertex AI API has not been used in project 42 before or it is disabled. Enable it by visiting "
        "https://console.developers.google.com/apis/api/aiplatform.googleapis.com/overview?project=42",
    )
    error = api_error(403, body, project="p")
    assert error.is_service_disabled
    assert "gcloud services enable aiplatform.googleapis.com --project p" in str(error)


def test_a_permission_error_names_permission_and_identity_from_the_message() -> None:
    body = google_error(403, "Permission 'storage.buckets.get' denied on resource (or it may not exist).")
    message = str(api_error(403, body, identity=f"service account {FAKE_SERVICE_ACCOUNT}", project="p"))
    assert f"service account {FAKE_SERVICE_ACCOUNT} lacks storage.buckets.get in project p" in message


def test_a_quota_error_names_the_quota_from_error_info() -> None:
    message = str(api_error(429, QUOTA_EXHAUSTED, project="p"))
    assert "Quota exhausted: aiplatform.googleapis.com/custom_model_training_cpus" in message
    assert "https://console.cloud.google.com/iam-admin/quotas?project=p" in message


@pytest.mark.parametrize(
    "body",
    [
        google_error(
            429,
            "Too many requests.",
            error_info("RATE_LIMIT_EXCEEDED", quota_metric="aiplatform.googleapis.com/requests"),
        ),
        {"error": {"code": 429, "message": "Too many requests.", "errors": [{"reason": "userRateLimitExceeded"}]}},
    ],
    ids=["error-info", "legacy-user-rate-limit"],
)
def test_a_rate_limit_that_outlasted_the_retries_says_to_retry_later(body: Any) -> None:
    message = str(api_error(429, body, project="p"))
    assert "Rate limit still exceeded after retries" in message
    assert "Retry later." in message
    # Not the quota advice: an increase request would be the wrong fix for a burst.
    assert "Quota exhausted" not in message and "iam-admin/quotas" not in message


def test_a_quota_error_names_every_violation() -> None:
    body = google_error(
        429,
        "Quota exceeded.",
        quota_failure(
            {"quotaId": "GPUS-per-region", "description": "limit 0"}, {"subject": "project:p", "description": "cpus"}
        ),
    )
    error = api_error(429, body)
    assert error.quota_names == ["GPUS-per-region (limit 0)", "project:p (cpus)"]


def test_a_bad_request_quotes_each_field() -> None:
    body = google_error(400, "Invalid.", bad_request(**{"a.b": "must be set", "c": "too long"}))
    assert "Invalid request: `a.b`: must be set; `c`: too long" in str(api_error(400, body))


def test_rejected_credentials_point_at_login() -> None:
    assert "gcloud auth application-default login" in str(api_error(401, google_error(401, "Invalid credentials.")))


def test_an_html_error_page_still_gives_a_message() -> None:
    error = api_error(502, "<html>The server encountered a temporary error</html>")
    assert error.status == "" and "temporary error" in str(error)


def test_an_operation_error_is_named_by_its_grpc_code() -> None:
    error = rest.GoogleApiError.from_status({"code": 7, "message": "no"}, request="operation op-1", project="p")
    assert error.status == "PERMISSION_DENIED"
    assert str(error).startswith("operation op-1: PERMISSION_DENIED: no")


@pytest.mark.parametrize(
    "email, expected",
    [
        (FAKE_SERVICE_ACCOUNT, f"service account {FAKE_SERVICE_ACCOUNT}"),
        ("default", "the default service account of this VM (metadata server)"),
        (None, "the application default credentials (user account; see `gcloud auth list`)"),
    ],
)
def test_identity_is_described_without_a_token(email: str | None, expected: str) -> None:
    credentials = FakeCredentials(service_account_email=email)
    credentials.token = FAKE_TOKEN
    assert rest.describe_identity(credentials) == expected


# --- the client against the fake ---------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    make_backoff_tiny(monkeypatch)
    with FakeVertex() as vertex:
        yield vertex


def test_the_client_asks_for_application_default_credentials_with_the_cloud_platform_scope(
    fake: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes = install_credentials(monkeypatch, FakeCredentials())
    with rest.GoogleRestClient(fake.base_url) as client:
        assert client.get(JOBS) == {}
    assert scopes == [[rest.CLOUD_PLATFORM_SCOPE]]
    assert fake.requests[0].authorization == f"Bearer {FAKE_TOKEN}"


def test_anonymous_credentials_send_no_authorization(fake: FakeVertex, monkeypatch: pytest.MonkeyPatch) -> None:
    install_credentials(monkeypatch, google.auth.credentials.AnonymousCredentials())
    with rest.GoogleRestClient(fake.base_url) as client:
        client.get(JOBS)
    assert fake.requests[0].authorization is None


def test_missing_credentials_say_how_to_log_in(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_credentials(**_kwargs: Any) -> None:
        raise google.auth.exceptions.DefaultCredentialsError("none")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    with pytest.raises(RuntimeError, match="gcloud auth application-default login"):
        rest.GoogleRestClient("http://127.0.0.1:9")


@pytest.fixture
def client(fake: FakeVertex, monkeypatch: pytest.MonkeyPatch):
    install_credentials(monkeypatch, FakeCredentials())
    with rest.GoogleRestClient(fake.base_url, project="p") as api:
        yield api


def test_a_get_is_retried_after_503_and_a_dropped_connection(fake: FakeVertex, client: rest.GoogleRestClient) -> None:
    fake.fail_next("list", 503)
    fake.drop_before_next("list")

    assert client.get(JOBS) == {}
    assert fake.count("list") == 3


def test_retries_stop_after_max_attempts(fake: FakeVertex, client: rest.GoogleRestClient) -> None:
    fake.fail_next("list", 503, times=20)

    with pytest.raises(rest.GoogleApiError, match="HTTP 503"):
        client.get(JOBS)
    assert fake.count("list") == rest.DEFAULT_RETRY_POLICY.max_attempts


def test_a_client_error_is_raised_at_once(fake: FakeVertex, client: rest.GoogleRestClient) -> None:
    fake.fail_next("list", 409, google_error(409, "Already exists."))

    with pytest.raises(rest.GoogleApiError, match="ALREADY_EXISTS"):
        client.get(JOBS)
    assert fake.count("list") == 1


def test_a_call_without_retry_is_sent_once(fake: FakeVertex, client: rest.GoogleRestClient) -> None:
    fake.fail_next("list", 503)

    with pytest.raises(rest.GoogleApiError):
        client.request("GET", JOBS, retry=False)
    assert fake.count("list") == 1


def test_the_client_refuses_to_be_pickled(client: rest.GoogleRestClient) -> None:
    with pytest.raises(TypeError, match="must not be pickled"):
        pickle.dumps(client)


def test_poll_gives_up_at_its_deadline() -> None:
    calls = []
    with pytest.raises(TimeoutError, match="gave up after 0.05s waiting for the thing"):
        rest.poll(
            lambda: calls.append(1),
            lambda _result: False,
            deadline_seconds=0.05,
            description="the thing",
            policy=rest.PollPolicy(0.001, 0.005),
        )
    assert calls


def test_submit_exactly_once_looks_before_every_retry_and_adopts_what_it_finds() -> None:
    calls: list[str] = []
    found: list[dict[str, Any] | None] = [None, {"name": "made-by-the-lost-answer"}]

    def post() -> dict[str, Any]:
        calls.append("post")
        raise requests.ConnectionError("connection reset")

    def find_by_token() -> dict[str, Any] | None:
        calls.append("find")
        return found.pop(0)

    tiny = rest.RetryPolicy(max_attempts=5, initial_delay_seconds=0.001, max_delay_seconds=0.005)
    adopted = rest.submit_exactly_once(post, find_by_token, tiny)

    assert adopted == {"name": "made-by-the-lost-answer"}
    assert calls == ["post", "find", "post", "find"]


def test_a_cancel_of_what_already_finished_is_no_error(fake: FakeVertex, client: rest.GoogleRestClient) -> None:
    name = fake.add_job("p", "us-central1", ["JOB_STATE_SUCCEEDED"])

    assert client.cancel_if_running(name, {}) == {}
    fake.fail_next("cancel", 403)
    with pytest.raises(rest.GoogleApiError, match="PERMISSION_DENIED"):
        client.cancel_if_running(name, {})


def test_wait_for_operation_returns_a_done_operation_without_polling(
    fake: FakeVertex, client: rest.GoogleRestClient
) -> None:
    assert client.wait_for_operation({"name": "op", "done": True}, deadline_seconds=1)["done"] is True
    assert fake.requests == []


def test_every_request_is_sent_with_a_timeout(fake: FakeVertex, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without one, a half-open connection would hang `pulumi up` for ever.
    install_credentials(monkeypatch, FakeCredentials())
    for configured, expected in ((None, 60.0), (7.5, 7.5)):
        kwargs = {} if configured is None else {"timeout_seconds": configured}
        with rest.GoogleRestClient(fake.base_url, **kwargs) as client:
            timeouts: list[Any] = []
            send = client._session.request

            def spy(*args: Any, timeouts: list[Any] = timeouts, send: Any = send, **call_kwargs: Any) -> Any:
                timeouts.append(call_kwargs.get("timeout"))
                return send(*args, **call_kwargs)

            monkeypatch.setattr(client._session, "request", spy)
            client.get(JOBS)
            client.request("GET", JOBS, retry=False)
        assert timeouts == [expected, expected]


def test_retries_stop_at_the_deadline_before_max_attempts(fake: FakeVertex, monkeypatch: pytest.MonkeyPatch) -> None:
    install_credentials(monkeypatch, FakeCredentials())
    policy = rest.RetryPolicy(
        max_attempts=100, initial_delay_seconds=0.01, max_delay_seconds=0.02, deadline_seconds=0.05
    )
    fake.fail_next("list", 503, times=200)

    with rest.GoogleRestClient(fake.base_url, retry_policy=policy) as client:
        with pytest.raises(rest.GoogleApiError, match="HTTP 503"):
            client.get(JOBS)

    # 0.05 s of waits of up to 0.02 s each leave room for a handful of attempts, not 100.
    assert 2 <= fake.count("list") < 30


def _waits(retrier: Any, attempt_number: int, samples: int = 400) -> list[float]:
    import tenacity

    state = tenacity.RetryCallState(retrier, fn=None, args=(), kwargs={})
    state.attempt_number = attempt_number
    return [retrier.wait(state) for _ in range(samples)]


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    policy = rest.RetryPolicy(max_attempts=10, initial_delay_seconds=1.0, max_delay_seconds=8.0, deadline_seconds=100)
    retrier = rest.retrying(policy)

    first, third, tenth = (_waits(retrier, n) for n in (1, 3, 10))

    # Full jitter: each wait is drawn from [0, min(cap, initial * 2**(n-1))].
    assert all(0 <= wait <= 1.0 for wait in first)
    assert all(0 <= wait <= 4.0 for wait in third) and max(third) > 2.0
    assert all(0 <= wait <= 8.0 for wait in tenth) and max(tenth) > 6.0
    assert len(set(first)) > 1  # randomised, so clients that failed together do not retry together
    assert sum(tenth) > sum(first)
