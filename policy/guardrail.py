"""What every guardrail shares: the resource types and values it names, the `Guardrail` shape, and the
readers of IAM grants. Imported by the pack's modules with the pack's folder on sys.path (it runs in
its own virtual environment and must not import the stack's code)."""

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
from pulumi_policy.proxy import unknown_checking_proxy

# Kept equal to stack/iam.py by tests/policy/test_policies.py (the pack cannot import the stack).
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
PROJECT_IAM = frozenset(
    {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:projects/iAMPolicy:IAMPolicy",
    }
)
VM_TYPES = frozenset({"gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate"})
FIREWALL = "gcp:compute/firewall:Firewall"
WORKLOAD_IDENTITY_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
VERTEX_CUSTOM_JOB = "pulumi-python:dynamic/vertex:CustomJob"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# Types that take labels. A resource whose inputs carry a `labels` key is checked whatever its
# type; this list catches the labelable ones that arrive without any labels at all.
# tests/policy/test_policies.py fails when the stack declares a labelable type missing here.
LABELABLE_TYPES = frozenset(
    {
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
    }
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


def violations(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Props,
    config: Config | None = None,
    name: str = "resource",
) -> list[str]:
    """Run one policy on one resource the way the policy server does; the messages it reports."""
    reported: list[str] = []
    # The server hands policies read-only proxies (lists become Sequences), not plain lists and dicts.
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:test::test::{resource_type}::{name}",
        name,
        None,
        None,
        dict(config or {}),
    )
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


def role_members(props: Props, role_is_bad: Callable[[str], bool]) -> Iterable[tuple[str, list[str]]]:
    """Grants whose role is bad, reading members only for those (they may be unknown in preview)."""
    if "policyData" in props:
        yield from ((role, members) for role, members in grants(props) if role_is_bad(role))
        return
    role = props.get("role") or ""
    if role_is_bad(role):
        yield role, _members(props)


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


def is_default_compute_account(email: str | None) -> bool:
    return not email or email == "default" or bool(DEFAULT_COMPUTE_ACCOUNT.search(email))
