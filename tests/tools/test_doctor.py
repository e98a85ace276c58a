"""`make doctor` (tools/doctor) against a loopback fake of Google's APIs and fake local programs.

Each test reads the doctor's output the way a user would: the line of one check, its ✓/✗/⚠ and
its fix. After every test the fake must have seen reads only (GET, HEAD, testIamPermissions).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import google.auth.exceptions
import pytest

from components.ci_roles import previewer_permissions, role_id
from stack import catalog, permissions
from tests.fakes.google_api import FakeCredentials, install_credentials
from tests.fakes.google_apis import CORE_SERVICES, PROJECT_ID, PROJECT_NUMBER, FakeGoogleApis
from tools.doctor import main, report
from tools.doctor.context import Context, load_configuration
from tools.doctor.endpoints import Endpoints
from tools.doctor.google_http import GoogleClient, WriteRefused, is_read_only
from tools.doctor.runner import Check, run_checks
from tools.render import ROOT, render

PULUMI = """#!/bin/sh
case "$1" in
  version) echo v3.272.0 ;;
  whoami) if [ -n "$PULUMI_NOT_LOGGED_IN" ]; then echo "error: not logged in" >&2; exit 255; fi; echo octocat ;;
  *) exit 2 ;;
esac
"""
DOCKER_AMD64 = """#!/bin/sh
case "$1" in
  version) echo "28.2.2 linux/amd64" ;;
  buildx) echo "default  docker  running  linux/amd64, linux/386" ;;
esac
"""
DOCKER_ARM64 = DOCKER_AMD64.replace('"28.2.2 linux/amd64"', '"28.2.2 linux/arm64"').replace(
    "linux/amd64, linux/386", "linux/arm64"
)
DOCKER_STOPPED = """#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
"""
GCLOUD = "#!/bin/sh\necho mlops-course-123\n"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def fake():
    """The fake APIs; afterwards, it must have been asked only read-only questions."""
    with FakeGoogleApis() as api:
        yield api
    assert {(method, route) for method, route in api.methods_seen() if method not in ("GET", "HEAD")} <= {
        ("POST", "crm.testIamPermissions")
    }, api.methods_seen()


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH of fake programs: the Pulumi CLI, gcloud and a Docker that builds linux/amd64."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, script in (("pulumi", PULUMI), ("gcloud", GCLOUD), ("docker", DOCKER_AMD64)):
        write_program(directory, name, script)
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "checkout"
    directory.mkdir()
    write_stack(directory)
    return directory


@pytest.fixture
def service_account(monkeypatch: pytest.MonkeyPatch) -> FakeCredentials:
    credentials = FakeCredentials()
    install_credentials(monkeypatch, credentials)
    return credentials


def write_program(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text(script)
    path.chmod(0o755)


def write_stack(directory: Path, **config: Any) -> None:
    lines = ["config:", f"  gcp:project: {PROJECT_ID}", "  gcp:region: europe-west1", "  gcp:zone: europe-west1-b"]
    lines += [f"  gcp-mlops:{key}: {json.dumps(value)}" for key, value in config.items()]
    (directory / "Pulumi.dev.yaml").write_text("\n".join(lines) + "\n")


def environment(bin_dir: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": str(bin_dir),
        "PULUMI_BACKEND_URL": f"file://{tmp_path}/state",
        "PULUMI_CONFIG_PASSPHRASE": "",
        **extra,
    }


def doctor(fake: FakeGoogleApis, root: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--stack", "dev", *args], endpoints=fake.endpoints(), environ=env, root=root, out=out)
    return code, out.getvalue()


def line(output: str, check: str) -> str:
    """The output line of one check (the symbol, the check's name, then its detail)."""
    found = [text for text in output.splitlines() if text[2:].startswith(check + " ")]
    assert len(found) == 1, f"no single line for {check!r} in:\n{output}"
    return found[0]


# --- everything passes --------------------------------------------------------------------------


def test_every_check_passes_for_a_ready_project(fake, bin_dir, root, tmp_path, service_account):
    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 0, output
    for check in ("Pulumi CLI", "gcloud", "configuration", "Docker", "credentials", "quota project", "project",
                  "billing", "core APIs", "stack APIs", "permissions", "VM quota", "training quota", "VM image",
                  "state backend", "secrets passphrase"):  # fmt: skip
        assert line(output, check).startswith("✓"), line(output, check)
    assert "v3.272.0" in line(output, "Pulumi CLI")
    assert f"{PROJECT_ID} (number {PROJECT_NUMBER}) is ACTIVE" in line(output, "project")
    assert line(output, "executor image").startswith("–")  # container mode runs no prebuilt image
    assert "0 failed" in output.splitlines()[-1]


def test_it_asks_with_the_users_token_and_only_reads(fake, bin_dir, root, tmp_path, service_account):
    doctor(fake, root, environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="gs://state-bucket"))

    assert fake.requests, "the doctor asked nothing"
    assert {request.authorization for request in fake.requests} == {
        "Bearer ya29.FAKE-TOKEN-must-never-reach-the-state-7f3c9e"
    }
    assert {request.method for request in fake.requests} <= {"GET", "HEAD", "POST"}
    assert all(r.route == "crm.testIamPermissions" for r in fake.requests if r.method == "POST")


def test_it_tests_every_permission_the_rendered_stack_needs_in_batches_of_100(
    fake, bin_dir, root, tmp_path, service_account
):
    values = {"githubRepository": "octo-org/mlops-course", "githubRepositoryId": "123456789",
              "encryptionKey": "create", "vmMachineType": "n1-standard-4", "vmGpuType": "nvidia-tesla-t4",
              "vmGpuCount": 1, "trainingScaleTier": "BASIC_GPU"}  # fmt: skip
    write_stack(root, **values)
    fake.region_quotas["NVIDIA_T4_GPUS"] = (1, 0)

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    asked = [r.body["permissions"] for r in fake.requests if r.route == "crm.testIamPermissions"]
    # What the program itself declares for this configuration, rendered under the mocks.
    rendered = render({**values, "gcp:project": PROJECT_ID})
    needed = permissions.required_permissions({resource.type for resource in rendered.resources if resource.custom})
    assert len(needed) > 100 and len(asked) == 2
    assert all(len(batch) <= 100 for batch in asked)
    assert sorted(p for batch in asked for p in batch) == needed
    assert "aiplatform.customJobs.create" in needed and "iam.workloadIdentityPools.create" in needed
    batches = [r.query["names"] for r in fake.requests if r.route == "serviceusage.batchGet"]
    assert batches and all(len(names) <= 30 for names in batches)
    assert code == 0, output


# --- each failure: its ✗ line and its fix -------------------------------------------------------

FAILURES = {
    "project missing": (
        {"project_state": None}, "project",
        "does not exist", "gcloud projects list",
    ),
    "project deleted": (
        {"project_state": "DELETE_REQUESTED"}, "project",
        "scheduled for deletion", f"gcloud projects undelete {PROJECT_ID}",
    ),
    "billing disabled": (
        {"billing_enabled": False}, "billing",
        "billing is not enabled", f"gcloud billing projects link {PROJECT_ID} --billing-account=ACCOUNT_ID",
    ),
    "resource manager disabled in the quota project": (
        {"disabled_apis": {"cloudresourcemanager.googleapis.com"}}, "project",
        f"Cloud Resource Manager API is not enabled in project {PROJECT_NUMBER}",
        f"gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com --project {PROJECT_NUMBER}",
    ),
    "service usage disabled in the project": (
        {"enabled_services": {"cloudresourcemanager.googleapis.com"}}, "core APIs",
        "serviceusage.googleapis.com",
        f"gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com --project {PROJECT_ID}",
    ),
    "permissions missing": (
        {"denied_permissions": {"compute.instances.create", "iam.serviceAccounts.actAs"}}, "permissions",
        "lacks 2 of the", "--role=roles/iam.serviceAccountUser",
    ),
    "no CPU quota left": (
        {"region_quotas": {"CPUS": (24, 0), "E2_CPUS": (24, 23)}}, "VM quota",
        "E2_CPUS 2 needed, 1 free of 24", f"https://console.cloud.google.com/iam-admin/quotas?project={PROJECT_ID}",
    ),
    "training quota too low": (
        {"vertex_limits": {"custom_model_training_cpus": 2}}, "training quota",
        "custom_model_training_cpus 4 needed, limit 2", "aiplatform.googleapis.com",
    ),
    "image family not found": (
        {"image_families": {}}, "VM image",
        "was not found", "pulumi config set vmImage",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failing_check_says_what_and_how_to_fix_it(case, fake, bin_dir, root, tmp_path, service_account):
    state, check, what, fix = FAILURES[case]
    for key, value in state.items():
        setattr(fake, key, value)

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 1, output
    failed = line(output, check)
    assert failed.startswith("✗"), failed
    assert what in failed.split(" — fix: ")[0]
    assert fix in failed.split(" — fix: ")[1]


def test_a_missing_project_skips_what_depends_on_it_in_one_line(fake, bin_dir, root, tmp_path, service_account):
    fake.project_state = None

    _, output = doctor(fake, root, environment(bin_dir, tmp_path))

    skipped = line(output, "not checked")
    assert "billing, APIs, permissions, VM quota, training quota" in skipped
    assert "reachable, active project" in skipped
    assert {r.route for r in fake.requests} <= {"crm.projects.get", "compute.images.getFromFamily"}


def test_missing_permissions_name_the_roles_to_grant_and_json_lists_them_all(
    fake, bin_dir, root, tmp_path, service_account
):
    fake.denied_permissions = {"compute.instances.create", "storage.buckets.create", "iam.serviceAccounts.actAs"}

    code, output = doctor(fake, root, environment(bin_dir, tmp_path), "--json")

    report = json.loads(output)
    found = next(check for check in report["checks"] if check["check"] == "permissions")
    assert code == 1 and report["ok"] is False and found["status"] == "fail"
    assert found["missing"] == sorted(fake.denied_permissions)
    assert found["roles"] == ["roles/compute.instanceAdmin.v1", "roles/iam.serviceAccountUser", "roles/storage.admin"]
    member = "serviceAccount:trainer@test-project.iam.gserviceaccount.com"
    assert (
        f"gcloud projects add-iam-policy-binding {PROJECT_ID} --member={member} --role=roles/storage.admin"
        in found["fix"]
    )


def test_a_fresh_project_passes_and_lists_the_apis_make_up_will_enable(fake, bin_dir, root, tmp_path, service_account):
    fake.enabled_services = set(CORE_SERVICES)

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 0, output
    apis = line(output, "stack APIs")
    assert apis.startswith("✓") and "will be enabled by make up:" in apis
    assert "compute.googleapis.com" in apis and "aiplatform.googleapis.com" in apis
    quota = line(output, "VM quota")
    assert quota.startswith("⚠") and "compute.googleapis.com is not enabled yet" in quota


def test_unavailable_quota_information_is_could_not_tell_not_a_failure(fake, bin_dir, root, tmp_path, service_account):
    fake.quota_info_unavailable = True

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 0, output
    assert line(output, "VM quota").startswith("⚠")
    assert "QUOTA_INFO_UNAVAILABLE" in line(output, "VM quota")


def test_the_quota_metrics_asked_for_are_compute_engines_own():
    """Quota.metric enum of the compute.v1 discovery document: names Compute Engine reports quotas under."""
    from stack import catalog
    from tests.discovery import load_document
    from tools.doctor.checks_capacity import CPU_METRICS, _vm_needs

    metrics = set(load_document("compute.v1")["schemas"]["Quota"]["properties"]["metric"]["enum"])
    assert set(CPU_METRICS.values()) <= metrics
    for gpu in (g for g in catalog.GPU_TYPES if g.compute_name):
        for spot in (False, True):
            vm = SimpleNamespace(machine_type="n1-standard-4", gpu_type=gpu.compute_name, gpu_count=1, spot=spot)
            assert set(_vm_needs(SimpleNamespace(vm=vm))) <= metrics, (gpu.compute_name, spot)


def test_a_machine_family_without_a_known_quota_is_could_not_tell(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, vmMachineType="n4-standard-2")
    fake.region_quotas = {"CPUS": (24, 0), "E2_CPUS": (24, 0)}  # plenty, but of other families

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    quota = line(output, "VM quota")
    assert quota.startswith("⚠") and "could not find N4_CPUS" in quota, quota


def test_a_gpu_workstation_needs_gpu_quota(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, vmMachineType="n1-standard-4", vmGpuType="nvidia-tesla-t4", vmGpuCount=1)
    fake.region_quotas = {"CPUS": (24, 0), "NVIDIA_T4_GPUS": (0, 0)}
    fake.project_quotas = {"GPUS_ALL_REGIONS": (0, 0)}

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    quota = line(output, "VM quota")
    assert code == 1 and quota.startswith("✗")
    assert "NVIDIA_T4_GPUS 1 needed, 0 free" in quota and "GPUS_ALL_REGIONS 1 needed, 0 free" in quota


def test_an_unknown_image_family_names_the_key_and_the_current_families(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, vmImage="pytorch-latest-cpu")

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    image = line(output, "VM image")
    assert code == 1 and image.startswith("✗")
    assert "vmImage 'pytorch-latest-cpu'" in image
    for family in catalog.DL_VM_FAMILIES:
        assert family.name in image


def test_package_mode_checks_the_executor_image_in_its_registry(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, trainingMode="package")
    image = catalog.executor_image(gpu=False).uri("europe-west1")

    _, output = doctor(fake, root, environment(bin_dir, tmp_path))
    present = line(output, "executor image")
    fake.manifests = set()
    code, output = doctor(fake, root, environment(bin_dir, tmp_path))
    missing = line(output, "executor image")

    heads = [r for r in fake.requests if r.route == "registry.manifest"]
    assert heads and {r.method for r in heads} == {"HEAD"}
    assert heads[0].path.endswith("/v2/vertex-ai/training/pytorch-xla.2-4.py310/manifests/latest")
    # The catalog's image exists but is past Google's end of availability: a warning, not a failure.
    assert present.startswith("⚠") and "end of availability" in present
    assert code == 1 and missing.startswith("✗") and f"{image} does not exist" in missing
    assert "pulumi config set trainingExecutorImage" in missing


def test_an_executor_image_outside_googles_registries_is_refused_without_a_request(
    fake, bin_dir, root, tmp_path, service_account
):
    """Every registry request carries the user's Google token: it goes to Google's registries only."""
    write_stack(root, trainingMode="package", trainingExecutorImage="evil.example.com/x/y:latest")

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    image = line(output, "executor image")
    assert code == 1 and image.startswith("✗") and "not a Google prebuilt training image" in image
    assert not [r for r in fake.requests if r.route == "registry.manifest"]


@pytest.mark.parametrize(
    ("status", "symbol", "text"),
    [
        (200, "✓", "gs://state-bucket/prefix (objects: get, list, create, delete)"),
        (403, "✗", "gcloud storage buckets add-iam-policy-binding gs://state-bucket"),
        (404, "✗", "gcloud storage buckets create gs://state-bucket"),
    ],
)
def test_a_gcs_state_backend_must_be_readable(status, symbol, text, fake, bin_dir, root, tmp_path, service_account):
    fake.buckets = {"state-bucket": status}

    code, output = doctor(fake, root, environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="gs://state-bucket/prefix"))

    backend = line(output, "state backend")
    assert backend.startswith(symbol) and text in backend
    assert code == (0 if status == 200 else 1)


def test_the_state_backend_needs_only_the_object_role_docs_ci_grants(fake, bin_dir, root, tmp_path, service_account):
    """objectUser, as docs/ci.md gives the deployer: object permissions, no storage.buckets.get."""
    fake.buckets = {"state-bucket": 200}
    fake.bucket_permissions = {"storage.objects.get", "storage.objects.list", "storage.objects.create",
                               "storage.objects.delete"}  # fmt: skip

    code, output = doctor(fake, root, environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="gs://state-bucket/prefix"))

    assert line(output, "state backend").startswith("✓"), output
    fake.bucket_permissions = {"storage.objects.get", "storage.objects.list"}
    _, output = doctor(fake, root, environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="gs://state-bucket/prefix"))
    assert "--role=roles/storage.objectUser" in line(output, "state backend")


def test_the_backend_is_the_one_make_would_use_and_the_doctor_records_nothing(
    fake, bin_dir, root, tmp_path, service_account
):
    env = environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="gs://state-bucket/prefix")
    fake.buckets = {"state-bucket": 200}
    recorded = root / ".pulumi-backend"
    recorded.unlink(missing_ok=True)

    code, _ = doctor(fake, root, env)
    assert code == 0 and not recorded.exists()

    recorded.write_text("gs://other-state\n")
    code, output = doctor(fake, root, env)
    backend = line(output, "state backend")
    assert code == 1 and backend.startswith("✗") and "this checkout's stacks live in gs://other-state" in backend


def test_pulumi_cloud_needs_a_login(fake, bin_dir, root, tmp_path, service_account):
    env = environment(bin_dir, tmp_path, PULUMI_BACKEND_URL="https://api.pulumi.com")

    _, logged_in = doctor(fake, root, env)
    code, logged_out = doctor(fake, root, {**env, "PULUMI_NOT_LOGGED_IN": "1"})

    assert line(logged_in, "state backend").startswith("✓") and "octocat" in line(logged_in, "state backend")
    assert code == 1 and line(logged_out, "state backend").endswith("— fix: pulumi login")


# --- --read-only: the CI previewer (drift.yml) ------------------------------------------------------

GITHUB = {"githubRepository": "octo-org/mlops-course", "githubRepositoryId": "123456789"}
STATE = "gs://state-bucket/prefix"


def previewer_shaped(fake: FakeGoogleApis, root: Path, env: dict[str, str]) -> list[str]:
    """Make the fake's caller the previewer: its role's permissions only, objectViewer on the state bucket."""
    context = Context("dev", root, env, fake.endpoints())
    load_configuration(context)
    assert context.settings is not None
    held = previewer_permissions(context.settings)
    fake.held_permissions = set(held)
    fake.buckets = {"state-bucket": 200}
    fake.bucket_permissions = {"storage.objects.get", "storage.objects.list"}
    return held


def granted_roles(output: str) -> set[str]:
    return {word.removeprefix("--role=") for word in output.split() if word.startswith("--role=")}


def test_the_previewer_passes_read_only_and_fails_what_make_up_needs(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, **GITHUB)
    (bin_dir / "docker").unlink()  # the drift job has no use for Docker
    env = environment(bin_dir, tmp_path, PULUMI_BACKEND_URL=STATE)
    held = previewer_shaped(fake, root, env)

    code, output = doctor(fake, root, env, "--read-only")
    read_only_requests = list(fake.requests)
    full_code, full_output = doctor(fake, root, env)

    assert code == 0, output
    assert "(read-only: what a preview needs)" in output.splitlines()[0]
    assert line(output, "permissions").startswith("✓") and f"all {len(held)} permissions" in line(output, "permissions")
    assert line(output, "state backend").startswith("✓") and "(objects: get, list)" in line(output, "state backend")
    assert line(output, "Docker").startswith("–") and "--read-only" in line(output, "Docker")
    asked = [p for r in read_only_requests if r.route == "crm.testIamPermissions" for p in r.body["permissions"]]
    assert sorted(asked) == sorted(held)
    # objectViewer holds no storage.buckets.get (the fake refuses the bucket GET): read-only must not need it.
    assert "storage.buckets.get" not in {r.route for r in read_only_requests}
    assert full_code == 1
    for check in ("permissions", "state backend", "Docker"):
        assert line(full_output, check).startswith("✗"), line(full_output, check)


@pytest.mark.parametrize("bucket", [200, 404])
def test_read_only_fixes_grant_only_the_previewer_role_and_object_viewer(
    bucket, fake, bin_dir, root, tmp_path, service_account
):
    write_stack(root, **GITHUB)
    env = environment(bin_dir, tmp_path, PULUMI_BACKEND_URL=STATE)
    previewer_shaped(fake, root, env)
    fake.denied_permissions |= {"storage.buckets.get"}  # a read the previewer's role should hold
    fake.buckets = {"state-bucket": bucket}
    fake.bucket_permissions = {"storage.objects.get"}

    code, output = doctor(fake, root, env, "--read-only")

    previewer_role = f"projects/{PROJECT_ID}/roles/{role_id('previewer', 'dev')}"
    assert code == 1, output
    assert line(output, "permissions").startswith("✗") and "storage.buckets.get" in line(output, "permissions")
    assert f"--role={previewer_role}" in line(output, "permissions")
    backend = line(output, "state backend")
    assert backend.startswith("✗")
    if bucket == 404:
        assert "buckets create" not in backend and "an admin creates the state bucket" in backend
    else:
        assert "lacks storage.objects.list" in backend and "--role=roles/storage.objectViewer" in backend
    assert granted_roles(output) <= {previewer_role, "roles/storage.objectViewer"}, output
    assert "admin" not in " ".join(granted_roles(output)).lower()


def test_only_unverified_permission_names_missing_is_a_warning(fake, bin_dir, root, tmp_path, service_account):
    write_stack(root, **GITHUB)
    fake.denied_permissions = {"iam.workloadIdentityPools.get", "iam.workloadIdentityPoolProviders.create"}

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 0, output
    assert line(output, "permissions").startswith("⚠") and "UNVERIFIED" in line(output, "permissions")


# --- the local tools ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "symbol", "text"),
    [
        (DOCKER_ARM64, "✗", "docker run --privileged --rm tonistiigi/binfmt --install amd64"),
        (DOCKER_ARM64.replace('echo "default  docker  running  linux/arm64"', 'echo "multi  linux/arm64, linux/amd64"'),
         "✓", "buildx builds linux/amd64"),
        (DOCKER_STOPPED, "✗", "start Docker"),
    ],
)  # fmt: skip
def test_docker_must_build_linux_amd64(script, symbol, text, fake, bin_dir, root, tmp_path, service_account):
    write_program(bin_dir, "docker", script)

    _, output = doctor(fake, root, environment(bin_dir, tmp_path))

    docker = line(output, "Docker")
    assert docker.startswith(symbol) and text in docker
    if symbol == "✗":
        assert "pulumi config set imageBuilder cloudbuild" in docker


def test_cloud_build_needs_no_docker(fake, bin_dir, root, tmp_path, service_account):
    (bin_dir / "docker").unlink()
    write_stack(root, imageBuilder="cloudbuild")

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 0, output
    assert line(output, "Docker").startswith("–") and "imageBuilder is cloudbuild" in line(output, "Docker")


def test_user_credentials_without_a_quota_project_get_the_command_to_set_one(
    fake, bin_dir, root, tmp_path, monkeypatch
):
    install_credentials(monkeypatch, FakeCredentials(service_account_email=None))

    _, without = doctor(fake, root, environment(bin_dir, tmp_path))
    _, with_env = doctor(fake, root, environment(bin_dir, tmp_path, GOOGLE_CLOUD_QUOTA_PROJECT=PROJECT_ID))

    assert line(without, "quota project").startswith("⚠")
    assert line(without, "quota project").endswith(f"gcloud auth application-default set-quota-project {PROJECT_ID}")
    assert line(with_env, "quota project").startswith("✓") and "GOOGLE_CLOUD_QUOTA_PROJECT" in line(
        with_env, "quota project"
    )
    assert "--member=user:$(gcloud config get-value account)" not in without  # no failure, so no grant is offered


def test_credentials_that_do_not_refresh_fail_before_any_call(fake, bin_dir, root, tmp_path, monkeypatch):
    class Revoked(FakeCredentials):
        def refresh(self, request: Any) -> None:
            raise google.auth.exceptions.RefreshError("invalid_grant: Token has been expired or revoked.")

    install_credentials(monkeypatch, Revoked())

    code, output = doctor(fake, root, environment(bin_dir, tmp_path))

    assert code == 1
    assert line(output, "credentials").startswith("✗") and "expired or revoked" in line(output, "credentials")
    assert line(output, "credentials").endswith("— fix: gcloud auth application-default login")
    assert fake.requests == []


def test_without_credentials_or_tools_it_says_so_in_a_line_each_and_stops_fast(tmp_path):
    """The real entry point, in a clean environment: no ADC, no Pulumi CLI, no Docker, no gcloud."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {
        "PATH": str(empty),
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "GCP_PROJECT": PROJECT_ID,
        "PULUMI_BACKEND_URL": f"file://{tmp_path}/state",
        # Nothing may reach a real metadata server, wherever the tests run.
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tools.doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert elapsed < 5, f"took {elapsed:.1f} s"
    output = done.stdout
    assert line(output, "credentials").startswith("✗")
    assert line(output, "credentials").endswith("— fix: gcloud auth application-default login")
    assert line(output, "Pulumi CLI").startswith("✗") and "https://www.pulumi.com/docs/install/" in line(
        output, "Pulumi CLI"
    )
    assert line(output, "Docker").startswith("✗") and "imageBuilder cloudbuild" in line(output, "Docker")
    assert line(output, "gcloud").startswith("⚠")
    skipped = line(output, "not checked")
    assert "(they need Google credentials)" in skipped and "project" in skipped and "permissions" in skipped
    assert len([text for text in output.splitlines() if text.startswith("– not checked")]) == 1


# --- the client's own guard -----------------------------------------------------------------------


def test_the_client_refuses_anything_but_a_read(service_account):
    client = GoogleClient(service_account, identity="test", project=PROJECT_ID, timeout_seconds=1)

    assert is_read_only("GET", "https://x/v1/projects/p") and is_read_only("HEAD", "https://x/v2/a/manifests/b")
    assert is_read_only("POST", "https://x/v1/projects/p:testIamPermissions")
    for method, url in (("POST", "https://x/v1/projects/p/services:batchEnable"), ("DELETE", "https://x/b/bucket"),
                        ("PATCH", "https://x/v3/projects/p"), ("PUT", "https://x/b/bucket/iam")):  # fmt: skip
        assert not is_read_only(method, url)
        with pytest.raises(WriteRefused):
            client._send(method, url)


def test_a_doctor_run_is_one_module_away_from_make(tmp_path):
    """`make doctor` runs `python -m tools.doctor --stack $(STACK)`: --help must work without any setup."""
    done = subprocess.run([sys.executable, "-m", "tools.doctor", "--help"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PATH": str(tmp_path)}, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "--stack" in done.stdout and "--json" in done.stdout
    assert "--read-only" in done.stdout


def test_a_family_google_no_longer_has_gets_another_family_suggested(fake, bin_dir, root, tmp_path, service_account):
    configured = catalog.DL_VM_FAMILIES[0].name  # the default, gone from Google's list
    fake.image_families = {key: image for key, image in fake.image_families.items() if key[1] != configured}

    _, output = doctor(fake, root, environment(bin_dir, tmp_path))

    fix = line(output, "VM image").split(" — fix: ")[1]
    assert fix.startswith(f"pulumi config set vmImage {catalog.DL_VM_FAMILIES[1].name} --stack dev")


def test_plain_ascii_terminals_get_words_instead_of_symbols():
    results = [report.ok("a", "fine"), report.fail("b", "broken", "repair it"), report.warn("c", "unknown")]

    text = report.as_text(results, "ascii")

    assert text.splitlines()[:3] == ["ok   a  fine", "FAIL b  broken -- fix: repair it", "warn c  unknown"]
    text.encode("ascii")


def test_a_check_that_breaks_is_reported_not_raised(tmp_path):
    def broken(context: Context) -> report.Result:
        raise ValueError("unexpected answer")

    results = run_checks(Context("dev", tmp_path, {}, Endpoints()), [Check("billing", broken)])

    assert results == [
        report.warn("billing", "could not tell: the check itself failed (ValueError: unexpected answer)")
    ]
