"""The CustomJob dynamic provider, driven method by method against a loopback fake of Vertex AI."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from providers import rest, vertex_job
from providers.vertex_job import CustomJobProvider
from providers.vertex_spec import worker_pool_spec
from tests import discovery
from tests.fakes.google_api import transient_failures
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

PROJECT, REGION = "test-project", "us-central1"
IMAGE = "us-central1-docker.pkg.dev/test-project/training/trainer@sha256:" + "ab" * 32
JOB_NAME_PREFIX = f"projects/{PROJECT}/locations/{REGION}/customJobs/"


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch):
    install_credentials(monkeypatch, FakeCredentials())
    make_backoff_tiny(monkeypatch)
    with FakeVertex() as fake:
        yield fake


@pytest.fixture
def provider() -> CustomJobProvider:
    return CustomJobProvider()


def job_spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "workerPoolSpecs": [worker_pool_spec("n1-standard-4", 1, container_image=IMAGE, args=["--epochs", "3"])],
        "serviceAccount": FAKE_SERVICE_ACCOUNT,
        "baseOutputDirectory": {"outputUriPrefix": "gs://test-project-runs/run-1"},
        "scheduling": {"timeout": "3600s", "strategy": "STANDARD", "restartJobOnWorkerRestart": False},
    }
    spec.update(overrides)
    return spec


def props_for(fake: FakeVertex, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "project": PROJECT,
        "region": REGION,
        "display_name": "train-1",
        "job_spec": job_spec(),
        "labels": {"team": "ml"},
        "wait_for": "submitted",
        "api_endpoint": fake.base_url,
        "__provider": "serialized-provider-placeholder",
    }
    props.update(overrides)
    return props


def test_create_submits_one_job_and_returns_complete_outputs(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    result = provider.create(props_for(vertex))

    assert vertex.routes() == ["create"]
    assert result.id.startswith(JOB_NAME_PREFIX)
    job_id = result.id.rsplit("/", 1)[-1]
    outs = result.outs
    assert outs["name"] == result.id and outs["job_id"] == job_id
    assert outs["state"] == "JOB_STATE_QUEUED"
    assert outs["create_time"]
    assert outs["console_url"] == (
        f"https://console.cloud.google.com/vertex-ai/locations/{REGION}/training/{job_id}/cpu?project={PROJECT}"
    )
    assert outs["describe_command"] == f"gcloud ai custom-jobs describe {job_id} --region={REGION} --project={PROJECT}"
    assert (
        outs["stream_logs_command"]
        == f"gcloud ai custom-jobs stream-logs {job_id} --region={REGION} --project={PROJECT}"
    )
    assert outs["model_dir"] == "gs://test-project-runs/run-1/model"
    for key in vertex_job.INPUT_KEYS:
        assert key in outs
    assert outs["job_spec"] == job_spec() and outs["labels"] == {"team": "ml"}

    sent = vertex.requests[0]
    assert sent.authorization == f"Bearer {FAKE_TOKEN}"
    assert sent.body["displayName"] == "train-1"
    assert sent.body["labels"] == {"team": "ml", vertex_job.CREATE_TOKEN_LABEL: outs["create_token"]}


def test_create_sends_encryption_key_and_whole_numbers(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    spec = job_spec()
    # Pulumi hands numbers to providers as floats.
    spec["workerPoolSpecs"][0]["diskSpec"]["bootDiskSizeGb"] = 200.0
    key = f"projects/{PROJECT}/locations/{REGION}/keyRings/ml/cryptoKeys/jobs"
    provider.create(props_for(vertex, job_spec=spec, encryption_key=key))

    body = vertex.requests[0].body
    assert body["encryptionSpec"] == {"kmsKeyName": key}
    assert body["jobSpec"]["workerPoolSpecs"][0]["diskSpec"]["bootDiskSizeGb"] == 200
    assert isinstance(body["jobSpec"]["workerPoolSpecs"][0]["diskSpec"]["bootDiskSizeGb"], int)


@transient_failures(quota_metric="aiplatform.googleapis.com/custom_job_requests")
def test_create_retries_transient_failures_without_a_second_job(
    vertex: FakeVertex, provider: CustomJobProvider, status: int, body: dict | None
) -> None:
    vertex.fail_next("create", status, body)

    result = provider.create(props_for(vertex))

    assert vertex.count("create") == 2
    assert len(vertex.jobs) == 1 and result.id in vertex.jobs


def test_create_does_not_retry_an_exhausted_quota(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.fail_next(
        "create",
        429,
        google_error(
            429,
            "Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus.",
            error_info("RESOURCE_EXHAUSTED"),
            quota_failure(
                {
                    "subject": "project:test-project",
                    "quotaMetric": "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus",
                    "description": "Limit 0 in region us-central1",
                }
            ),
        ),
    )

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(vertex))

    assert vertex.routes() == ["create"]
    assert "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus" in str(raised.value)
    assert "Quota exhausted" in str(raised.value)
    assert not vertex.jobs


def test_create_reports_a_disabled_api_with_the_command_to_enable_it(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.fail_next(
        "create",
        403,
        google_error(
            403,
            "Vertex AI API has not been used in project 123 before or it is disabled.",
            error_info("SERVICE_DISABLED", service="aiplatform.googleapis.com", consumer="projects/123"),
        ),
    )

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(vertex))

    assert vertex.routes() == ["create"]
    assert f"gcloud services enable aiplatform.googleapis.com --project {PROJECT}" in str(raised.value)


def test_create_reports_the_missing_permission_and_who_lacks_it(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.fail_next(
        "create",
        403,
        google_error(
            403,
            "Permission 'aiplatform.customJobs.create' denied on resource '//aiplatform.googleapis.com/projects/test-project/locations/us-central1' (or it may not exist).",
            error_info("IAM_PERMISSION_DENIED", permission="aiplatform.customJobs.create"),
        ),
    )

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(vertex))

    message = str(raised.value)
    assert vertex.routes() == ["create"]
    assert "lacks aiplatform.customJobs.create" in message
    assert FAKE_SERVICE_ACCOUNT in message
    assert FAKE_TOKEN not in message


def test_create_quotes_the_offending_field_of_a_bad_request(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.fail_next(
        "create",
        400,
        google_error(
            400,
            "Request contains an invalid argument.",
            bad_request(
                **{
                    "job_spec.worker_pool_specs[0].machine_spec.machine_type": 'Machine type "n1-huge-9" is not supported.'
                }
            ),
        ),
    )

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(vertex))

    assert vertex.routes() == ["create"]
    assert "`job_spec.worker_pool_specs[0].machine_spec.machine_type`" in str(raised.value)
    assert "n1-huge-9" in str(raised.value)


def test_an_invalid_body_is_rejected_by_the_fake_and_not_retried(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    spec = job_spec(scheduling={"timeout": "1 hour"})

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(vertex, job_spec=spec))

    assert vertex.routes() == ["create"]
    assert "jobSpec.scheduling.timeout" in str(raised.value)


def test_a_dropped_create_answer_adopts_the_job_instead_of_starting_another(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.drop_after_next("create")

    result = provider.create(props_for(vertex))

    assert vertex.routes() == ["create", "list"]
    assert len(vertex.jobs) == 1
    assert result.id in vertex.jobs
    assert result.outs["name"] == result.id
    token_filter = vertex.requests[1].query["filter"][0]
    assert token_filter == f'labels.{vertex_job.CREATE_TOKEN_LABEL}="{result.outs["create_token"]}"'


def test_a_create_lost_before_the_server_saw_it_is_sent_again(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.drop_before_next("create")

    result = provider.create(props_for(vertex))

    assert vertex.routes() == ["create", "list", "create"]
    assert list(vertex.jobs) == [result.id]


def test_create_gives_up_after_bounded_attempts(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.fail_next("create", 503, times=50)

    with pytest.raises(rest.GoogleApiError):
        provider.create(props_for(vertex))

    assert vertex.count("create") == rest.CREATE_RETRY_POLICY.max_attempts
    assert not vertex.jobs


def test_wait_for_running_returns_once_the_job_runs(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    result = provider.create(props_for(vertex, wait_for="running"))

    assert result.outs["state"] == "JOB_STATE_RUNNING"
    assert vertex.routes() == ["create", "get", "get"]


@pytest.mark.parametrize("wait_for", ["running", "succeeded"])
@pytest.mark.parametrize(
    "final_state", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"]
)
def test_a_waited_for_job_that_ends_unsuccessfully_fails_the_create(
    vertex: FakeVertex, provider: CustomJobProvider, wait_for: str, final_state: str
) -> None:
    # A job cancelled in the console, expired in the queue or only partly done is not a trained model.
    vertex.script_next_job(["JOB_STATE_PENDING", final_state])

    with pytest.raises(vertex_job.CustomJobFailedError, match=f"ended {final_state}"):
        provider.create(props_for(vertex, wait_for=wait_for))


def test_wait_for_succeeded_reports_a_failed_job_with_its_logs_command(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.script_next_job(
        ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_FAILED"],
        error_message="CUDA out of memory in workerpool0-0",
    )

    with pytest.raises(vertex_job.CustomJobFailedError) as raised:
        provider.create(props_for(vertex, wait_for="succeeded"))

    (job_name,) = vertex.jobs
    job_id = job_name.rsplit("/", 1)[-1]
    assert "CUDA out of memory in workerpool0-0" in str(raised.value)
    assert f"gcloud ai custom-jobs stream-logs {job_id} --region={REGION} --project={PROJECT}" in str(raised.value)


def test_wait_for_succeeded_returns_a_succeeded_job(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    result = provider.create(props_for(vertex, wait_for="succeeded"))

    assert result.outs["state"] == "JOB_STATE_SUCCEEDED"


def test_a_wait_past_its_deadline_cancels_the_job(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.script_next_job(["JOB_STATE_PENDING"])

    with pytest.raises(TimeoutError, match="was cancelled"):
        provider.create(props_for(vertex, wait_for="running", wait_timeout_seconds=0.05))

    assert vertex.routes()[-1] == "cancel"


def test_read_refreshes_the_state(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex))

    read = provider.read(created.id, created.outs)

    assert read.id == created.id
    assert read.outs["state"] == "JOB_STATE_PENDING"
    assert read.outs["create_token"] == created.outs["create_token"]


def test_read_of_a_job_deleted_outside_pulumi_reports_it_gone(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex))
    vertex.jobs.clear()

    read = provider.read(created.id, created.outs)

    # The engine treats an empty id as "deleted"; outs must stay a dict (it adds __provider to it).
    assert read.id == ""
    assert read.outs == {}


def test_read_does_not_forget_the_job_on_a_permission_error(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex))
    vertex.fail_next("get", 403, google_error(403, "Permission 'aiplatform.customJobs.get' denied."))

    # An empty id would make the engine drop a job that is still running (and billed).
    with pytest.raises(rest.GoogleApiError, match="PERMISSION_DENIED"):
        provider.read(created.id, created.outs)
    assert created.id in vertex.jobs


def test_two_creates_use_different_create_tokens(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    first = provider.create(props_for(vertex)).outs["create_token"]
    second = provider.create(props_for(vertex)).outs["create_token"]

    assert first and second and first != second


def test_a_dropped_create_never_adopts_an_earlier_job_with_the_same_definition(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    earlier = provider.create(props_for(vertex))
    vertex.drop_before_next("create")

    later = provider.create(props_for(vertex))

    assert later.id != earlier.id
    assert set(vertex.jobs) == {earlier.id, later.id}
    assert later.outs["create_token"] != earlier.outs["create_token"]


def test_a_dropped_create_never_adopts_a_job_carrying_another_token(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    someone_elses = vertex.add_job(
        PROJECT,
        REGION,
        ["JOB_STATE_RUNNING"],
        displayName="train-1",
        labels={"team": "ml", vertex_job.CREATE_TOKEN_LABEL: "a-token-from-another-create"},
    )
    vertex.drop_before_next("create")

    result = provider.create(props_for(vertex))

    assert result.id != someone_elses
    assert vertex.routes() == ["create", "list", "create"]
    assert len(vertex.jobs) == 2


def test_delete_of_a_running_job_cancels_waits_deletes_and_waits_for_the_operation(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.script_next_job(["JOB_STATE_PENDING", "JOB_STATE_RUNNING"])  # runs until cancelled
    created = provider.create(props_for(vertex, wait_for="running"))
    del vertex.requests[:]

    provider.delete(created.id, created.outs)

    assert vertex.routes() == ["get", "cancel", "get", "delete", "operation"]
    assert not vertex.jobs


def test_delete_when_the_job_finishes_between_the_read_and_the_cancel(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.script_next_job(["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"])
    created = provider.create(props_for(vertex, wait_for="running"))
    # What Vertex answers when the job ended after our GET: nothing left to cancel.
    vertex.fail_next(
        "cancel",
        400,
        google_error(400, "Cannot cancel job in state JOB_STATE_SUCCEEDED.", status="FAILED_PRECONDITION"),
    )
    del vertex.requests[:]

    provider.delete(created.id, created.outs)

    assert vertex.routes() == ["get", "cancel", "get", "delete", "operation"]
    assert not vertex.jobs


def test_delete_stops_when_the_cancel_is_refused(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    vertex.script_next_job(["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"])
    created = provider.create(props_for(vertex, wait_for="running"))
    vertex.fail_next("cancel", 403, google_error(403, "Permission 'aiplatform.customJobs.cancel' denied."))
    del vertex.requests[:]

    with pytest.raises(rest.GoogleApiError, match="aiplatform.customJobs.cancel"):
        provider.delete(created.id, created.outs)

    assert vertex.routes() == ["get", "cancel"]
    assert created.id in vertex.jobs


def test_delete_of_a_job_already_cancelling_does_not_cancel_it_again(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    # Each GET advances the fake one step: the first GET sees CANCELLING, the next CANCELLED.
    name = vertex.add_job(
        PROJECT, REGION, ["JOB_STATE_RUNNING", "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"], displayName="train-1"
    )

    provider.delete(name, props_for(vertex, name=name))

    assert vertex.routes() == ["get", "get", "delete", "operation"]
    assert not vertex.jobs


def test_delete_polls_the_operation_until_it_is_done(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex, wait_for="succeeded"))
    vertex.operation_gets_until_done = 2
    del vertex.requests[:]

    provider.delete(created.id, created.outs)

    assert vertex.routes() == ["get", "delete", "operation", "operation"]
    assert not vertex.jobs


def test_delete_of_a_finished_job_does_not_cancel(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex, wait_for="succeeded"))
    del vertex.requests[:]

    provider.delete(created.id, created.outs)

    assert vertex.routes() == ["get", "delete", "operation"]
    assert not vertex.jobs


def test_delete_of_a_job_already_gone_succeeds(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex))
    vertex.jobs.clear()

    provider.delete(created.id, created.outs)

    assert vertex.routes()[-1] == "get"


def test_delete_surfaces_a_failed_operation(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex, wait_for="succeeded"))
    vertex.fail_next("operation", 200, {"name": "op", "done": True, "error": {"code": 9, "message": "job is locked"}})

    with pytest.raises(rest.GoogleApiError, match="FAILED_PRECONDITION: job is locked"):
        provider.delete(created.id, created.outs)


def test_delete_retries_a_transient_failure(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex, wait_for="succeeded"))
    vertex.fail_next("delete", 503)

    provider.delete(created.id, created.outs)

    assert vertex.count("delete") == 2 and not vertex.jobs


def test_diff_replaces_on_a_job_definition_change(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    olds = provider.create(props_for(vertex)).outs
    news = props_for(vertex, job_spec=job_spec(scheduling={"timeout": "7200s"}))

    diff = provider.diff(olds["name"], olds, news)

    assert diff.changes is True
    assert diff.replaces == ["job_spec"]
    assert diff.delete_before_replace is False


@pytest.mark.parametrize(
    "key, value",
    [
        ("display_name", "train-2"),
        ("region", "europe-west4"),
        ("project", "other-project"),
        ("encryption_key", f"projects/{PROJECT}/locations/{REGION}/keyRings/ml/cryptoKeys/jobs"),
    ],
)
def test_diff_replaces_on_each_job_property(
    vertex: FakeVertex, provider: CustomJobProvider, key: str, value: Any
) -> None:
    olds = provider.create(props_for(vertex)).outs

    assert provider.diff(olds["name"], olds, props_for(vertex, **{key: value})).replaces == [key]


def test_diff_sees_no_change_when_only_provider_outputs_differ(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    olds = provider.create(props_for(vertex)).outs

    diff = provider.diff(olds["name"], olds, props_for(vertex, __provider="newer-provider-code"))

    assert diff.changes is False and diff.replaces == []


def test_a_wait_for_change_updates_in_place_keeping_outputs(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    olds = provider.create(props_for(vertex)).outs
    news = props_for(vertex, wait_for="succeeded")

    diff = provider.diff(olds["name"], olds, news)
    assert diff.changes is True and diff.replaces == []

    del vertex.requests[:]
    updated = provider.update(olds["name"], olds, news).outs

    assert vertex.routes() == ["get"]
    assert updated["wait_for"] == "succeeded"
    for key in vertex_job.OUTPUT_ONLY_KEYS:
        if key != "state":
            assert updated[key] == olds[key], key
    assert updated["state"] == "JOB_STATE_PENDING"


def test_a_labels_only_change_updates_in_place_without_a_new_run(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    olds = provider.create(props_for(vertex)).outs
    news = props_for(vertex, labels={"team": "research", "cost-center": "42"})

    diff = provider.diff(olds["name"], olds, news)
    assert diff.changes is True and diff.replaces == []

    del vertex.requests[:]
    updated = provider.update(olds["name"], olds, news).outs

    assert vertex.routes() == ["get"]  # re-read only: no create, no cancel, no delete
    assert len(vertex.jobs) == 1
    assert updated["labels"] == {"team": "research", "cost-center": "42"}
    for key in vertex_job.OUTPUT_ONLY_KEYS:
        if key != "state":
            assert updated[key] == olds[key], key


def test_a_labels_change_with_a_definition_change_replaces_for_the_definition(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    olds = provider.create(props_for(vertex)).outs
    news = props_for(vertex, labels={"team": "research"}, display_name="train-2")

    assert provider.diff(olds["name"], olds, news).replaces == ["display_name"]


@pytest.mark.parametrize(
    "override, property_name",
    [
        ({"project": ""}, "project"),
        ({"project": None}, "project"),
        ({"region": ""}, "region"),
        ({"display_name": ""}, "display_name"),
        ({"job_spec": None}, "job_spec"),
        ({"labels": {"team": "ml", vertex_job.CREATE_TOKEN_LABEL: "x"}}, "labels"),
        # The OAuth token goes to the host these make: only region names and Google's own hosts.
        ({"project": "evil/../../x"}, "project"),
        ({"region": "evil.example.com/x"}, "region"),
        ({"region": "europe-west1.attacker.net#"}, "region"),
        ({"region": "europe-west1\n"}, "region"),
        ({"api_endpoint": "https://example.com"}, "api_endpoint"),
        ({"api_endpoint": "https://aiplatform.googleapis.com.evil.net"}, "api_endpoint"),
        ({"api_endpoint": "http://europe-west1-aiplatform.googleapis.com"}, "api_endpoint"),
        ({"api_endpoint": "http://10.0.0.1:8080"}, "api_endpoint"),
        ({"api_endpoint": "https://x.googleapis.com\n"}, "api_endpoint"),
    ],
)
def test_check_names_each_bad_input(override: dict[str, Any], property_name: str, provider: CustomJobProvider) -> None:
    news = {"project": PROJECT, "region": REGION, "display_name": "x", "job_spec": job_spec(), **override}

    result = provider.check({}, news)

    assert [failure.property for failure in result.failures] == [property_name]


def test_check_accepts_good_inputs(provider: CustomJobProvider) -> None:
    news = {"project": PROJECT, "region": REGION, "display_name": "x", "job_spec": job_spec(), "labels": {"team": "ml"}}

    assert provider.check({}, news).failures == []
    for endpoint in ("https://europe-west1-aiplatform.googleapis.com", "http://127.0.0.1:8123", "http://localhost:9"):
        assert provider.check({}, {**news, "api_endpoint": endpoint}).failures == [], endpoint
    assert provider.check({}, {**news, "region": "northamerica-northeast2"}).failures == []


def test_a_crafted_region_never_reaches_a_request(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    with pytest.raises(ValueError, match="not a Google Cloud region name"):
        provider.create({**props_for(vertex), "region": "evil.example.com/x"})
    assert vertex.requests == []


def test_jobs_go_to_the_regional_endpoint_unless_one_is_given() -> None:
    inputs = vertex_job.JobInputs(project=PROJECT, region="europe-west1", display_name="t", job_spec=job_spec())

    assert inputs.base_url == "https://europe-west1-aiplatform.googleapis.com"
    assert inputs.parent == f"projects/{PROJECT}/locations/europe-west1"
    overridden = vertex_job.JobInputs(
        project=PROJECT, region="europe-west1", display_name="t", job_spec=job_spec(), api_endpoint="http://127.0.0.1:9"
    )
    assert overridden.base_url == "http://127.0.0.1:9"


def test_check_reports_bad_inputs(provider: CustomJobProvider) -> None:
    result = provider.check(
        {}, {"project": PROJECT, "region": REGION, "display_name": "x", "job_spec": {}, "wait_for": "done"}
    )

    assert {failure.property for failure in result.failures} == {"job_spec", "wait_for"}


def test_check_skips_values_unknown_during_preview(provider: CustomJobProvider) -> None:
    from pulumi.runtime import rpc

    news = {"project": PROJECT, "region": REGION, "display_name": "x", "job_spec": rpc.UNKNOWN, "wait_for": rpc.UNKNOWN}

    assert provider.check({}, news).failures == []


def test_the_pickled_provider_carries_no_credentials(vertex: FakeVertex, provider: CustomJobProvider) -> None:
    created = provider.create(props_for(vertex))
    provider.read(created.id, created.outs)
    assert vertex.requests[0].authorization == f"Bearer {FAKE_TOKEN}"  # the token was in use

    for pickled in (dill.dumps(provider, recurse=True), base64.b64decode(serialize_provider(provider))):
        assert FAKE_TOKEN.encode() not in pickled
        assert b"google.auth" not in pickled
        assert b"Credentials" not in pickled
        assert b"AuthorizedSession" not in pickled
        assert isinstance(dill.loads(pickled), CustomJobProvider)
    assert vars(provider) == {}


# --- worker_pool_spec ------------------------------------------------------------------------


def _job_with_pools(*pools: dict[str, Any]) -> dict[str, Any]:
    return {"displayName": "t", "jobSpec": {"workerPoolSpecs": list(pools)}}


def test_worker_pool_spec_builds_a_valid_container_pool() -> None:
    chief = worker_pool_spec(
        "n1-standard-8",
        1,
        accelerator_type="NVIDIA_TESLA_T4",
        accelerator_count=1,
        container_image=IMAGE,
        args=["--epochs", 3],
        env={"LOG_LEVEL": "info"},
    )
    workers = worker_pool_spec("n1-standard-8", 3, container_image=IMAGE, boot_disk_size_gb=200)

    assert chief == {
        "machineSpec": {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1},
        "replicaCount": "1",
        "diskSpec": {"bootDiskSizeGb": 100},
        "containerSpec": {
            "imageUri": IMAGE,
            "args": ["--epochs", "3"],
            "env": [{"name": "LOG_LEVEL", "value": "info"}],
        },
    }
    assert (
        discovery.validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", _job_with_pools(chief, workers)) == []
    )


def test_worker_pool_spec_builds_a_valid_python_package_pool() -> None:
    pool = worker_pool_spec(
        "n1-standard-4",
        1,
        python_package_uris=["gs://bucket/trainer-0.1.tar.gz"],
        executor_image="us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest",
        python_module="trainer.task",
    )

    assert pool["pythonPackageSpec"]["pythonModule"] == "trainer.task"
    assert "containerSpec" not in pool
    assert discovery.validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", _job_with_pools(pool)) == []


@pytest.mark.parametrize(
    "image",
    [
        "us-central1-docker.pkg.dev/p/r/trainer:latest",
        "us-central1-docker.pkg.dev/p/r/trainer",
        "us-central1-docker.pkg.dev/p/r/trainer@sha256:abc",
    ],
)
def test_worker_pool_spec_rejects_an_image_not_pinned_by_digest(image: str) -> None:
    with pytest.raises(ValueError, match="not pinned by digest"):
        worker_pool_spec("n1-standard-4", 1, container_image=image)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of"),
        ({"container_image": IMAGE, "python_package_uris": ["gs://b/p.tar.gz"]}, "exactly one of"),
        ({"python_package_uris": ["gs://b/p.tar.gz"]}, "executor_image"),
        ({"python_package_uris": ["/local/p.tar.gz"], "executor_image": "x", "python_module": "m"}, "gs://"),
        ({"container_image": IMAGE, "accelerator_type": "NVIDIA_TESLA_T4"}, "go together"),
        ({"container_image": IMAGE, "accelerator_count": 2}, "go together"),
    ],
)
def test_worker_pool_spec_rejects_inconsistent_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worker_pool_spec("n1-standard-4", 1, **kwargs)


def test_worker_pool_spec_rejects_a_non_positive_replica_count() -> None:
    with pytest.raises(ValueError, match="replica_count"):
        worker_pool_spec("n1-standard-4", 0, container_image=IMAGE)


def test_wait_for_running_reports_a_job_that_fails_before_running(
    vertex: FakeVertex, provider: CustomJobProvider
) -> None:
    vertex.script_next_job(["JOB_STATE_PENDING", "JOB_STATE_FAILED"], error_message="Image pull failed")

    with pytest.raises(vertex_job.CustomJobFailedError, match="JOB_STATE_FAILED: Image pull failed"):
        provider.create(props_for(vertex, wait_for="running"))


def test_the_resource_declares_its_type_and_every_output() -> None:
    assert vertex_job.CustomJob._resource_type_name == "dynamic/vertex:CustomJob"
    declared = set(vertex_job.CustomJob.__annotations__)
    assert declared == set(vertex_job.INPUT_KEYS) | set(vertex_job.OUTPUT_ONLY_KEYS)
    args = vertex_job.CustomJobArgs(project=PROJECT, region=REGION, display_name="t", job_spec=job_spec())
    assert list(args.to_props()) == list(vertex_job.INPUT_KEYS)
