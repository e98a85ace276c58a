"""The checks: one function per rule, each yielding what is wrong with one resource's inputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from guardrail import (
    ADMIN_ROLE,
    BASIC_ROLES,
    GITHUB_ISSUER,
    IMAGE_DIGEST,
    IMPERSONATION_ROLES,
    LABELABLE_TYPES,
    PUBLIC_MEMBERS,
    REQUIRED_LABEL,
    WORLD_RANGES,
    Config,
    Props,
    grants,
    is_default_compute_account,
    is_true,
    role_members,
)

# --- checks -----------------------------------------------------------------------------------


def no_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    yield "user-managed service account keys are forbidden (CIS 1.4): use Workload Identity Federation"


def no_basic_or_admin(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for role, members in role_members(props, lambda r: r in BASIC_ROLES or bool(ADMIN_ROLE.search(r))):
        if role in BASIC_ROLES:
            yield f"{role} is a basic role; grant predefined roles instead (CIS 1.5)"
        for member in members:
            if member.startswith("serviceAccount:") and role not in BASIC_ROLES:
                yield f"{role} for {member} at project level: no admin roles for service accounts (CIS 1.5)"


def no_impersonation(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for role, _ in role_members(props, lambda r: r in IMPERSONATION_ROLES):
        yield (
            f"{role} at project level lets the member act as every service account; grant it on "
            "one service account (CIS 1.6)"
        )


def no_public_members(resource_type: str, props: Props, config: Config) -> Iterable[str]:
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


def bucket_uniform_access(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("uniformBucketLevelAccess") is not True:
        yield "uniformBucketLevelAccess must be true: IAM only, no object ACLs (CIS 5.2)"


def bucket_public_access_prevention(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("publicAccessPrevention") != "enforced":
        yield "publicAccessPrevention must be 'enforced' (CIS 5.1)"


def bucket_versioning(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if (props.get("versioning") or {}).get("enabled") is not True:
        yield "versioning.enabled must be true: overwritten and deleted objects stay recoverable"


def vm_shielded(resource_type: str, props: Props, config: Config) -> Iterable[str]:
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


def vm_os_login(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not is_true(_metadata(props).get("enable-oslogin")):
        yield "metadata enable-oslogin must be TRUE: SSH access through IAM (CIS 4.4)"


def vm_block_project_ssh_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not is_true(_metadata(props).get("block-project-ssh-keys")):
        yield "metadata block-project-ssh-keys must be TRUE (CIS 4.3)"


def vm_no_serial_port(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if is_true(_metadata(props).get("serial-port-enable")):
        yield "metadata serial-port-enable must not be set: no interactive serial console (CIS 4.5)"


def vm_no_ip_forwarding(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("canIpForward") is True:
        yield "canIpForward must be false (CIS 4.6)"


def vm_own_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = (props.get("serviceAccount") or {}).get("email")
    if is_default_compute_account(email):
        yield (
            f"runs as {email or 'the default compute service account'}: give the VM a dedicated "
            "service account (CIS 4.1, 4.2)"
        )


def vm_no_external_ip(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if config.get("allowExternalIp") is True:
        return
    for index, interface in enumerate(props.get("networkInterfaces") or []):
        if interface.get("accessConfigs") or interface.get("ipv6AccessConfigs"):
            yield (
                f"networkInterfaces[{index}] has an access config (a public IP); SSH goes through IAP. "
                "Allow it with the policy config allowExternalIp (CIS 4.9)"
            )


def firewall_no_world_ingress(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if (props.get("direction") or "INGRESS") != "INGRESS" or not props.get("allows"):
        return
    ranges = set(props.get("sourceRanges") or [])
    if not ranges and not props.get("sourceTags") and not props.get("sourceServiceAccounts"):
        ranges = {"0.0.0.0/0"}  # what GCP applies when an ingress rule names no source
    for world in sorted(ranges & WORLD_RANGES):
        yield f"ingress allowed from {world}; name the sources (e.g. IAP 35.235.240.0/20) (CIS 3.6, 3.7)"


def provider_condition(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    condition = (props.get("attributeCondition") or "").strip()
    if not condition:
        yield "attributeCondition is empty: the provider would admit every token of its issuer"
        return
    issuer = (props.get("oidc") or {}).get("issuerUri", "")
    pins = ("assertion.repository ==", "assertion.repository_id ==", "assertion.sub ==")
    if issuer == GITHUB_ISSUER and not any(pin in condition for pin in pins):
        yield "a GitHub provider's attributeCondition must pin assertion.repository (or its id, or sub)"


def labelable(resource_type: str, props: Props) -> bool:
    return resource_type in LABELABLE_TYPES or "labels" in props


def labels_present(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    labels = props.get("labels") or {}
    if not labels:
        yield "has no labels; every labelable resource carries the stack's labels"
    elif REQUIRED_LABEL not in labels:
        yield f"labels lack {REQUIRED_LABEL!r}"


def _job_spec(props: Props) -> Mapping[str, Any]:
    return props.get("job_spec") or props.get("jobSpec") or {}


def job_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = _job_spec(props).get("serviceAccount")
    if is_default_compute_account(email):
        yield (
            f"job_spec.serviceAccount is {email or 'unset (Vertex AI uses its service agent)'}: "
            "run the job as the dedicated trainer account"
        )


def job_image_digest(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for index, pool in enumerate(_job_spec(props).get("workerPoolSpecs") or []):
        image = (pool.get("containerSpec") or {}).get("imageUri")
        if image is not None and not IMAGE_DIGEST.search(image):
            yield (
                f"workerPoolSpecs[{index}].containerSpec.imageUri {image!r} is not pinned by digest "
                "(@sha256:…): a tag can move between preview and run"
            )
