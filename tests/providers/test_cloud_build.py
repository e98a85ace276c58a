"""The Cloud Build image build provider, driven method by method against a loopback fake of Cloud Build."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from providers import cloud_build, cloud_build_spec, rest
from providers.cloud_build import CloudBuildFailedError, CloudBuildProvider
from tests import discovery
from tests.fakes.cloud_build import (
    FAILED,
    RUNS_FOREVER,
    SUCCEEDED,
    FakeCloudBuild,
    fake_digest,
    make_backoff_tiny,
)
from tests.fakes.google_api import (
    FAKE_TOKEN,
    FakeCredentials,
    bad_request,
    error_info,
    google_error,
    install_credentials,
    quota_failure,
    transient_failures,
)

PROJECT, LOCATION = "test-project", "europe-west1"
REPOSITORY = "europe-west1-docker.pkg.dev/test-project/mlops"
IMAGE = f"{REPOSITORY}/trainer:0123456789abcdef"
BUCKET, OBJECT = "test-project-dev-mlops", "builds/trainer-0123456789abcdef.tar.gz"
BUILDER = "image-builder@test-project.iam.gserviceaccount.com"
BUILD_NAME_PREFIX = f"projects/{PROJECT}/locations/{LOCATION}/builds/"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    install_credentials(monkeypatch, FakeCredentials())
    make_backoff_tiny(monkeypatch)
    with FakeCloudBuild() as api:
        yield api


@pytest.fixture
def provider() -> CloudBuildProvider:
    return CloudBuildProvider()


def props_for(fake: FakeCloudBuild | None, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "project": PROJECT,
        "location": LOCATION,
        "source_bucket": BUCKET,
        "source_object": OBJECT,
        "image": IMAGE,
        "service_account": BUILDER,
        "dockerfile": "Dockerfile",
        "api_endpoint": fake.base_url if fake else None,
        "__provider": "serialized-provider-placeholder",
    }
    props.update(overrides)
    return props


def running_build(fake: FakeCloudBuild, provider: CloudBuildProvider) -> tuple[str, dict[str, Any]]:
    """A build still running, with the outputs the provider records for it (as after an interrupted wait)."""
    name = fake.add_build(PROJECT, LOCATION, RUNS_FOREVER, images=[IMAGE], tags=["pulumi-create-x"])
    outs = provider.read(name, props_for(fake)).outs
    del fake.requests[:]
    return name, outs


# --- create -------------------------------------------------------------------------------------


def test_create_builds_once_and_returns_the_pushed_digest(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    result = provider.create(props_for(fake))

    assert fake.routes() == ["create", "get", "get"]  # QUEUED in the create answer, then WORKING, SUCCESS
    assert result.id.startswith(BUILD_NAME_PREFIX) and list(fake.builds) == [result.id]
    outs = result.outs
    build_id = result.id.rsplit("/", 1)[-1]
    assert outs["name"] == result.id and outs["build_id"] == build_id
    assert outs["status"] == "SUCCESS"
    assert outs["digest"] == fake_digest(IMAGE, build_id)
    assert outs["image_digest_ref"] == f"{REPOSITORY}/trainer@{outs['digest']}"
    assert outs["log_url"].startswith("https://console.cloud.google.com/cloud-build/builds")
    assert outs["log_command"] == f"gcloud builds log {build_id} --region={LOCATION} --project={PROJECT}"
    for key in cloud_build_spec.INPUT_KEYS:
        assert key in outs, key
    assert fake.requests[0].authorization == f"Bearer {FAKE_TOKEN}"


def test_the_build_request_builds_the_context_as_asked(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    outs = provider.create(
        props_for(
            fake,
            source_generation="1764331200123456",
            dockerfile="docker/Dockerfile.gpu",
            build_args={"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128", "A": "literal $HOME"},
            machine_type="E2_HIGHCPU_8",
            timeout_seconds=2700.0,  # Pulumi hands numbers over as floats
            tags=["mlops", "trainer"],
        )
    ).outs

    body = fake.requests[0].body
    assert body["source"] == {"storageSource": {"bucket": BUCKET, "object": OBJECT, "generation": "1764331200123456"}}
    assert body["steps"] == [
        {
            "name": "gcr.io/cloud-builders/docker",
            "args": [
                "build",
                "--platform=linux/amd64",
                "--file",
                "docker/Dockerfile.gpu",
                "--tag",
                IMAGE,
                "--build-arg",
                "A=literal $$HOME",  # Cloud Build would substitute $HOME
                "--build-arg",
                "TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128",
                ".",
            ],
        }
    ]
    assert body["images"] == [IMAGE]
    assert body["serviceAccount"] == f"projects/{PROJECT}/serviceAccounts/{BUILDER}"
    assert body["options"] == {"logging": "CLOUD_LOGGING_ONLY", "machineType": "E2_HIGHCPU_8"}
    assert body["timeout"] == "2700s"
    assert body["tags"] == ["mlops", "trainer", outs["create_token"]]
    assert outs["timeout_seconds"] == 2700


def test_every_request_body_is_valid_for_cloud_build(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    provider.create(props_for(fake, build_args={"X": "1"}, tags=["t"], machine_type="E2_MEDIUM"))
    (create,) = [request for request in fake.requests if request.body is not None]
    name, outs = running_build(fake, provider)
    provider.delete(name, outs)
    (cancel,) = [request for request in fake.requests if request.body is not None]

    assert (create.route, cancel.route) == ("create", "cancel")
    assert discovery.validate("cloudbuild.v1", "Build", create.body) == []
    assert discovery.validate("cloudbuild.v1", "CancelBuildRequest", cancel.body) == []
    assert cancel.body == {"name": name, "projectId": PROJECT, "id": name.rsplit("/", 1)[-1]}


@transient_failures(quota_metric="cloudbuild.googleapis.com/create_requests")
def test_create_retries_transient_failures_without_a_second_build(
    fake: FakeCloudBuild, provider: CloudBuildProvider, status: int, body: dict | None
) -> None:
    fake.fail_next("create", status, body)

    result = provider.create(props_for(fake))

    assert fake.routes()[:3] == ["create", "list", "create"]
    assert list(fake.builds) == [result.id]


def test_create_does_not_retry_an_exhausted_quota(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    fake.fail_next(
        "create",
        429,
        google_error(
            429,
            "Quota exceeded for quota metric 'Concurrent builds'.",
            error_info("RESOURCE_EXHAUSTED"),
            quota_failure(
                {"subject": "project:test-project", "quotaMetric": "cloudbuild.googleapis.com/concurrent_builds"}
            ),
        ),
    )

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(fake))

    assert fake.routes() == ["create"] and not fake.builds
    assert "Quota exhausted: cloudbuild.googleapis.com/concurrent_builds" in str(raised.value)


@pytest.mark.parametrize(
    "message, info, advice",
    [
        pytest.param(
            "The caller does not have permission",
            error_info("IAM_PERMISSION_DENIED", permission="iam.serviceAccounts.actAs"),
            "lacks iam.serviceAccounts.actAs in project test-project",
            id="missing-permission",
        ),
        pytest.param(
            "Cloud Build API has not been used in project 123 before or it is disabled.",
            error_info("SERVICE_DISABLED", service="cloudbuild.googleapis.com"),
            "gcloud services enable cloudbuild.googleapis.com --project test-project",
            id="disabled-api",
        ),
    ],
)
def test_a_refused_create_says_what_to_do_and_is_not_retried(
    fake: FakeCloudBuild, provider: CloudBuildProvider, message: str, info: dict[str, Any], advice: str
) -> None:
    fake.fail_next("create", 403, google_error(403, message, info))

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(fake))

    assert fake.routes() == ["create"]
    assert advice in str(raised.value)


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_create_never_retries_a_client_error(fake: FakeCloudBuild, provider: CloudBuildProvider, status: int) -> None:
    fake.fail_next("create", status, google_error(status, "no", bad_request(**{"build.images[0]": "bad image"})))

    with pytest.raises(rest.GoogleApiError) as raised:
        provider.create(props_for(fake))

    assert fake.routes() == ["create"] and not fake.builds
    if status == 400:
        assert "`build.images[0]`: bad image" in str(raised.value)


def test_create_gives_up_after_bounded_attempts(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    fake.fail_next("create", 503, times=50)

    with pytest.raises(rest.GoogleApiError):
        provider.create(props_for(fake))

    assert fake.count("create") == rest.CREATE_RETRY_POLICY.max_attempts and not fake.builds


def test_a_dropped_create_answer_adopts_the_build_instead_of_starting_another(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.drop_after_next("create")

    result = provider.create(props_for(fake))

    assert fake.routes()[:2] == ["create", "list"] and fake.count("create") == 1
    assert list(fake.builds) == [result.id]
    assert result.outs["status"] == "SUCCESS" and result.outs["digest"]
    assert fake.requests[1].query["filter"] == [f'tags="{result.outs["create_token"]}"']


def test_a_create_lost_before_the_server_saw_it_is_sent_again(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.drop_before_next("create")

    result = provider.create(props_for(fake))

    assert fake.routes()[:3] == ["create", "list", "create"]
    assert list(fake.builds) == [result.id]


def test_a_retried_create_never_adopts_a_build_carrying_another_token(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    someone_elses = fake.add_build(PROJECT, LOCATION, SUCCEEDED, images=[IMAGE], tags=["pulumi-create-another"])
    fake.drop_before_next("create")

    result = provider.create(props_for(fake))

    assert result.id != someone_elses and len(fake.builds) == 2


def test_two_creates_use_different_create_tokens(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    first = provider.create(props_for(fake)).outs["create_token"]
    second = provider.create(props_for(fake)).outs["create_token"]

    assert first != second
    assert all(cloud_build_spec.BUILD_TAG.match(token) for token in (first, second))


def test_an_operation_that_does_not_name_the_build_is_resolved_by_the_create_token(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.operation_names_the_build = False

    result = provider.create(props_for(fake))

    assert fake.routes()[:2] == ["create", "list"] and list(fake.builds) == [result.id]


# --- a build that does not give an image --------------------------------------------------------


def test_a_failed_build_names_its_status_the_failure_and_where_its_log_is(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.script_next_build(FAILED, failure_type="USER_BUILD_STEP", failure_detail="Build step 0 exited with 1")

    with pytest.raises(CloudBuildFailedError) as raised:
        provider.create(props_for(fake))

    (build,) = fake.builds.values()
    message = str(raised.value)
    assert "ended FAILURE: USER_BUILD_STEP: Build step 0 exited with 1" in message
    assert f"Logs: {build.resource['logUrl']}" in message
    assert f"gcloud builds log {build.resource['id']} --region={LOCATION} --project={PROJECT}" in message


@pytest.mark.parametrize("final_status", ["INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"])
def test_every_unsuccessful_end_fails_the_create(
    fake: FakeCloudBuild, provider: CloudBuildProvider, final_status: str
) -> None:
    fake.script_next_build(("QUEUED", final_status))

    with pytest.raises(CloudBuildFailedError, match=f"ended {final_status}") as raised:
        provider.create(props_for(fake))
    assert "https://console.cloud.google.com/cloud-build/builds" in str(raised.value)


def test_a_push_refused_says_which_role_the_builder_lacks(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    fake.script_next_build(FAILED, failure_type="PUSH_NOT_AUTHORIZED", failure_detail="denied: Permission denied")

    with pytest.raises(CloudBuildFailedError, match=f"{BUILDER} needs roles/artifactregistry.writer on {REPOSITORY}"):
        provider.create(props_for(fake))


def test_a_success_without_a_digest_is_not_an_image_to_run(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    fake.reports_digests = False

    with pytest.raises(CloudBuildFailedError, match="reported no digest"):
        provider.create(props_for(fake))


def test_a_wait_past_its_deadline_cancels_the_build_and_says_so(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.script_next_build(RUNS_FOREVER)

    with pytest.raises(TimeoutError, match="The build was cancelled") as raised:
        provider.create(props_for(fake, wait_timeout_seconds=0.05))

    assert fake.routes()[-1] == "cancel"
    (build,) = fake.builds.values()
    assert build.resource["logUrl"] in str(raised.value)
    assert build.timeline[-1] == "CANCELLED"


# --- delete, read, update -------------------------------------------------------------------------


def test_delete_cancels_a_running_build_and_waits_until_it_stops(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    fake.cancel_gets_until_cancelled = 2
    name, outs = running_build(fake, provider)

    provider.delete(name, outs)

    assert fake.routes() == ["get", "cancel", "get", "get"]
    assert fake.statuses()[name] == "CANCELLED"


def test_delete_gives_up_on_a_build_that_will_not_stop(
    fake: FakeCloudBuild, provider: CloudBuildProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud_build, "CANCEL_TIMEOUT_SECONDS", 0.05)
    fake.cancel_gets_until_cancelled = 10**6
    name, outs = running_build(fake, provider)

    with pytest.raises(TimeoutError, match=name):
        provider.delete(name, outs)


def test_delete_of_a_finished_build_leaves_it_and_its_image_alone(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    created = provider.create(props_for(fake))
    del fake.requests[:]

    provider.delete(created.id, created.outs)

    assert fake.routes() == ["get"]
    assert fake.statuses() == {created.id: "SUCCESS"}


def test_delete_of_a_build_gone_from_history_is_fine(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    created = provider.create(props_for(fake))
    fake.builds.clear()

    provider.delete(created.id, created.outs)


def test_read_refreshes_the_status(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    name, outs = running_build(fake, provider)

    read = provider.read(name, outs)

    assert read.id == name and read.outs["status"] == "WORKING" and read.outs["digest"] is None


def test_a_build_whose_history_expired_keeps_its_image(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    """Cloud Build has no delete: a 404 means the history expired, not that the image is gone. A refresh that
    forgot the build would rebuild it, and a new digest would replace the job and the serving revision."""
    created = provider.create(props_for(fake))
    fake.builds.clear()

    read = provider.read(created.id, created.outs)

    assert read.id == created.id
    assert read.outs["digest"] == created.outs["digest"] and read.outs["image"] == created.outs["image"]


def test_read_does_not_forget_the_build_on_a_permission_error(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    created = provider.create(props_for(fake))
    fake.fail_next("get", 403, google_error(403, "Permission 'cloudbuild.builds.get' denied."))

    with pytest.raises(rest.GoogleApiError, match="PERMISSION_DENIED"):
        provider.read(created.id, created.outs)


def test_the_pickled_provider_carries_no_credentials(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    created = provider.create(props_for(fake))
    provider.read(created.id, created.outs)

    for pickled in (dill.dumps(provider, recurse=True), base64.b64decode(serialize_provider(provider))):
        assert FAKE_TOKEN.encode() not in pickled
        assert b"Credentials" not in pickled and b"AuthorizedSession" not in pickled
        assert isinstance(dill.loads(pickled), CloudBuildProvider)
    assert vars(provider) == {}


# --- diff: the content hash is the identity ---------------------------------------------------------


def test_an_unchanged_context_changes_nothing(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    olds = provider.create(props_for(fake, timeout_seconds=1800, build_args={}, tags=[])).outs

    # Pulumi's floats, empty maps for none, and other provider code are no change.
    news = props_for(fake, timeout_seconds=1800.0, __provider="newer-provider-code")
    diff = provider.diff(olds["name"], olds, news)

    assert diff.changes is False and diff.replaces == []


@pytest.mark.parametrize(
    "key, value",
    [
        ("image", f"{REPOSITORY}/trainer:fedcba9876543210"),
        ("source_object", "builds/trainer-fedcba9876543210.tar.gz"),
        ("source_bucket", "other-bucket"),
        ("dockerfile", "Dockerfile.gpu"),
        ("build_args", {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128"}),
        ("project", "other-project"),
        ("location", "us-central1"),
    ],
)
def test_a_change_in_what_is_built_replaces(
    fake: FakeCloudBuild, provider: CloudBuildProvider, key: str, value: Any
) -> None:
    olds = provider.create(props_for(fake)).outs

    diff = provider.diff(olds["name"], olds, props_for(fake, **{key: value}))

    assert diff.replaces == [key] and diff.delete_before_replace is False


@pytest.mark.parametrize(
    "key, value",
    [
        ("wait_timeout_seconds", 600.0),
        ("timeout_seconds", 3600),
        ("api_endpoint", "same fake, by name"),
        ("machine_type", "E2_HIGHCPU_32"),
        ("tags", ["mlops"]),
        ("service_account", "other-builder@test-project.iam.gserviceaccount.com"),
        ("source_generation", "1764331200999999"),
    ],
)
def test_provider_settings_update_in_place_without_a_build(
    fake: FakeCloudBuild, provider: CloudBuildProvider, key: str, value: Any
) -> None:
    olds = provider.create(props_for(fake)).outs
    if key == "api_endpoint":
        value = fake.base_url.replace("127.0.0.1", "localhost")
    news = props_for(fake, **{key: value})

    diff = provider.diff(olds["name"], olds, news)
    assert diff.changes is True and diff.replaces == []

    del fake.requests[:]
    updated = provider.update(olds["name"], olds, news).outs

    assert "create" not in fake.routes() and "cancel" not in fake.routes() and len(fake.builds) == 1
    assert updated[key] == value
    for output in cloud_build_spec.OUTPUT_ONLY_KEYS:
        assert updated[output] == olds[output], output


def test_an_update_after_the_build_left_history_keeps_the_image(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    olds = provider.create(props_for(fake)).outs
    fake.builds.clear()

    updated = provider.update(olds["name"], olds, props_for(fake, wait_timeout_seconds=60.0)).outs

    assert updated["image_digest_ref"] == olds["image_digest_ref"] and updated["wait_timeout_seconds"] == 60.0


# --- check: validated before any request ----------------------------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        ("location", "evil.com/x"),
        ("location", "europe-west1/../../v1/projects/other"),
        ("location", "global"),
        ("location", "europe-west1\n"),
        ("project", "Evil/../x"),
        ("api_endpoint", "https://example.com"),
        ("api_endpoint", "http://cloudbuild.googleapis.com"),
        ("api_endpoint", "https://cloudbuild.googleapis.com.evil.com"),
        ("api_endpoint", "https://cloudbuild.googleapis.com@evil.com"),
        ("api_endpoint", "https://cloudbuild.googleapis.com/v1?x=1"),
        ("api_endpoint", "http://10.0.0.1:8080"),
        ("api_endpoint", "https://cloudbuild.googleapis.com\n"),
        ("image", "docker.io/library/python:3.11"),
        ("image", "gcr.io/test-project/trainer:abc"),
        ("image", f"{REPOSITORY}/trainer"),
        ("image", f"{REPOSITORY}/trainer@sha256:" + "ab" * 32),
        ("image", "europe-west1-docker.pkg.dev.evil.com/test-project/mlops/trainer:abc"),
        ("service_account", "image-builder"),
        ("service_account", "someone@gmail.com"),
        ("service_account", f"projects/{PROJECT}/serviceAccounts/{BUILDER}"),
        ("source_bucket", "gs://test-project-dev-mlops"),
        ("source_object", "builds/context.zip"),
        ("source_object", "/builds/context.tar.gz"),
        ("source_generation", "latest"),
        ("dockerfile", "../Dockerfile"),
        ("dockerfile", "/etc/passwd"),
        ("dockerfile", "--build-arg=X"),
        ("dockerfile", "Dockerfile\n"),
        ("image", IMAGE + "\n"),
        ("build_args", {"BAD-NAME": "x"}),
        ("build_args", {"N": 1}),
        ("tags", ["with space"]),
        ("tags", ["pulumi-create-mine"]),
        ("machine_type", "N1_HIGHCPU_8"),
        ("timeout_seconds", 0),
        ("timeout_seconds", 10**6),
        ("wait_timeout_seconds", 0),
        ("wait_timeout_seconds", 10**6),
        ("project", ""),
    ],
)
def test_check_refuses_each_bad_input(provider: CloudBuildProvider, key: str, value: Any) -> None:
    result = provider.check({}, props_for(None, **{key: value}))

    assert [failure.property for failure in result.failures] == [key]
    assert key in result.failures[0].reason


def test_a_bad_input_fails_before_any_request(fake: FakeCloudBuild, provider: CloudBuildProvider) -> None:
    with pytest.raises(ValueError, match="location must be a region name"):
        provider.create(props_for(fake, location="evil.com/x"))

    assert fake.requests == []


def test_state_a_later_rule_refuses_can_still_be_refreshed_and_destroyed(
    fake: FakeCloudBuild, provider: CloudBuildProvider
) -> None:
    """Google's catalog moves (a machine type retired): only where requests go may stop a read or delete."""
    created = provider.create(props_for(fake))
    recorded = {**created.outs, "machine_type": "N1_HIGHCPU_8"}  # allowed when this build was created

    assert provider.read(created.id, recorded).id == created.id
    provider.delete(created.id, recorded)
    with pytest.raises(ValueError, match="location must be a region name"):
        provider.read(created.id, {**recorded, "location": "evil.com/x"})


def test_check_accepts_good_inputs_and_skips_unknown_ones(provider: CloudBuildProvider) -> None:
    good = props_for(
        None,
        api_endpoint="https://europe-west1-cloudbuild.googleapis.com",
        image="europe-docker.pkg.dev/test-project/mlops/team/trainer:0123456789abcdef",
        source_generation=1764331200123456.0,
        build_args={"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128"},
        tags=["mlops", "trainer.v1"],
        machine_type="E2_HIGHCPU_8",
    )
    unknown = props_for(None, image=rpc.UNKNOWN, source_object=rpc.UNKNOWN, build_args={"A": rpc.UNKNOWN})

    assert provider.check({}, good).failures == []
    assert provider.check({}, props_for(None, api_endpoint="http://localhost:8123")).failures == []
    assert provider.check({}, unknown).failures == []


def test_the_resource_declares_its_type_and_every_output() -> None:
    assert cloud_build.CloudBuild._resource_type_name == "dynamic/cloudbuild:Build"
    declared = set(cloud_build.CloudBuild.__annotations__)
    assert declared == set(cloud_build_spec.INPUT_KEYS) | set(cloud_build_spec.OUTPUT_ONLY_KEYS)
    args = cloud_build.CloudBuildArgs(
        project=PROJECT,
        location=LOCATION,
        source_bucket=BUCKET,
        source_object=OBJECT,
        image=IMAGE,
        service_account=BUILDER,
    )
    assert list(args.to_props()) == list(cloud_build_spec.INPUT_KEYS)
