"""The CI identities' custom roles: exactly what the rendered stack needs, and nothing that escalates."""

import pytest

from components import ci_roles
from stack.config import load_settings
from tools.render import TEST_PROJECT, render

CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
CONFIGS = [
    {},
    {"githubRepository": "o/r", "githubRepositoryId": "1", "encryptionKey": "create", "trainingMode": "package",
     "imageBuilder": "cloudbuild", "servingPublic": True, "vmStartSchedule": "0 8 * * 1-5"},
    {"vmEnabled": False, "trainingEnabled": False, "githubRepository": "o/r"},
    {"vmStopSchedule": "", "encryptionKey": "projects/k/locations/europe-west1/keyRings/r/cryptoKeys/k",
     "servingEnabled": False},
]  # fmt: skip
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


@pytest.mark.parametrize("overrides", CONFIGS, ids=range(len(CONFIGS)))
def test_the_roles_hold_exactly_the_derived_permissions(overrides):
    rendered = render(overrides)
    roles = {r.name: r.inputs for r in rendered.of_type(CUSTOM_ROLE)}
    settings = settings_for(overrides)
    assert roles["deployer"]["permissions"] == ci_roles.deployer_permissions(settings)
    assert roles["deployer"]["roleId"] == "gcpMlopsDeployer_dev" and roles["deployer"]["stage"] == "GA"
    if settings.github.enabled:
        assert roles["previewer"]["permissions"] == ci_roles.previewer_permissions(settings)
    else:
        assert "previewer" not in roles


@pytest.mark.parametrize("overrides", CONFIGS, ids=range(len(CONFIGS)))
def test_the_deployer_cannot_raise_its_own_privileges(overrides):
    permissions = ci_roles.deployer_permissions(settings_for(overrides))
    assert permissions and len(permissions) <= 3000, "Google's custom role limit"
    assert [p for p in permissions if any(word in p for word in ESCALATING)] == []


@pytest.mark.parametrize("overrides", CONFIGS, ids=range(len(CONFIGS)))
def test_the_previewer_only_reads(overrides):
    settings = settings_for(overrides)
    if not settings.github.enabled:
        return
    permissions = ci_roles.previewer_permissions(settings)
    assert permissions and all(p.endswith(READ_VERBS) for p in permissions), permissions
    assert [p for p in permissions if p.startswith(("storage.objects.", "aiplatform.customJobs.create"))] == []


def test_the_deployer_can_deploy_what_ci_manages():
    permissions = set(ci_roles.deployer_permissions(settings_for(CONFIGS[1])))
    for needed in (
        "compute.instances.create",
        "storage.buckets.update",
        "aiplatform.customJobs.create",
        "run.services.update",
        "cloudbuild.builds.create",
        "artifactregistry.repositories.update",
    ):
        assert needed in permissions, needed  # fmt: skip


def test_admin_types_are_everything_that_grants_or_defines_identity():
    for type_ in ci_roles.ADMIN_TYPES:
        assert any(word in type_.lower() for word in ("iam", "account", "identity", "service:service", "kms/")), type_
