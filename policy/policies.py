"""The stack's guardrails: mandatory resource policies after the CIS Google Cloud Foundations
Benchmark (the controls that apply to what this stack declares), and the gaps around them.

Policies see a resource's inputs as the engine sends them: engine (camelCase) property names
for pulumi-gcp resources (`uniformBucketLevelAccess`, `networkInterfaces`), the Python names a
dynamic resource was declared with (`job_spec`), secrets unwrapped. During `pulumi preview`
a value that depends on a resource not yet created is unknown; reading it raises inside the
SDK, which turns it into an advisory "can't run during preview" note, and the check runs for
real at `pulumi up`, before the resource is created. Checks therefore read the properties
that decide the outcome first (a role before its member).

This module assembles the policies: `guardrail.py` holds what they share, `pack_config.py` their
settings (policy/config.json), `checks_*.py` the rules, one area each; `__main__.py` builds the
pack, so tests import every policy without starting the policy server. Nothing here imports the
stack's own code: the pack runs in its own virtual environment (policy/requirements.txt), with
this folder on sys.path.
"""

from __future__ import annotations

import checks_compute as compute
import checks_iam as iam
import checks_identity as identity
import checks_labels as labels
import checks_network as network
import checks_storage as storage
import checks_workloads as workloads
from guardrail import (
    BUCKET,
    BUCKET_IAM,
    CLOUD_RUN_SERVICE,
    CLOUD_RUN_SERVICE_IAM,
    CLOUD_RUN_TYPES,
    CLOUD_RUN_V2_SERVICE,
    FIREWALL,
    FIREWALL_POLICIES_WITH_RULES,
    FIREWALL_POLICY_RULES,
    HIERARCHY_IAM,
    HMAC_KEY,
    REQUIRED_LABEL,
    SERVICE_ACCOUNT_IAM,
    SERVICE_ACCOUNT_KEY,
    VERTEX_CUSTOM_JOB,
    VM_TYPES,
    WORKBENCH_INSTANCE,
    WORKLOAD_IDENTITY_PROVIDER,
    Guardrail,
    any_resource,
    of_types,
)
from pack_config import schema
from pulumi_policy import ResourceValidationPolicy

__all__ = ["GUARDRAILS", "PACK_NAME", "POLICIES"]

PACK_NAME = "gcp-mlops-guardrails"

GUARDRAILS: tuple[Guardrail, ...] = (
    # --- identity and access
    Guardrail(
        "no-service-account-keys",
        "No user-managed service account keys, and no HMAC keys (CIS 1.4).",
        of_types(SERVICE_ACCOUNT_KEY, HMAC_KEY),
        iam.no_keys,
    ),
    Guardrail(
        "no-basic-or-admin-project-roles",
        "No basic roles, and no admin roles for service accounts, at project, folder or organization level (CIS 1.5).",
        of_types(HIERARCHY_IAM),
        iam.no_basic_or_admin,
    ),
    Guardrail(
        "no-project-impersonation-roles",
        "No serviceAccountUser, serviceAccountTokenCreator, serviceAccountOpenIdTokenCreator or "
        "workloadIdentityUser at project, folder or organization level (CIS 1.6).",
        of_types(HIERARCHY_IAM),
        iam.no_impersonation,
    ),
    Guardrail(
        "custom-roles-allow-listed",
        "Custom roles are granted at project level only, and only those in allowedProjectCustomRoles.",
        of_types(HIERARCHY_IAM),
        iam.custom_roles_allow_listed,
        schema("allowedProjectCustomRoles"),
    ),
    Guardrail(
        "no-token-creator-on-service-accounts",
        "Only Google service agents (or the account itself) may create a service account's tokens.",
        of_types(SERVICE_ACCOUNT_IAM),
        iam.no_token_creator_on_accounts,
    ),
    Guardrail(
        "no-public-members",
        "No allUsers / allAuthenticatedUsers anywhere (CIS 5.1); Cloud Run invokers: cloudrun-public-serving.",
        any_resource,
        iam.no_public_members,
    ),
    # --- storage
    Guardrail(
        "bucket-uniform-access",
        "Buckets use uniform bucket-level access (CIS 5.2).",
        of_types(BUCKET),
        storage.bucket_uniform_access,
    ),
    Guardrail(
        "bucket-public-access-prevention",
        "Buckets enforce public access prevention (CIS 5.1).",
        of_types(BUCKET),
        storage.bucket_public_access_prevention,
    ),
    Guardrail("bucket-versioning", "Buckets keep object versions.", of_types(BUCKET), storage.bucket_versioning),
    Guardrail(
        "bucket-writes-prefix-conditioned",
        "Bucket-level grants of object-writing roles carry an IAM Condition limiting them to object prefixes.",
        of_types(BUCKET_IAM),
        storage.bucket_writes_prefix_conditioned,
        schema("requirePrefixConditionsForBucketWrites"),
    ),
    # --- virtual machines
    Guardrail(
        "vm-shielded",
        "VMs are Shielded VMs: secure boot (GPU VMs exempt by config), vTPM, integrity monitoring (CIS 4.8).",
        of_types(VM_TYPES),
        compute.vm_shielded,
        schema("secureBootExemptForGpus"),
    ),
    Guardrail("vm-os-login", "VMs enable OS Login (CIS 4.4).", of_types(VM_TYPES), compute.vm_os_login),
    Guardrail(
        "vm-block-project-ssh-keys",
        "VMs block project-wide SSH keys (CIS 4.3).",
        of_types(VM_TYPES),
        compute.vm_block_project_ssh_keys,
    ),
    Guardrail(
        "vm-no-serial-port",
        "VMs do not enable the serial port (CIS 4.5).",
        of_types(VM_TYPES),
        compute.vm_no_serial_port,
    ),
    Guardrail(
        "vm-no-ip-forwarding",
        "VMs do not forward IP packets (CIS 4.6).",
        of_types(VM_TYPES),
        compute.vm_no_ip_forwarding,
    ),
    Guardrail(
        "vm-dedicated-service-account",
        "VMs run as a dedicated service account, not the default compute one (CIS 4.1, 4.2).",
        of_types(VM_TYPES),
        compute.vm_own_service_account,
    ),
    Guardrail(
        "vm-no-external-ip",
        "VMs (templates and Workbench instances too) have no public IP unless the policy config allows it (CIS 4.9).",
        of_types(VM_TYPES, WORKBENCH_INSTANCE),
        compute.vm_no_external_ip,
        schema("allowExternalIp"),
    ),
    # --- network
    Guardrail(
        "firewall-no-world-ingress",
        "No firewall or firewall policy rule admits the internet at large: the union of its source ranges "
        "holds at most a /8 of public IPv4 (a /32 of IPv6) (CIS 3.6, 3.7).",
        of_types(FIREWALL, FIREWALL_POLICY_RULES, FIREWALL_POLICIES_WITH_RULES),
        network.firewall_no_world_ingress,
    ),
    Guardrail(
        "workload-identity-provider-condition",
        "Workload identity providers have an attribute condition; GitHub's: an exact conjunction pinning one "
        "repository.",
        of_types(WORKLOAD_IDENTITY_PROVIDER),
        identity.provider_condition,
    ),
    Guardrail(
        "labels-required",
        f"Every labelable resource carries labels, including {REQUIRED_LABEL}.",
        labels.labelable,
        labels.labels_present,
    ),
    # --- workloads
    Guardrail(
        "no-workload-as-ci-identity",
        "No VM, Vertex AI job or Cloud Run workload runs as a CI identity (ciServiceAccountPrefixes).",
        of_types(VM_TYPES, WORKBENCH_INSTANCE, VERTEX_CUSTOM_JOB, CLOUD_RUN_TYPES),
        workloads.no_ci_identity,
        schema("ciServiceAccountPrefixes"),
    ),
    Guardrail(
        "vertex-job-dedicated-service-account",
        "The Vertex AI job runs as a dedicated service account, not the default compute one.",
        of_types(VERTEX_CUSTOM_JOB),
        workloads.job_service_account,
    ),
    Guardrail(
        "vertex-job-image-digest",
        "The Vertex AI job's images are pinned by digest (Google's prebuilt executors: :latest).",
        of_types(VERTEX_CUSTOM_JOB),
        workloads.job_image_digest,
    ),
    Guardrail(
        "cloudrun-image-digest",
        "Cloud Run services, jobs and worker pools run images pinned by digest.",
        of_types(CLOUD_RUN_TYPES),
        workloads.cloudrun_image_digest,
    ),
    Guardrail(
        "cloudrun-dedicated-service-account",
        "Cloud Run services, jobs and worker pools run as a dedicated service account.",
        of_types(CLOUD_RUN_TYPES),
        workloads.cloudrun_service_account,
    ),
    Guardrail(
        "cloudrun-public-serving",
        "No public Cloud Run invoker (allUsers, allAuthenticatedUsers, invoker IAM disabled) unless the policy "
        "config allowPublicServing.",
        of_types(CLOUD_RUN_SERVICE_IAM, CLOUD_RUN_V2_SERVICE, CLOUD_RUN_SERVICE),
        workloads.cloudrun_public_serving,
        schema("allowPublicServing"),
    ),
)

POLICIES: dict[str, ResourceValidationPolicy] = {guardrail.name: guardrail.policy() for guardrail in GUARDRAILS}
