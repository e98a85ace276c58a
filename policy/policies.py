"""The stack's guardrails: mandatory resource policies after the CIS Google Cloud Foundations
Benchmark (the controls that apply to what this stack declares).

Policies see a resource's inputs as the engine sends them: engine (camelCase) property names
for pulumi-gcp resources (`uniformBucketLevelAccess`, `networkInterfaces`), the Python names a
dynamic resource was declared with (`job_spec`), secrets unwrapped. During `pulumi preview`
a value that depends on a resource not yet created is unknown; reading it raises inside the
SDK, which turns it into an advisory "can't run during preview" note, and the check runs for
real at `pulumi up`, before the resource is created. Checks therefore read the properties
that decide the outcome first (a role before its member).

This module only defines policies; `__main__.py` builds the pack, so tests import every policy
without starting the policy server. It must not import the stack's own code: the pack runs
in its own virtual environment (policy/requirements.txt).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

PACK_NAME = "gcp-mlops-guardrails"

# Kept equal to components/iam.py by tests/test_policies.py (the pack cannot import the stack).
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
IMPERSONATION_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})
ADMIN_ROLE = re.compile(r"(?i)admin")
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
WORLD_RANGES = frozenset({"0.0.0.0/0", "::/0"})
DEFAULT_COMPUTE_ACCOUNT = re.compile(r"-compute@developer\.gserviceaccount\.com$")
IMAGE_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
REQUIRED_LABEL = "managed-by"

BUCKET = "gcp:storage/bucket:Bucket"
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
PROJECT_IAM = frozenset({
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy",
})
VM_TYPES = frozenset({"gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate"})
FIREWALL = "gcp:compute/firewall:Firewall"
WORKLOAD_IDENTITY_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
VERTEX_CUSTOM_JOB = "pulumi-python:dynamic/vertex:CustomJob"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# Types that take labels. A resource whose inputs carry a `labels` key is checked whatever its
# type; this list catches the labelable ones that arrive without any labels at all.
# tests/test_policies.py fails when the stack declares a labelable type missing here.
LABELABLE_TYPES = frozenset({
    BUCKET,
    "gcp:compute/instance:Instance",
    "gcp:compute/instanceTemplate:InstanceTemplate",
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
    VERTEX_CUSTOM_JOB,
})

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
    config_schema: Optional[PolicyConfigSchema] = None

    def policy(self) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if self.applies_to(args.resource_type, args.props):
                for problem in self.check(args.resource_type, args.props, args.get_config() or {}):
                    report_violation(f"{args.name}: {problem}")

        return ResourceValidationPolicy(
            name=self.name, description=self.description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=self.config_schema,
        )


def of_types(*types: str | Collection[str]) -> Callable[[str, Props], bool]:
    wanted = {t for group in types for t in ([group] if isinstance(group, str) else group)}
    return lambda resource_type, props: resource_type in wanted


def any_resource(resource_type: str, props: Props) -> bool:
    return True


def violations(policy: ResourceValidationPolicy, resource_type: str, props: Props,
               config: Optional[Config] = None, name: str = "resource") -> list[str]:
    """Run one policy on one resource the way the policy server does; the messages it reports."""
    reported: list[str] = []
    # The server hands policies read-only proxies (lists become Sequences), not plain lists and dicts.
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(dict(props)),
                                  f"urn:pulumi:test::test::{resource_type}::{name}", name, None, None,
                                  dict(config or {}))
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


# --- shared readers ---------------------------------------------------------------------------

def grants(props: Props) -> list[tuple[str, list[str]]]:
    """(role, members) of an IAM member, binding or policy resource of any service."""
    if "policyData" in props:
        try:
            policy = json.loads(props["policyData"] or "{}")
        except (TypeError, json.JSONDecodeError):
            return []
        return [(b.get("role", ""), list(b.get("members") or [])) for b in policy.get("bindings") or []]
    if "role" not in props:
        return []
    return [(props["role"] or "", _members(props))]


def _members(props: Props) -> list[str]:
    if "member" in props:
        return [props["member"]] if props["member"] else []
    return list(props.get("members") or [])


def _role_members(props: Props, role_is_bad: Callable[[str], bool]) -> Iterable[tuple[str, list[str]]]:
    """Grants whose role is bad, reading members only for those (they may be unknown in preview)."""
    if "policyData" in props:
        yield from ((role, members) for role, members in grants(props) if role_is_bad(role))
        return
    role = props.get("role") or ""
    if role_is_bad(role):
        yield role, _members(props)


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


def is_default_compute_account(email: Optional[str]) -> bool:
    return not email or email == "default" or bool(DEFAULT_COMPUTE_ACCOUNT.search(email))


# --- checks -----------------------------------------------------------------------------------

def _no_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    yield "user-managed service account keys are forbidden (CIS 1.4): use Workload Identity Federation"


def _no_basic_or_admin(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for role, members in _role_members(props, lambda r: r in BASIC_ROLES or bool(ADMIN_ROLE.search(r))):
        if role in BASIC_ROLES:
            yield f"{role} is a basic role; grant predefined roles instead (CIS 1.5)"
        for member in members:
            if member.startswith("serviceAccount:") and role not in BASIC_ROLES:
                yield f"{role} for {member} at project level: no admin roles for service accounts (CIS 1.5)"


def _no_impersonation(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for role, _ in _role_members(props, lambda r: r in IMPERSONATION_ROLES):
        yield (f"{role} at project level lets the member act as every service account; grant it on "
               "one service account (CIS 1.6)")


def _no_public_members(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    found: list[str] = []
    for key in ("member", "members", "entity", "roleEntities"):
        if key in props:
            value = props[key]
            found += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    if "policyData" in props:
        found += [m for _, members in grants(props) for m in members]
    for value in found:
        principal = value.split(":")[-1]
        if principal in PUBLIC_MEMBERS:
            yield f"{value!r} makes the resource public; grant named principals only (CIS 5.1)"


def _bucket_uniform_access(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("uniformBucketLevelAccess") is not True:
        yield "uniformBucketLevelAccess must be true: IAM only, no object ACLs (CIS 5.2)"


def _bucket_public_access_prevention(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("publicAccessPrevention") != "enforced":
        yield "publicAccessPrevention must be 'enforced' (CIS 5.1)"


def _bucket_versioning(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if (props.get("versioning") or {}).get("enabled") is not True:
        yield "versioning.enabled must be true: overwritten and deleted objects stay recoverable"


def _vm_shielded(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    shielded = props.get("shieldedInstanceConfig") or {}
    # The NVIDIA driver that Deep Learning VM images build on first boot is unsigned, and Secure
    # Boot refuses to load it: GPU VMs are exempt from secure boot only, unless the config says not.
    gpu_exempt = bool(props.get("guestAccelerators")) and config.get("secureBootExemptForGpus", True) is not False
    if shielded.get("enableSecureBoot") is not True and not gpu_exempt:
        yield "shieldedInstanceConfig.enableSecureBoot must be true (CIS 4.8)"
    # vTPM and integrity monitoring are on unless switched off.
    for key in ("enableVtpm", "enableIntegrityMonitoring"):
        if shielded.get(key) is False:
            yield f"shieldedInstanceConfig.{key} must not be false (CIS 4.8)"


def _metadata(props: Props) -> Mapping[str, Any]:
    return props.get("metadata") or {}


def _vm_os_login(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not _is_true(_metadata(props).get("enable-oslogin")):
        yield "metadata enable-oslogin must be TRUE: SSH access through IAM (CIS 4.4)"


def _vm_block_project_ssh_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not _is_true(_metadata(props).get("block-project-ssh-keys")):
        yield "metadata block-project-ssh-keys must be TRUE (CIS 4.3)"


def _vm_no_serial_port(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if _is_true(_metadata(props).get("serial-port-enable")):
        yield "metadata serial-port-enable must not be set: no interactive serial console (CIS 4.5)"


def _vm_no_ip_forwarding(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("canIpForward") is True:
        yield "canIpForward must be false (CIS 4.6)"


def _vm_own_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = (props.get("serviceAccount") or {}).get("email")
    if is_default_compute_account(email):
        yield (f"runs as {email or 'the default compute service account'}: give the VM a dedicated "
               "service account (CIS 4.1, 4.2)")


def _vm_no_external_ip(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if config.get("allowExternalIp") is True:
        return
    for index, interface in enumerate(props.get("networkInterfaces") or []):
        if interface.get("accessConfigs") or interface.get("ipv6AccessConfigs"):
            yield (f"networkInterfaces[{index}] has an access config (a public IP); SSH goes through IAP. "
                   "Allow it with the policy config allowExternalIp (CIS 4.9)")


def _firewall_no_world_ingress(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if (props.get("direction") or "INGRESS") != "INGRESS" or not props.get("allows"):
        return
    ranges = set(props.get("sourceRanges") or [])
    if not ranges and not props.get("sourceTags") and not props.get("sourceServiceAccounts"):
        ranges = {"0.0.0.0/0"}  # what GCP applies when an ingress rule names no source
    for world in sorted(ranges & WORLD_RANGES):
        yield f"ingress allowed from {world}; name the sources (e.g. IAP 35.235.240.0/20) (CIS 3.6, 3.7)"


def _provider_condition(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    condition = (props.get("attributeCondition") or "").strip()
    if not condition:
        yield "attributeCondition is empty: the provider would admit every token of its issuer"
        return
    issuer = (props.get("oidc") or {}).get("issuerUri", "")
    pins = ("assertion.repository ==", "assertion.repository_id ==", "assertion.sub ==")
    if issuer == GITHUB_ISSUER and not any(pin in condition for pin in pins):
        yield "a GitHub provider's attributeCondition must pin assertion.repository (or its id, or sub)"


def _labelable(resource_type: str, props: Props) -> bool:
    return resource_type in LABELABLE_TYPES or "labels" in props


def _labels_present(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    labels = props.get("labels") or {}
    if not labels:
        yield "has no labels; every labelable resource carries the stack's labels"
    elif REQUIRED_LABEL not in labels:
        yield f"labels lack {REQUIRED_LABEL!r}"


def _job_spec(props: Props) -> Mapping[str, Any]:
    return props.get("job_spec") or props.get("jobSpec") or {}


def _job_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = _job_spec(props).get("serviceAccount")
    if is_default_compute_account(email):
        yield (f"job_spec.serviceAccount is {email or 'unset (Vertex AI uses its service agent)'}: "
               "run the job as the dedicated trainer account")


def _job_image_digest(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for index, pool in enumerate(_job_spec(props).get("workerPoolSpecs") or []):
        image = (pool.get("containerSpec") or {}).get("imageUri")
        if image is not None and not IMAGE_DIGEST.search(image):
            yield (f"workerPoolSpecs[{index}].containerSpec.imageUri {image!r} is not pinned by digest "
                   "(@sha256:…): a tag can move between preview and run")


SECURE_BOOT_GPU_EXEMPTION = PolicyConfigSchema(properties={
    "secureBootExemptForGpus": {
        "type": "boolean",
        "default": True,
        "description": "VMs with GPUs may run without Secure Boot (unsigned NVIDIA driver); vTPM and "
                       "integrity monitoring stay required.",
    },
})

ALLOW_EXTERNAL_IP = PolicyConfigSchema(properties={
    "allowExternalIp": {
        "type": "boolean",
        "default": False,
        "description": "Allow public IPs on VMs (set together with the stack's vmExternalIp).",
    },
})

GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("no-service-account-keys", "No user-managed service account keys (CIS 1.4).",
              of_types(SERVICE_ACCOUNT_KEY), _no_keys),
    Guardrail("no-basic-or-admin-project-roles",
              "No basic roles, and no admin roles for service accounts, at project level (CIS 1.5).",
              of_types(PROJECT_IAM), _no_basic_or_admin),
    Guardrail("no-project-impersonation-roles",
              "No serviceAccountUser / serviceAccountTokenCreator at project level (CIS 1.6).",
              of_types(PROJECT_IAM), _no_impersonation),
    Guardrail("no-public-members", "No allUsers / allAuthenticatedUsers anywhere (CIS 5.1).",
              any_resource, _no_public_members),
    Guardrail("bucket-uniform-access", "Buckets use uniform bucket-level access (CIS 5.2).",
              of_types(BUCKET), _bucket_uniform_access),
    Guardrail("bucket-public-access-prevention", "Buckets enforce public access prevention (CIS 5.1).",
              of_types(BUCKET), _bucket_public_access_prevention),
    Guardrail("bucket-versioning", "Buckets keep object versions.", of_types(BUCKET), _bucket_versioning),
    Guardrail("vm-shielded",
              "VMs are Shielded VMs: secure boot (GPU VMs exempt by config), vTPM, integrity monitoring (CIS 4.8).",
              of_types(VM_TYPES), _vm_shielded, SECURE_BOOT_GPU_EXEMPTION),
    Guardrail("vm-os-login", "VMs enable OS Login (CIS 4.4).", of_types(VM_TYPES), _vm_os_login),
    Guardrail("vm-block-project-ssh-keys", "VMs block project-wide SSH keys (CIS 4.3).",
              of_types(VM_TYPES), _vm_block_project_ssh_keys),
    Guardrail("vm-no-serial-port", "VMs do not enable the serial port (CIS 4.5).",
              of_types(VM_TYPES), _vm_no_serial_port),
    Guardrail("vm-no-ip-forwarding", "VMs do not forward IP packets (CIS 4.6).",
              of_types(VM_TYPES), _vm_no_ip_forwarding),
    Guardrail("vm-dedicated-service-account",
              "VMs run as a dedicated service account, not the default compute one (CIS 4.1, 4.2).",
              of_types(VM_TYPES), _vm_own_service_account),
    Guardrail("vm-no-external-ip", "VMs have no public IP unless the policy config allows it (CIS 4.9).",
              of_types(VM_TYPES), _vm_no_external_ip, ALLOW_EXTERNAL_IP),
    Guardrail("firewall-no-world-ingress", "No firewall ingress from 0.0.0.0/0 or ::/0 (CIS 3.6, 3.7).",
              of_types(FIREWALL), _firewall_no_world_ingress),
    Guardrail("workload-identity-provider-condition",
              "Workload identity providers have an attribute condition (GitHub: pinned to a repository).",
              of_types(WORKLOAD_IDENTITY_PROVIDER), _provider_condition),
    Guardrail("labels-required", f"Every labelable resource carries labels, including {REQUIRED_LABEL}.",
              _labelable, _labels_present),
    Guardrail("vertex-job-dedicated-service-account",
              "The Vertex AI job runs as a dedicated service account, not the default compute one.",
              of_types(VERTEX_CUSTOM_JOB), _job_service_account),
    Guardrail("vertex-job-image-digest", "The Vertex AI job's container image is pinned by digest.",
              of_types(VERTEX_CUSTOM_JOB), _job_image_digest),
)

POLICIES: dict[str, ResourceValidationPolicy] = {guardrail.name: guardrail.policy() for guardrail in GUARDRAILS}
