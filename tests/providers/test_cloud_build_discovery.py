"""The Cloud Build provider and its fake against Google's cloudbuild.v1 discovery document."""

from __future__ import annotations

from typing import Any

import pytest

from providers import cloud_build_spec, rest
from providers.cloud_build_spec import BuildInputs
from tests import discovery
from tests.fakes.cloud_build import FakeCloudBuild
from tests.fakes.google_api import FakeCredentials, install_credentials

DOCUMENT = "cloudbuild.v1"
IMAGE = "europe-west1-docker.pkg.dev/test-project/mlops/trainer:0123456789abcdef"


def builds_methods() -> dict[str, Any]:
    return discovery.load_document(DOCUMENT)["resources"]["projects"]["resources"]["locations"]["resources"]["builds"][
        "methods"
    ]


def schema_field(schema: str, name: str) -> dict[str, Any]:
    return discovery.load_document(DOCUMENT)["schemas"][schema]["properties"][name]


def inputs(**overrides: Any) -> BuildInputs:
    values: dict[str, Any] = {
        "project": "test-project",
        "location": "europe-west1",
        "source_bucket": "test-project-dev-mlops",
        "source_object": "builds/trainer-0123456789abcdef.tar.gz",
        "image": IMAGE,
        "service_account": "image-builder@test-project.iam.gserviceaccount.com",
    }
    values.update(overrides)
    return BuildInputs.from_props(values)


def test_the_request_schemas_are_the_documented_ones() -> None:
    assert discovery.request_schema_name(DOCUMENT, "cloudbuild.projects.locations.builds.create") == "Build"
    assert (
        discovery.request_schema_name(DOCUMENT, "cloudbuild.projects.locations.builds.cancel") == "CancelBuildRequest"
    )


@pytest.mark.parametrize("method", ["create", "get", "list", "cancel"])
def test_the_fake_serves_the_documented_paths(method: str) -> None:
    documented = builds_methods()[method]
    path = "/" + documented["flatPath"].format(projectsId="p", locationsId="europe-west1", buildsId="b-1")

    assert FakeCloudBuild().route(documented["httpMethod"], path)[0] == method


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "source_generation": "1764331200123456",
            "build_args": {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128", "A": "$B"},
            "machine_type": "E2_HIGHCPU_32",
            "timeout_seconds": 7200,
            "tags": ["mlops"],
        },
    ],
    ids=["minimal", "every-option"],
)
def test_the_build_body_is_valid(overrides: dict[str, Any]) -> None:
    body = inputs(**overrides).request_body("pulumi-create-" + "0" * 32)

    assert discovery.validate(DOCUMENT, "Build", body) == []


def test_the_machine_types_offered_are_the_documented_ones_not_deprecated() -> None:
    field = schema_field("BuildOptions", "machineType")
    current = {value for value, deprecated in zip(field["enum"], field["enumDeprecated"]) if not deprecated}

    assert set(cloud_build_spec.MACHINE_TYPES) == current - {"UNSPECIFIED"}


def test_the_terminal_statuses_are_every_documented_status_but_the_running_ones() -> None:
    statuses = set(schema_field("Build", "status")["enum"])

    assert cloud_build_spec.TERMINAL_STATUSES == statuses - {"STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING"}


def test_the_hinted_failure_types_and_the_logging_mode_are_documented() -> None:
    failure_types = set(schema_field("FailureInfo", "type")["enum"])
    hinted = {"PUSH_NOT_AUTHORIZED", "PUSH_FAILED", "FETCH_SOURCE_FAILED", "LOGGING_FAILURE", "USER_BUILD_STEP"}

    assert hinted <= failure_types
    assert "CLOUD_LOGGING_ONLY" in schema_field("BuildOptions", "logging")["enum"]
    assert "projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}" in schema_field("Build", "serviceAccount")["description"]


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda body: body.update(timeout="30m"), "timeout: '30m' is not a duration"),
        (lambda body: body.update(tags="mlops"), "tags: expected an array"),
        (lambda body: body["options"].update(machineType="N1_HIGHCPU_8"), "'N1_HIGHCPU_8' is deprecated"),
        (lambda body: body.update(status="QUEUED"), "status: output-only field must not be sent"),
        (lambda body: body.pop("steps"), "steps: missing required field"),
        (lambda body: body["source"]["storageSource"].update(generation="latest"), "expected a 64-bit integer"),
    ],
)
def test_the_validator_catches_a_drifting_build_body(change, problem: str) -> None:
    body = inputs().request_body("pulumi-create-" + "0" * 32)
    change(body)

    problems = discovery.validate(DOCUMENT, "Build", body)

    assert len(problems) == 1 and problem in problems[0], problems


def test_a_cancel_without_the_build_id_is_invalid() -> None:
    problems = discovery.validate(DOCUMENT, "CancelBuildRequest", {"name": "projects/p/locations/l/builds/b"})

    assert problems == ["id: missing required field", "projectId: missing required field"]


def test_the_fake_refuses_an_invalid_build_like_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    install_credentials(monkeypatch, FakeCredentials())
    body = inputs().request_body("not a valid tag")

    with FakeCloudBuild() as fake, rest.GoogleRestClient(fake.base_url) as api:
        with pytest.raises(rest.GoogleApiError, match="invalid build tag"):
            api.request("POST", "v1/projects/p/locations/europe-west1/builds", body=body, retry=False)
        with pytest.raises(rest.GoogleApiError, match="`timeout`: 'soon' is not a duration"):
            api.request(
                "POST", "v1/projects/p/locations/europe-west1/builds", body={**body, "timeout": "soon"}, retry=False
            )
        logged_to_bucket = {**body, "tags": [], "options": {"logging": "GCS_ONLY"}}
        with pytest.raises(rest.GoogleApiError, match="CLOUD_LOGGING_ONLY"):
            api.request("POST", "v1/projects/p/locations/europe-west1/builds", body=logged_to_bucket, retry=False)

    assert not fake.builds
