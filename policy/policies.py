"""The stack's guardrails: mandatory resource policies after the CIS Google Cloud Foundations
Benchmark (the controls that apply to what this stack declares).

Policies see a resource's inputs as the engine sends them: engine (camelCase) property names
for pulumi-gcp resources (`uniformBucketLevelAccess`, `networkInterfaces`), the Python names a
dynamic resource was declared with (`job_spec`), secrets unwrapped. During `pulumi preview`
a value that depends on a resource not yet created is unknown; reading it raises inside the
SDK, which turns it into an advisory "can't run during preview" note, and the check runs for
real at `pulumi up`, before the resource is created. Checks therefore read the properties
that decide the outcome first (a role before its member).

This module assembles the policies (`guardrail.py` holds what they share, `checks.py` the rules);
`__main__.py` builds the pack, so tests import every policy without starting the policy server.
Nothing here imports the stack's own code: the pack runs in its own virtual environment
(policy/requirements.txt), with this folder on sys.path.
"""

from __future__ import annotations

import checks as rule
from guardrail import (
    BUCKET,
    FIREWALL,
    PROJECT_IAM,
    REQUIRED_LABEL,
    SERVICE_ACCOUNT_KEY,
    VERTEX_CUSTOM_JOB,
    VM_TYPES,
    WORKLOAD_IDENTITY_PROVIDER,
    Guardrail,
    any_resource,
    of_types,
    violations,
)
from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy

__all__ = ["GUARDRAILS", "PACK_NAME", "POLICIES", "violations"]

PACK_NAME = "gcp-mlops-guardrails"

SECURE_BOOT_GPU_EXEMPTION = PolicyConfigSchema(
    properties={
        "secureBootExemptForGpus": {
            "type": "boolean",
            "default": True,
            "description": "VMs with GPUs may run without Secure Boot (unsigned NVIDIA driver); vTPM and "
            "integrity monitoring stay required.",
        },
    }
)

ALLOW_EXTERNAL_IP = PolicyConfigSchema(
    properties={
        "allowExternalIp": {
            "type": "boolean",
            "default": False,
            "description": "Allow public IPs on VMs (set together with the stack's vmExternalIp).",
        },
    }
)

GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail(
        "no-service-account-keys",
        "No user-managed service account keys (CIS 1.4).",
        of_types(SERVICE_ACCOUNT_KEY),
        rule.no_keys,
    ),
    Guardrail(
        "no-basic-or-admin-project-roles",
        "No basic roles, and no admin roles for service accounts, at project level (CIS 1.5).",
        of_types(PROJECT_IAM),
        rule.no_basic_or_admin,
    ),
    Guardrail(
        "no-project-impersonation-roles",
        "No serviceAccountUser / serviceAccountTokenCreator at project level (CIS 1.6).",
        of_types(PROJECT_IAM),
        rule.no_impersonation,
    ),
    Guardrail(
        "no-public-members",
        "No allUsers / allAuthenticatedUsers anywhere (CIS 5.1).",
        any_resource,
        rule.no_public_members,
    ),
    Guardrail(
        "bucket-uniform-access",
        "Buckets use uniform bucket-level access (CIS 5.2).",
        of_types(BUCKET),
        rule.bucket_uniform_access,
    ),
    Guardrail(
        "bucket-public-access-prevention",
        "Buckets enforce public access prevention (CIS 5.1).",
        of_types(BUCKET),
        rule.bucket_public_access_prevention,
    ),
    Guardrail("bucket-versioning", "Buckets keep object versions.", of_types(BUCKET), rule.bucket_versioning),
    Guardrail(
        "vm-shielded",
        "VMs are Shielded VMs: secure boot (GPU VMs exempt by config), vTPM, integrity monitoring (CIS 4.8).",
        of_types(VM_TYPES),
        rule.vm_shielded,
        SECURE_BOOT_GPU_EXEMPTION,
    ),
    Guardrail("vm-os-login", "VMs enable OS Login (CIS 4.4).", of_types(VM_TYPES), rule.vm_os_login),
    Guardrail(
        "vm-block-project-ssh-keys",
        "VMs block project-wide SSH keys (CIS 4.3).",
        of_types(VM_TYPES),
        rule.vm_block_project_ssh_keys,
    ),
    Guardrail(
        "vm-no-serial-port", "VMs do not enable the serial port (CIS 4.5).", of_types(VM_TYPES), rule.vm_no_serial_port
    ),
    Guardrail(
        "vm-no-ip-forwarding", "VMs do not forward IP packets (CIS 4.6).", of_types(VM_TYPES), rule.vm_no_ip_forwarding
    ),
    Guardrail(
        "vm-dedicated-service-account",
        "VMs run as a dedicated service account, not the default compute one (CIS 4.1, 4.2).",
        of_types(VM_TYPES),
        rule.vm_own_service_account,
    ),
    Guardrail(
        "vm-no-external-ip",
        "VMs have no public IP unless the policy config allows it (CIS 4.9).",
        of_types(VM_TYPES),
        rule.vm_no_external_ip,
        ALLOW_EXTERNAL_IP,
    ),
    Guardrail(
        "firewall-no-world-ingress",
        "No firewall ingress from 0.0.0.0/0 or ::/0 (CIS 3.6, 3.7).",
        of_types(FIREWALL),
        rule.firewall_no_world_ingress,
    ),
    Guardrail(
        "workload-identity-provider-condition",
        "Workload identity providers have an attribute condition (GitHub: pinned to a repository).",
        of_types(WORKLOAD_IDENTITY_PROVIDER),
        rule.provider_condition,
    ),
    Guardrail(
        "labels-required",
        f"Every labelable resource carries labels, including {REQUIRED_LABEL}.",
        rule.labelable,
        rule.labels_present,
    ),
    Guardrail(
        "vertex-job-dedicated-service-account",
        "The Vertex AI job runs as a dedicated service account, not the default compute one.",
        of_types(VERTEX_CUSTOM_JOB),
        rule.job_service_account,
    ),
    Guardrail(
        "vertex-job-image-digest",
        "The Vertex AI job's container image is pinned by digest.",
        of_types(VERTEX_CUSTOM_JOB),
        rule.job_image_digest,
    ),
)

POLICIES: dict[str, ResourceValidationPolicy] = {guardrail.name: guardrail.policy() for guardrail in GUARDRAILS}
