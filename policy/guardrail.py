"""What every guardrail shares: the resource types and values it names, the `Guardrail` shape, and the
readers of IAM grants. Imported by the pack's modules with the pack's folder on sys.path (it runs in
its own virtual environment and must not import the stack's code).

Type tokens and input names are pulumi-gcp 10's: tests/policy/test_policies.py checks every token
against the SDK, tests/policy/test_sdk_shapes.py every key against resources declared through the
SDK's `*Args` classes (a check reading a misspelt key would pass silently).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

# Kept equal to stack/iam.py by tests/policy/test_policies.py (the pack cannot import the stack).
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
IMPERSONATION_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})
# Granted on a project, folder or organization, these reach every service account below it too:
# workloadIdentityUser lets federated identities impersonate any of them, openIdTokenCreator mints
# their ID tokens.
BROAD_IMPERSONATION_ROLES = IMPERSONATION_ROLES | {
    "roles/iam.workloadIdentityUser",
    "roles/iam.serviceAccountOpenIdTokenCreator",
}
TOKEN_CREATOR_ROLES = frozenset({"roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountOpenIdTokenCreator"})
ADMIN_ROLE = re.compile(r"(?i)admin")
CUSTOM_ROLE = re.compile(r"^(?:projects|organizations)/[^/]+/roles/(?P<id>[^/]+)$")
RUN_INVOKER = "roles/run.invoker"
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
DEFAULT_COMPUTE_ACCOUNT = re.compile(r"-compute@developer\.gserviceaccount\.com$")
# Google-managed service agents (service-PROJECT_NUMBER@gcp-sa-SERVICE..., and the older domains).
SERVICE_AGENT = re.compile(
    r"^serviceAccount:(?:service-(?:org-|folder-)?\d+@(?:gcp-sa-[a-z0-9-]+|compute-system|container-engine-robot"
    r"|gs-project-accounts|serverless-robot-prod|dataflow-service-producer-prod|cloudcomposer-accounts)"
    r"\.iam\.gserviceaccount\.com|\d+@cloudservices\.gserviceaccount\.com)$"
)
IMAGE_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
REQUIRED_LABEL = "managed-by"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
HMAC_KEY = "gcp:storage/hmacKey:HmacKey"

PROJECT_IAM = frozenset(
    {"gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding", "gcp:projects/iAMPolicy:IAMPolicy"}
)
FOLDER_IAM = frozenset(
    {"gcp:folder/iAMMember:IAMMember", "gcp:folder/iAMBinding:IAMBinding", "gcp:folder/iAMPolicy:IAMPolicy"}
)
ORGANIZATION_IAM = frozenset(
    {
        "gcp:organizations/iAMMember:IAMMember",
        "gcp:organizations/iAMBinding:IAMBinding",
        "gcp:organizations/iAMPolicy:IAMPolicy",
    }
)
HIERARCHY_IAM = PROJECT_IAM | FOLDER_IAM | ORGANIZATION_IAM
SERVICE_ACCOUNT_IAM = frozenset(
    {
        "gcp:serviceaccount/iAMMember:IAMMember",
        "gcp:serviceaccount/iAMBinding:IAMBinding",
        "gcp:serviceaccount/iAMPolicy:IAMPolicy",
    }
)
BUCKET_IAM = frozenset(
    {
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
    }
)
CLOUD_RUN_SERVICE_IAM = frozenset(
    {
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
        "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
        "gcp:cloudrun/iamMember:IamMember",
        "gcp:cloudrun/iamBinding:IamBinding",
        "gcp:cloudrun/iamPolicy:IamPolicy",
    }
)

BUCKET = "gcp:storage/bucket:Bucket"
INSTANCE = "gcp:compute/instance:Instance"
INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
REGION_INSTANCE_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
# Instances made from a template or machine image: the source may lie outside the stack, so they
# must state the settings the VM rules require themselves.
VM_TYPES = frozenset(
    {
        INSTANCE,
        INSTANCE_TEMPLATE,
        REGION_INSTANCE_TEMPLATE,
        "gcp:compute/instanceFromTemplate:InstanceFromTemplate",
        "gcp:compute/instanceFromMachineImage:InstanceFromMachineImage",
    }
)
WORKBENCH_INSTANCE = "gcp:workbench/instance:Instance"
FIREWALL = "gcp:compute/firewall:Firewall"
FIREWALL_POLICY_RULES = frozenset(
    {
        "gcp:compute/firewallPolicyRule:FirewallPolicyRule",
        "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule",
        "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule",
    }
)
FIREWALL_POLICIES_WITH_RULES = frozenset(
    {
        "gcp:compute/firewallPolicyWithRules:FirewallPolicyWithRules",
        "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules",
        "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules",
    }
)
WORKLOAD_IDENTITY_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
VERTEX_CUSTOM_JOB = "pulumi-python:dynamic/vertex:CustomJob"
CLOUD_RUN_V2_SERVICE = "gcp:cloudrunv2/service:Service"
CLOUD_RUN_V2_JOB = "gcp:cloudrunv2/job:Job"
CLOUD_RUN_V2_WORKER_POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
CLOUD_RUN_SERVICE = "gcp:cloudrun/service:Service"
CLOUD_RUN_TYPES = frozenset({CLOUD_RUN_V2_SERVICE, CLOUD_RUN_V2_JOB, CLOUD_RUN_V2_WORKER_POOL, CLOUD_RUN_SERVICE})

# Types that take labels. A resource whose inputs carry a `labels` key is checked whatever its
# type; this list catches the labelable ones that arrive without any labels at all.
# tests/policy/test_policies.py fails when the stack declares a labelable type missing here.
LABELABLE_TYPES = (
    frozenset(
        {
            BUCKET,
            "gcp:compute/disk:Disk",
            "gcp:compute/address:Address",
            "gcp:compute/image:Image",
            "gcp:compute/snapshot:Snapshot",
            "gcp:artifactregistry/repository:Repository",
            "gcp:kms/cryptoKey:CryptoKey",
            "gcp:secretmanager/secret:Secret",
            "gcp:pubsub/topic:Topic",
            "gcp:pubsub/subscription:Subscription",
            "gcp:vertex/aiTensorboard:AiTensorboard",
            "gcp:vertex/aiEndpoint:AiEndpoint",
            "gcp:vertex/aiDataset:AiDataset",
            WORKBENCH_INSTANCE,
            CLOUD_RUN_V2_SERVICE,
            CLOUD_RUN_V2_JOB,
            CLOUD_RUN_V2_WORKER_POOL,
            VERTEX_CUSTOM_JOB,
        }
    )
    | VM_TYPES
)

Props = Mapping[str, Any]
Config = Mapping[str, Any]
Check = Callable[[str, Props, Config], Iterable[str]]


@dataclass(frozen=True)
class Guardrail:
    """One policy: which resources it looks at, and what is wrong with one of them."""

    name: str
    description: str
    applies_to: Callable[[str, Props], bool]
    check: Check
    config_schema: PolicyConfigSchema | None = None

    def policy(self) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if self.applies_to(args.resource_type, args.props):
                for problem in self.check(args.resource_type, args.props, args.get_config() or {}):
                    report_violation(f"{args.name}: {problem}")

        return ResourceValidationPolicy(
            name=self.name,
            description=self.description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=self.config_schema,
        )


def of_types(*types: str | Collection[str]) -> Callable[[str, Props], bool]:
    wanted = {t for group in types for t in ([group] if isinstance(group, str) else group)}
    return lambda resource_type, props: resource_type in wanted


def any_resource(resource_type: str, props: Props) -> bool:
    return True


# --- shared readers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One role granted to members, with its IAM Condition (None: unconditional)."""

    role: str
    members: list[str]
    condition: Mapping[str, Any] | None


def _document_bindings(props: Props) -> list[Binding]:
    try:
        policy = json.loads(props["policyData"] or "{}")
    except (TypeError, json.JSONDecodeError):
        return []
    return [
        Binding(b.get("role", ""), list(b.get("members") or []), b.get("condition"))
        for b in policy.get("bindings") or []
    ]


def _members(props: Props) -> list[str]:
    if "member" in props:
        return [props["member"]] if props["member"] else []
    return list(props.get("members") or [])


def role_bindings(props: Props, role_matches: Callable[[str], bool]) -> Iterable[Binding]:
    """The grants of an IAM member, binding or policy resource (any service) whose role matches,
    reading members and condition only for those (they may be unknown in preview)."""
    if "policyData" in props:
        yield from (b for b in _document_bindings(props) if role_matches(b.role))
        return
    role = props.get("role") or ""
    if "role" in props and role_matches(role):
        yield Binding(role, _members(props), props.get("condition") or None)


def is_public(member: str) -> bool:
    return member.split(":")[-1] in PUBLIC_MEMBERS


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


def is_default_compute_account(email: str | None) -> bool:
    return not email or email == "default" or bool(DEFAULT_COMPUTE_ACCOUNT.search(email))
