"""The pack's settings: one schema per configurable policy, and the defaults the checks fall back on
when `--policy-pack-config` leaves a key out. policy/config.json states every default explicitly
(tests/policy/test_policies.py keeps the two equal)."""

from __future__ import annotations

from typing import Any

from guardrail import Config
from pulumi_policy import PolicyConfigSchema

SETTINGS: dict[str, dict[str, Any]] = {
    "secureBootExemptForGpus": {
        "type": "boolean",
        "default": True,
        "description": "VMs with GPUs may run without Secure Boot (unsigned NVIDIA driver); vTPM and "
        "integrity monitoring stay required.",
    },
    "allowExternalIp": {
        "type": "boolean",
        "default": False,
        "description": "Allow public IPs on VMs (set together with the stack's vmExternalIp).",
    },
    "allowPublicServing": {
        "type": "boolean",
        "default": False,
        "description": "Allow allUsers / allAuthenticatedUsers as Cloud Run invokers and invokerIamDisabled "
        "(set together with the stack's servingPublic).",
    },
    "ciServiceAccountPrefixes": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["deployer-", "previewer-"],
        "description": "Account ids (the part of the email before @) starting with one of these are CI "
        "identities: no VM, job or service may run as one.",
    },
    "allowedProjectCustomRoles": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["gcpMlops*"],
        "description": "Custom role ids that may be granted at project level: an exact id, or a prefix "
        "ending in *. Custom roles are never allowed at folder or organization level.",
    },
    "requirePrefixConditionsForBucketWrites": {
        "type": "boolean",
        "default": True,
        "description": "Bucket-level grants of roles that write objects need an IAM Condition limiting "
        "them to an object prefix.",
    },
}


def schema(*keys: str) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={key: SETTINGS[key] for key in keys})


def setting(config: Config, key: str) -> Any:
    value = config.get(key)
    return SETTINGS[key]["default"] if value is None else value
