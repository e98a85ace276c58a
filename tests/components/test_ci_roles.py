"""The CI identities' custom roles: exactly what the rendered stack needs, and nothing that escalates."""

import pytest

from components import ci_roles
from stack import permissions
from stack.config import load_settings
from tools.render import TEST_PROJECT, render

CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
CONFIGS = [
    {},
    {"githubRepository": "o/r", "githubRepositoryId": "1", "encryptionKey": "create", "trainingMode": "package",
     "imageBuilder": "cloudbuild", "servingPublic": True, "vmStartSchedule": "0 8 * * 1-5"},
    {"vmEnabled": False, "trainingEnabled": False, "githubRepository": "o/r"},
    {"vmStopSchedule": "", "encryptionKey": "projects/k/locations/europe-west1/keyRings/r/cryptoKeys/k",
     "servingEnabled": False, "githubRepository": "o/r"},
    {"githubRepository": "o/r"},
]  # fmt: skip
WITH_CI = [config for config in CONFIGS if "githubRepository" in config]
# What escalates: IAM administration, identity administration, and access the stack grants per resource.
ESCALATING = ("setIamPolicy", "iam.serviceAccounts.create", "iam.serviceAccounts.actAs", "iam.serviceAccountKeys",
              "iam.workloadIdentityPool", "iam.roles.", "getAccessToken", "signBlob", "storage.objects.",
              "artifactregistry.repositories.uploadArtifacts", "serviceusage.services.enable",
              "resourcemanager.projects.setIamPolicy", "cloudkms.cryptoKeys.setIamPolicy")  # fmt: skip
READ_VERBS = (".get", ".list", ".getIamPolicy", ".testIamPermissions")


def settings_for(overrides):
    raw = {
        key: value if isinstance(value, str) else __import__("json").dumps(value) for key, value in overrides.items()
    }
    return load_settings(raw.get, {"project": TEST_PROJECT, "region": "europe-west1", "zone": "europe-west1-b"}.get,
                         "dev")  # fmt: skip


@pytest.mark.parametrize("overrides", CONFIGS, ids=range(len(CONFIGS)))
def test_declared_types_are_exactly_what_the_program_declares(overrides):
    rendered = render(overrides)
    declared = {r.type for r in rendered.resources if r.custom}
    assert ci_roles.declared_types(settings_for(overrides)) == declared


@pytest.mark.parametrize("overrides", WITH_CI, ids=range(len(WITH_CI)))
def test_the_roles_hold_exactly_the_derived_permissions(overrides):
    rendered = render(overrides)
    roles = {r.name: r.inputs for r in rendered.of_type(CUSTOM_ROLE)}
    settings = settings_for(overrides)
    assert roles["deployer"]["permissions"] == ci_roles.deployer_permissions(settings)
    assert roles["deployer"]["roleId"] == "gcpMlopsDeployer_dev" and roles["deployer"]["stage"] == "GA"
    assert roles["previewer"]["permissions"] == ci_roles.previewer_permissions(settings)


def test_without_ci_there_are_no_ci_accounts_or_roles(dev_stack):
    assert not dev_stack.of_type(CUSTOM_ROLE)
    accounts = {r.name for r in dev_stack.of_type("gcp:serviceaccount/account:Account")}
    assert not accounts & {"deployer", "previewer"}


@pytest.mark.parametrize("overrides", WITH_CI, ids=range(len(WITH_CI)))
def test_the_deployer_cannot_raise_its_own_privileges(overrides):
    granted = ci_roles.deployer_permissions(settings_for(overrides))
    assert granted and len(granted) <= 3000, "Google's custom role limit"
    assert [p for p in granted if any(word in p for word in ESCALATING)] == []


@pytest.mark.parametrize("overrides", WITH_CI, ids=range(len(WITH_CI)))
def test_the_previewer_only_reads(overrides):
    granted = ci_roles.previewer_permissions(settings_for(overrides))
    assert granted and all(p.endswith(READ_VERBS) for p in granted), granted
    assert [p for p in granted if p.startswith(("storage.objects.", "aiplatform.customJobs.create"))] == []


def test_the_deployer_can_deploy_what_ci_manages():
    granted = set(ci_roles.deployer_permissions(settings_for(CONFIGS[1])))
    for needed in (
        "compute.instances.create",
        "storage.buckets.update",
        "aiplatform.customJobs.create",
        "run.services.update",
        "cloudbuild.builds.create",
        "artifactregistry.repositories.update",
    ):
        assert needed in granted, needed  # fmt: skip


@pytest.mark.parametrize("overrides", CONFIGS, ids=range(len(CONFIGS)))
def test_every_resource_that_grants_or_defines_identity_is_admin_owned(overrides):
    for resource in render(overrides).resources:
        if not resource.custom:
            continue
        name = resource.type.lower()
        if any(word in name for word in ("iam", "account:account", "identity", "customrole", "kms/", "auditconfig")):
            assert resource.type in permissions.ADMIN_TYPES, resource.type
