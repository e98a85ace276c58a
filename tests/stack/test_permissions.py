"""stack/permissions.py: every resource type the program declares has its permissions listed."""

from __future__ import annotations

import re

import pytest

from stack import permissions
from tools.render import render
from tools.snapshot import EXAMPLES

# Configurations that between them declare every resource type the program (and the table) knows.
CONFIGURATIONS = {
    **EXAMPLES,
    "package": {"trainingMode": "package"},
    "cloud-build": {"imageBuilder": "cloudbuild"},
    "public-serving": {"servingPublic": True},
}
PERMISSION = re.compile(r"^[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+$")
ALL = sorted(set(permissions.ALWAYS).union(*(needs.all() for needs in permissions.PERMISSIONS.values())))


@pytest.fixture(scope="module")
def declared_types() -> dict[str, set[str]]:
    return {
        name: {resource.type for resource in render(config).resources if resource.custom}
        for name, config in CONFIGURATIONS.items()
    }


@pytest.mark.parametrize("configuration", list(CONFIGURATIONS))
def test_every_declared_resource_type_is_in_the_table(configuration, declared_types):
    assert permissions.unknown_types(declared_types[configuration]) == [], (
        "add the new resource type(s) to stack/permissions.py PERMISSIONS, with the permissions that "
        "creating, reading, updating and deleting them need"
    )


def test_the_configurations_between_them_declare_every_type_in_the_table(declared_types):
    everything = set().union(*declared_types.values())
    untested = set(permissions.PERMISSIONS) - everything
    assert not untested, f"no configuration in CONFIGURATIONS declares {sorted(untested)}: add one that does"


def test_an_unknown_type_is_refused_by_name():
    with pytest.raises(permissions.UnknownResourceTypes, match="gcp:sql/databaseInstance:DatabaseInstance"):
        permissions.required_permissions(["gcp:storage/bucket:Bucket", "gcp:sql/databaseInstance:DatabaseInstance"])


@pytest.mark.parametrize("permission", ALL)
def test_each_name_is_a_plain_permission_with_a_source_and_a_role(permission):
    assert PERMISSION.match(permission), "testIamPermissions and custom roles take no wildcards"
    assert permission.split(".")[0] in permissions.SOURCES
    assert permissions.role_for(permission), "add a ROLE_HINTS entry for make doctor's fix"


def test_sources_say_where_and_when_the_names_were_read():
    for source in permissions.SOURCES.values():
        assert source.url.startswith("https://") and source.read_on == permissions.READ_ON


def test_unverified_names_are_in_the_table():
    assert permissions.UNVERIFIED <= set(ALL)


def test_what_the_stack_needs_for_its_main_resources():
    needed = set(permissions.required_permissions([
        "gcp:storage/bucket:Bucket", "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:serviceaccount/account:Account", "docker:index/image:Image", "pulumi-python:dynamic/vertex:CustomJob",
        "pulumi-python:dynamic/cloudbuild:Build",
    ]))  # fmt: skip
    assert {
        "storage.buckets.create", "storage.buckets.get", "storage.buckets.update", "storage.buckets.delete",
        "storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy",
        "iam.serviceAccounts.create", "iam.serviceAccounts.get", "iam.serviceAccounts.update",
        "iam.serviceAccounts.delete",
        "artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.downloadArtifacts",
        "aiplatform.customJobs.create", "aiplatform.customJobs.get", "aiplatform.customJobs.list",
        "aiplatform.customJobs.cancel", "aiplatform.customJobs.delete", "iam.serviceAccounts.actAs",
        "cloudbuild.builds.create", "cloudbuild.builds.get", "cloudbuild.builds.list", "cloudbuild.builds.update",
    } <= needed  # fmt: skip


def test_reading_needs_only_reads_and_is_part_of_the_whole(declared_types):
    types = set().union(*declared_types.values())
    reads = permissions.read_permissions(types)
    assert set(reads) <= set(permissions.required_permissions(types))
    verbs = {permission.rsplit(".", 1)[1] for permission in reads}
    assert verbs <= {"get", "list", "getIamPolicy", "downloadArtifacts"}, verbs


def test_iam_member_types_read_modify_write_their_parents_policy():
    for type_, needs in permissions.PERMISSIONS.items():
        if "iam" in type_.lower().rsplit(":", 1)[-1] and "Member" in type_:
            assert any(p.endswith(".setIamPolicy") for p in needs.create), type_
            assert any(p.endswith(".getIamPolicy") for p in needs.read), type_


def test_roles_for_groups_missing_permissions_by_the_role_that_grants_them():
    grouped = permissions.roles_for(["compute.firewalls.create", "compute.instances.create", "storage.objects.get"])
    assert grouped == {
        "roles/compute.securityAdmin": ["compute.firewalls.create"],
        "roles/compute.instanceAdmin.v1": ["compute.instances.create"],
        "roles/storage.admin": ["storage.objects.get"],
    }


def test_the_access_policy_names_types_and_permissions_the_table_knows():
    assert permissions.ADMIN_TYPES <= set(permissions.PERMISSIONS)
    assert permissions.RESOURCE_LEVEL_TYPES <= set(permissions.PERMISSIONS)
    assert not permissions.ADMIN_TYPES & permissions.RESOURCE_LEVEL_TYPES
    for prefix in permissions.RESOURCE_LEVEL_PERMISSIONS:
        assert any(permission.startswith(prefix) for permission in ALL), prefix


def test_every_type_that_grants_or_defines_identity_is_admin_owned():
    for type_ in permissions.PERMISSIONS:
        kind = type_.rsplit(":", 1)[-1]
        if kind.lower().endswith(("iammember", "customrole", "auditconfig")) or "Identity" in kind or kind == "Account":
            assert type_ in permissions.ADMIN_TYPES, type_


def test_workload_identity_names_use_the_method_pages_spelling_and_stay_unverified():
    """Google's predefined roles spell these iam.googleapis.com/...; the method pages and 403s do not (SOURCES)."""
    names = {p for p in ALL if "workloadIdentityPool" in p}
    assert names and all(p.startswith("iam.workloadIdentityPool") for p in names)
    assert names <= permissions.UNVERIFIED
    assert "iam.googleapis.com/workloadIdentityPools" in permissions.SOURCES["iam"].note
