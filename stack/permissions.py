"""The Google IAM permissions that creating, reading, updating and deleting each resource type needs.

Data, not logic. Keyed by the Pulumi type token the program registers; `required_permissions`
answers "which permissions does this rendered stack need" and `read_permissions` the subset that
`pulumi preview --refresh` uses (get, list, getIamPolicy). `make doctor` tests the caller's
permissions against this table (Resource Manager testIamPermissions) and components/ci_roles.py
builds the CI identities' custom roles from it, so every name here must be a permission that can be
tested on, and granted in a custom role of, a project.

The names come from Google's "roles and permissions" reference per service (`SOURCES`) and the
"IAM Permissions" section of each REST method's page, read on `READ_ON`; they were cross-checked
against the predefined-role dumps of github.com/iann0036/iam-dataset (snapshot of 2026-08-22).
`UNVERIFIED` lists the names no Google page seen here confirms for the operation they are used for,
or whose spelling Google's own pages disagree on.

The access policy's facts live here too (`ADMIN_TYPES`, `RESOURCE_LEVEL_TYPES`,
`RESOURCE_LEVEL_PERMISSIONS`): which resources only an admin applies, and which access is granted
on one resource instead of the project. components/ci_roles.py builds the CI roles from them and
tools/admin_guard.py stops a CI deploy that would touch an admin-owned resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from stack.catalog import Source

READ_ON = date(2026, 12, 1)
_ROLES_PAGE = "https://cloud.google.com/iam/docs/roles-permissions/{service}"

# Where each service's permission names were read (the key is the permission's first segment).
SOURCES: dict[str, Source] = {
    "aiplatform": Source(
        "https://cloud.google.com/vertex-ai/docs/general/iam-permissions", READ_ON,
        "customJobs: create/get/list/cancel/delete; deleting 'starts a long-running operation' whose GET needs "
        "aiplatform.customJobs.get",
    ),
    "artifactregistry": Source(_ROLES_PAGE.format(service="artifactregistry"), READ_ON),
    "cloudbuild": Source(
        _ROLES_PAGE.format(service="cloudbuild"), READ_ON, "cancelling a build needs cloudbuild.builds.update"
    ),
    "cloudkms": Source(_ROLES_PAGE.format(service="cloudkms"), READ_ON),
    "compute": Source(
        _ROLES_PAGE.format(service="compute"), READ_ON,
        "and https://cloud.google.com/compute/docs/reference/rest/v1 (instances.insert: compute.instances.create, "
        "compute.disks.create, compute.subnetworks.use, compute.instances.setServiceAccount, "
        "iam.serviceAccounts.actAs)",
    ),
    "iam": Source(
        _ROLES_PAGE.format(service="iam"), READ_ON,
        "and https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools (and "
        ".providers): the create, get, patch and delete pages each require iam.workloadIdentityPools.<verb> "
        "(iam.workloadIdentityPoolProviders.<verb>; patch: .update), and IAM's 403 answers name the same "
        "spelling. The predefined roles (roles/iam.workloadIdentityPoolAdmin, owner, editor) list them as "
        "iam.googleapis.com/workloadIdentityPools.<verb> instead. A public record of a custom role "
        "(github.com/rentchaincanada/rentchain, phase-b-b3 runtime-validation evidence, 2026-07) found the "
        "iam.googleapis.com/ spelling accepted but not authorizing iam.workloadIdentityPools.get, and the spelling "
        "used here accepted and authorizing; so this table keeps it (see UNVERIFIED)",
    ),
    "resourcemanager": Source(_ROLES_PAGE.format(service="resourcemanager"), READ_ON),
    "run": Source("https://cloud.google.com/run/docs/reference/iam/permissions", READ_ON),
    "serviceusage": Source("https://cloud.google.com/service-usage/docs/access-control", READ_ON),
    "storage": Source("https://cloud.google.com/storage/docs/access-control/iam-permissions", READ_ON),
}  # fmt: skip


@dataclass(frozen=True)
class Needs:
    """What one resource type needs, per operation of the engine."""

    create: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()

    def all(self) -> frozenset[str]:
        return frozenset((*self.create, *self.read, *self.update, *self.delete))


def _iam_member(service_resource: str) -> Needs:
    """An `...IAMMember` resource: a read-modify-write of its parent's policy."""
    get, set_ = f"{service_resource}.getIamPolicy", f"{service_resource}.setIamPolicy"
    return Needs(create=(get, set_), read=(get,), update=(get, set_), delete=(get, set_))


_ACT_AS = "iam.serviceAccounts.actAs"
# Compute Engine answers writes with an operation that the provider polls.
_GLOBAL_OP = "compute.globalOperations.get"
_REGION_OP = "compute.regionOperations.get"
_ZONE_OP = "compute.zoneOperations.get"

PERMISSIONS: dict[str, Needs] = {
    # --- project foundations -------------------------------------------------------------------
    # components/apis.py sets disable_on_destroy=False: deleting a Service disables nothing.
    "gcp:projects/service:Service": Needs(
        create=("serviceusage.services.enable", "serviceusage.services.get", "serviceusage.operations.get"),
        read=("serviceusage.services.get", "serviceusage.services.list"),
    ),
    # services.generateServiceIdentity documents no permission of its own (see UNVERIFIED).
    "gcp:projects/serviceIdentity:ServiceIdentity": Needs(
        create=("serviceusage.services.use", "serviceusage.operations.get"),
    ),
    "gcp:projects/iAMMember:IAMMember": _iam_member("resourcemanager.projects"),
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": _iam_member("resourcemanager.projects"),
    # A role deleted within the last 7-37 days is undeleted, not created again.
    "gcp:projects/iAMCustomRole:IAMCustomRole": Needs(
        create=("iam.roles.create", "iam.roles.get", "iam.roles.undelete"),
        read=("iam.roles.get",),
        update=("iam.roles.update", "iam.roles.get"),
        delete=("iam.roles.delete",),
    ),
    # --- identities ----------------------------------------------------------------------------
    "gcp:serviceaccount/account:Account": Needs(
        create=("iam.serviceAccounts.create", "iam.serviceAccounts.get"),
        read=("iam.serviceAccounts.get",),
        update=("iam.serviceAccounts.update",),
        delete=("iam.serviceAccounts.delete",),
    ),
    "gcp:serviceaccount/iAMMember:IAMMember": _iam_member("iam.serviceAccounts"),
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": Needs(
        create=("iam.workloadIdentityPools.create", "iam.workloadIdentityPools.get"),
        read=("iam.workloadIdentityPools.get",),
        update=("iam.workloadIdentityPools.update",),
        delete=("iam.workloadIdentityPools.delete",),
    ),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": Needs(
        create=("iam.workloadIdentityPoolProviders.create", "iam.workloadIdentityPoolProviders.get"),
        read=("iam.workloadIdentityPoolProviders.get",),
        update=("iam.workloadIdentityPoolProviders.update",),
        delete=("iam.workloadIdentityPoolProviders.delete",),
    ),
    # --- encryption (key rings and keys cannot be deleted: destroy destroys the key's versions) ---
    "gcp:kms/keyRing:KeyRing": Needs(create=("cloudkms.keyRings.create",), read=("cloudkms.keyRings.get",)),
    "gcp:kms/cryptoKey:CryptoKey": Needs(
        create=("cloudkms.cryptoKeys.create",),
        read=("cloudkms.cryptoKeys.get",),
        update=("cloudkms.cryptoKeys.update",),
        delete=("cloudkms.cryptoKeys.update", "cloudkms.cryptoKeyVersions.list", "cloudkms.cryptoKeyVersions.destroy"),
    ),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _iam_member("cloudkms.cryptoKeys"),
    # --- data ----------------------------------------------------------------------------------
    # Deleting a bucket with destroyData lists and deletes its objects first (force_destroy).
    "gcp:storage/bucket:Bucket": Needs(
        create=("storage.buckets.create", "storage.buckets.get"),
        read=("storage.buckets.get",),
        update=("storage.buckets.update",),
        delete=("storage.buckets.delete", "storage.objects.list", "storage.objects.delete"),
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": _iam_member("storage.buckets"),
    # Writing an object that exists replaces it, which needs delete as well.
    "gcp:storage/bucketObject:BucketObject": Needs(
        create=("storage.objects.create", "storage.objects.delete"),
        read=("storage.objects.get",),
        update=("storage.objects.update",),
        delete=("storage.objects.delete",),
    ),
    # --- registry ------------------------------------------------------------------------------
    "gcp:artifactregistry/repository:Repository": Needs(
        create=("artifactregistry.repositories.create", "artifactregistry.repositories.get"),
        read=("artifactregistry.repositories.get",),
        update=("artifactregistry.repositories.update",),
        delete=("artifactregistry.repositories.delete",),
    ),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _iam_member("artifactregistry.repositories"),
    # `docker push` of a tag; pulling the cache-from image reads. Deleting the resource leaves the image.
    "docker:index/image:Image": Needs(
        create=(
            "artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.downloadArtifacts",
            "artifactregistry.tags.create", "artifactregistry.tags.update",
        ),
        read=("artifactregistry.repositories.downloadArtifacts",),
        update=(
            "artifactregistry.repositories.uploadArtifacts", "artifactregistry.tags.create",
            "artifactregistry.tags.update",
        ),
    ),
    # providers/cloud_build.py: create (as the builder service account), get, list (by tag), cancel.
    "pulumi-python:dynamic/cloudbuild:Build": Needs(
        create=("cloudbuild.builds.create", "cloudbuild.builds.get", "cloudbuild.builds.list", _ACT_AS),
        read=("cloudbuild.builds.get", "cloudbuild.builds.list"),
        update=("cloudbuild.builds.create", "cloudbuild.builds.get", "cloudbuild.builds.list", _ACT_AS),
        delete=("cloudbuild.builds.get", "cloudbuild.builds.update"),
    ),
    # --- network -------------------------------------------------------------------------------
    "gcp:compute/network:Network": Needs(
        create=("compute.networks.create", "compute.networks.get", _GLOBAL_OP),
        read=("compute.networks.get",),
        update=("compute.networks.update", _GLOBAL_OP),
        delete=("compute.networks.delete", _GLOBAL_OP),
    ),
    "gcp:compute/subnetwork:Subnetwork": Needs(
        create=("compute.subnetworks.create", "compute.subnetworks.get", _REGION_OP),
        read=("compute.subnetworks.get",),
        update=("compute.subnetworks.update", "compute.subnetworks.setPrivateIpGoogleAccess", _REGION_OP),
        delete=("compute.subnetworks.delete", _REGION_OP),
    ),
    # Changing a VPC's firewall rules is an update of the network's policy.
    "gcp:compute/firewall:Firewall": Needs(
        create=("compute.firewalls.create", "compute.firewalls.get", "compute.networks.updatePolicy", _GLOBAL_OP),
        read=("compute.firewalls.get",),
        update=("compute.firewalls.update", "compute.networks.updatePolicy", _GLOBAL_OP),
        delete=("compute.firewalls.delete", "compute.networks.updatePolicy", _GLOBAL_OP),
    ),
    "gcp:compute/router:Router": Needs(
        create=("compute.routers.create", "compute.routers.get", _REGION_OP),
        read=("compute.routers.get",),
        update=("compute.routers.update", _REGION_OP),
        delete=("compute.routers.delete", _REGION_OP),
    ),
    # A NAT is a part of its router: every change is a router update.
    "gcp:compute/routerNat:RouterNat": Needs(
        create=("compute.routers.get", "compute.routers.update", _REGION_OP),
        read=("compute.routers.get",),
        update=("compute.routers.update", _REGION_OP),
        delete=("compute.routers.update", _REGION_OP),
    ),
    # --- workstation ---------------------------------------------------------------------------
    # The boot image is public (deeplearning-platform-release grants compute.images.useReadOnly to all).
    "gcp:compute/instance:Instance": Needs(
        create=(
            "compute.instances.create", "compute.instances.get", "compute.disks.create", "compute.subnetworks.use",
            "compute.subnetworks.useExternalIp", "compute.instances.setServiceAccount", "compute.instances.setMetadata",
            "compute.instances.setTags", "compute.instances.setLabels", _ACT_AS, _ZONE_OP,
        ),
        read=("compute.instances.get", "compute.disks.get"),
        update=(
            "compute.instances.update", "compute.instances.setMetadata", "compute.instances.setTags",
            "compute.instances.setLabels", "compute.instances.setMachineType", "compute.instances.setServiceAccount",
            "compute.instances.setScheduling", "compute.instances.setDeletionProtection",
            "compute.instances.updateShieldedInstanceConfig", "compute.instances.stop", "compute.instances.start",
            _ACT_AS, _ZONE_OP,
        ),
        delete=("compute.instances.delete", _ZONE_OP),
    ),
    "gcp:compute/instanceIAMMember:InstanceIAMMember": _iam_member("compute.instances"),
    "gcp:compute/resourcePolicy:ResourcePolicy": Needs(
        create=("compute.resourcePolicies.create", "compute.resourcePolicies.get", _REGION_OP),
        read=("compute.resourcePolicies.get",),
        update=("compute.resourcePolicies.update", _REGION_OP),
        delete=("compute.resourcePolicies.delete", _REGION_OP),
    ),
    "gcp:compute/resourcePolicyAttachment:ResourcePolicyAttachment": Needs(
        create=("compute.instances.addResourcePolicies", "compute.resourcePolicies.use", "compute.instances.get",
                _ZONE_OP),
        read=("compute.instances.get",),
        delete=("compute.instances.removeResourcePolicies", _ZONE_OP),
    ),
    # --- training and serving ------------------------------------------------------------------
    # providers/vertex_job.py: list (adopt by create token), create (runs as the trainer), get, cancel, delete.
    "pulumi-python:dynamic/vertex:CustomJob": Needs(
        create=("aiplatform.customJobs.create", "aiplatform.customJobs.get", "aiplatform.customJobs.list", _ACT_AS),
        read=("aiplatform.customJobs.get", "aiplatform.customJobs.list"),
        update=("aiplatform.customJobs.create", "aiplatform.customJobs.get", "aiplatform.customJobs.list", _ACT_AS),
        delete=("aiplatform.customJobs.cancel", "aiplatform.customJobs.delete", "aiplatform.customJobs.get"),
    ),
    "gcp:cloudrunv2/service:Service": Needs(
        create=("run.services.create", "run.services.get", "run.operations.get", _ACT_AS),
        read=("run.services.get",),
        update=("run.services.update", "run.operations.get", _ACT_AS),
        delete=("run.services.delete", "run.operations.get"),
    ),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": _iam_member("run.services"),
}  # fmt: skip

# Every Pulumi program reads its project (gcp:organizations/getProject) through Resource Manager.
ALWAYS = ("resourcemanager.projects.get",)

# Types that are not Google resources: providers (explicit provider resources) need nothing themselves.
PERMISSION_FREE_PREFIXES = ("pulumi:providers:",)

# Names no Google page read here ties to the operation they are listed for, or whose spelling Google's
# pages disagree on (see the module docstring). `make doctor` warns, never fails, on these alone.
UNVERIFIED = frozenset({
    # services.generateServiceIdentity's reference names no permission; serviceusage.services.use is an inference.
    "serviceusage.services.use",
    # Pushing a tag (rather than only a digest) is covered by roles/artifactregistry.writer, which holds these;
    # no page names them for `docker push`.
    "artifactregistry.tags.create", "artifactregistry.tags.update",
    # Attaching a resource policy to an instance: in roles/compute.instanceAdmin.v1; the method page names only
    # compute.instances.addResourcePolicies.
    "compute.resourcePolicies.use",
    # The provider's undelete of a soft-deleted custom role: the permission exists (roles/iam.roleAdmin).
    "iam.roles.undelete",
    # Workload Identity: every method page names these, but Google's predefined roles spell them
    # iam.googleapis.com/workloadIdentityPools.* (SOURCES["iam"]). Which spelling a custom role must hold is
    # settled only in a real project:
    #   gcloud iam list-testable-permissions //cloudresourcemanager.googleapis.com/projects/P \
    #     --filter="name~workloadIdentityPool"
    "iam.workloadIdentityPools.create", "iam.workloadIdentityPools.get", "iam.workloadIdentityPools.update",
    "iam.workloadIdentityPools.delete", "iam.workloadIdentityPoolProviders.create",
    "iam.workloadIdentityPoolProviders.get", "iam.workloadIdentityPoolProviders.update",
    "iam.workloadIdentityPoolProviders.delete",
})  # fmt: skip

# --- the access policy -----------------------------------------------------------------------

# Resources that define identities or grant privileges: only an admin applies them.
ADMIN_TYPES = frozenset({
    "gcp:projects/service:Service",
    "gcp:projects/serviceIdentity:ServiceIdentity",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMCustomRole:IAMCustomRole",
    "gcp:projects/iAMAuditConfig:IAMAuditConfig",
    "gcp:serviceaccount/account:Account",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:compute/instanceIAMMember:InstanceIAMMember",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
})  # fmt: skip

# Access that is granted on the one resource instead of the whole project: objects by prefix on the data
# bucket, pushes and pulls on the repository, actAs on each account the deployer must act as. In a
# project-level role they would reach every bucket, repository and service account of the project.
RESOURCE_LEVEL_TYPES = frozenset({"gcp:storage/bucketObject:BucketObject", "docker:index/image:Image"})
# (Deleting the bucket together with its objects, `destroyData`, is therefore an admin's `make destroy`.)
RESOURCE_LEVEL_PERMISSIONS = ("iam.serviceAccounts.actAs", "storage.objects.")

# The predefined role that grants a permission, by the longest matching prefix: for `make doctor`'s fixes.
ROLE_HINTS: tuple[tuple[str, str], ...] = (
    ("aiplatform.", "roles/aiplatform.user"),
    ("artifactregistry.repositories.getIamPolicy", "roles/artifactregistry.admin"),
    ("artifactregistry.repositories.setIamPolicy", "roles/artifactregistry.admin"),
    ("artifactregistry.repositories.create", "roles/artifactregistry.admin"),
    ("artifactregistry.repositories.delete", "roles/artifactregistry.admin"),
    ("artifactregistry.repositories.update", "roles/artifactregistry.admin"),
    ("artifactregistry.", "roles/artifactregistry.writer"),
    ("cloudbuild.", "roles/cloudbuild.builds.editor"),
    ("cloudkms.", "roles/cloudkms.admin"),
    ("compute.firewalls.", "roles/compute.securityAdmin"),
    ("compute.networks.updatePolicy", "roles/compute.securityAdmin"),
    ("compute.networks.", "roles/compute.networkAdmin"),
    ("compute.subnetworks.", "roles/compute.networkAdmin"),
    ("compute.routers.", "roles/compute.networkAdmin"),
    ("compute.globalOperations.", "roles/compute.networkAdmin"),
    ("compute.regionOperations.", "roles/compute.networkAdmin"),
    ("compute.", "roles/compute.instanceAdmin.v1"),
    ("iam.serviceAccounts.actAs", "roles/iam.serviceAccountUser"),
    ("iam.serviceAccounts.", "roles/iam.serviceAccountAdmin"),
    ("iam.roles.", "roles/iam.roleAdmin"),
    ("iam.workloadIdentityPool", "roles/iam.workloadIdentityPoolAdmin"),
    ("resourcemanager.projects.get", "roles/browser"),
    ("resourcemanager.projects.", "roles/resourcemanager.projectIamAdmin"),
    ("run.", "roles/run.admin"),
    ("serviceusage.", "roles/serviceusage.serviceUsageAdmin"),
    ("storage.", "roles/storage.admin"),
)


class UnknownResourceTypes(KeyError):
    """The stack declares resource types this table does not know: add them to PERMISSIONS."""

    def __init__(self, types: Iterable[str]):
        self.types = sorted(types)
        super().__init__(f"stack/permissions.py does not know the resource type(s) {', '.join(self.types)}")


def unknown_types(types: Iterable[str]) -> list[str]:
    return sorted(t for t in set(types) if t not in PERMISSIONS and not t.startswith(PERMISSION_FREE_PREFIXES))


def _needs(types: Iterable[str]) -> list[Needs]:
    types = set(types)
    unknown = unknown_types(types)
    if unknown:
        raise UnknownResourceTypes(unknown)
    return [PERMISSIONS[t] for t in types if t in PERMISSIONS]


def required_permissions(types: Iterable[str]) -> list[str]:
    """Every permission that creating, reading, updating and deleting `types` needs, sorted."""
    return sorted(set(ALWAYS).union(*(needs.all() for needs in _needs(types))))


def read_permissions(types: Iterable[str]) -> list[str]:
    """What reading them needs (`pulumi preview --refresh`, `pulumi refresh`): get, list and getIamPolicy."""
    return sorted(set(ALWAYS).union(*(needs.read for needs in _needs(types))))


def role_for(permission: str) -> str | None:
    matches = [(prefix, role) for prefix, role in ROLE_HINTS if permission.startswith(prefix)]
    return max(matches, key=lambda match: len(match[0]))[1] if matches else None


def roles_for(permissions: Iterable[str]) -> dict[str, list[str]]:
    """Predefined role -> the given permissions it grants (a permission with no hint goes under "")."""
    grouped: dict[str, list[str]] = {}
    for permission in sorted(set(permissions)):
        grouped.setdefault(role_for(permission) or "", []).append(permission)
    return grouped
