"""The CI identities' custom roles: exactly what deploying and previewing this stack need.

The deployer gets the permissions to create, read, update and delete the resources CI manages for
the configured stack, and nothing that administers identities or grants privileges: every
resource that defines an identity or an IAM binding (`stack.permissions.ADMIN_TYPES`) is applied by an admin from
their own machine (`make up` with admin credentials), and a CI deploy whose preview would touch
one stops before `pulumi up` (`tools/admin_guard.py`). The previewer gets read permissions on
everything the stack declares, for `pulumi preview --refresh`, and nothing that writes.

Both lists come from `stack.permissions` for the resource types the configuration declares
(`declared_types`); a test renders the stack and checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import naming, permissions
from stack.config import Settings
from stack.permissions import ADMIN_TYPES, RESOURCE_LEVEL_PERMISSIONS, RESOURCE_LEVEL_TYPES

ROLE_ID_PREFIXES = {"deployer": "gcpMlopsDeployer", "previewer": "gcpMlopsPreviewer"}
ACTIONS = {"deployer": "deploy", "previewer": "preview (read-only)"}


def declared_types(settings: Settings) -> frozenset[str]:
    """The resource types the program declares for `settings` (components and dynamic resources)."""
    types = {
        "gcp:projects/service:Service",
        "gcp:projects/iAMAuditConfig:IAMAuditConfig",
        "gcp:storage/bucket:Bucket",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:artifactregistry/repository:Repository",
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    }
    if settings.vm.enabled:
        types |= {
            "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/firewall:Firewall",
            "gcp:compute/router:Router", "gcp:compute/routerNat:RouterNat", "gcp:compute/instance:Instance",
        }  # fmt: skip
        if settings.vm.has_schedule:
            types |= {
                "gcp:compute/resourcePolicy:ResourcePolicy",
                "gcp:compute/resourcePolicyAttachment:ResourcePolicyAttachment",
                "gcp:compute/instanceIAMMember:InstanceIAMMember",
            }
    if settings.builds_image:
        if settings.uses_cloud_build:
            types |= {"pulumi-python:dynamic/cloudbuild:Build", "gcp:storage/bucketObject:BucketObject"}
        else:
            types.add("docker:index/image:Image")
    if settings.builds_package:
        types.add("gcp:storage/bucketObject:BucketObject")
    if settings.training.enabled:
        types.add("pulumi-python:dynamic/vertex:CustomJob")
    if settings.serving.enabled:
        types.add("gcp:cloudrunv2/service:Service")
        if settings.serving.public:
            types.add("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    if settings.service_accounts:
        types.add("gcp:serviceaccount/account:Account")
    if {"trainer", "workstation", "builder"} & set(settings.service_accounts) or settings.github.enabled:
        types.add("gcp:projects/iAMMember:IAMMember")
    if "deployer" in settings.service_accounts:
        types.add("gcp:serviceaccount/iAMMember:IAMMember")
    if settings.github.enabled:
        types |= {
            "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            "gcp:projects/iAMCustomRole:IAMCustomRole",
        }
    if settings.uses_cmek:
        types |= {"gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:projects/serviceIdentity:ServiceIdentity"}
        if settings.encryption_key == "create":
            types |= {"gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey"}
    return frozenset(types)


def deployer_permissions(settings: Settings) -> list[str]:
    managed = declared_types(settings) - ADMIN_TYPES - RESOURCE_LEVEL_TYPES
    return [p for p in permissions.required_permissions(managed) if not p.startswith(RESOURCE_LEVEL_PERMISSIONS)]


def previewer_permissions(settings: Settings) -> list[str]:
    return [
        p
        for p in permissions.read_permissions(declared_types(settings) - RESOURCE_LEVEL_TYPES)
        if not p.startswith(RESOURCE_LEVEL_PERMISSIONS)
    ]


def role_id(role: str, stack: str) -> str:
    """Custom role ids take letters, digits, '_' and '.', at most 64 characters."""
    return f"{ROLE_ID_PREFIXES[role]}_{naming.slug(stack, separator='_') or 'stack'}"[:64]


@dataclass
class CiRolesArgs:
    settings: Settings
    apis: ProjectApis


class CiRoles(pulumi.ComponentResource):
    roles: dict[str, gcp.projects.IAMCustomRole]

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:iam:CiRoles", name, None, opts)
        settings = args.settings
        if not settings.github.enabled:
            raise ValueError("CiRoles serve the CI identities: githubRepository must be set")
        self._project, self._stack = settings.project, settings.stack
        wanted = {"deployer": deployer_permissions(settings), "previewer": previewer_permissions(settings)}
        self.roles = {
            role: gcp.projects.IAMCustomRole(
                role,
                project=settings.project,
                role_id=role_id(role, settings.stack),
                title=f"gcp-mlops {role} ({settings.stack})"[:100],
                description=f"Exactly what the gcp-mlops stack {settings.stack!r} needs to {ACTIONS[role]}",
                permissions=granted,
                stage="GA",
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("iam")),
            )
            for role, granted in wanted.items()
        }
        self.register_outputs({role: custom.name for role, custom in self.roles.items()})

    def role_names(self) -> dict[str, str]:
        """Account role -> the custom role it holds (`projects/P/roles/ID`).

        Known before the roles exist, so grants can be named and checked; they wait for the roles
        through `IdentitiesArgs.waits_for`."""
        return {role: f"projects/{self._project}/roles/{role_id(role, self._stack)}" for role in self.roles}
