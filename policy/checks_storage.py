"""Cloud Storage rules: how buckets are configured, and how far bucket-level write grants reach."""

from __future__ import annotations

import re
from collections.abc import Iterable

from guardrail import Config, Props, role_bindings
from pack_config import setting

# Roles that create, overwrite or delete objects (or change who may).
BUCKET_WRITE_ROLES = frozenset(
    {
        "roles/storage.admin",
        "roles/storage.objectAdmin",
        "roles/storage.objectUser",
        "roles/storage.objectCreator",
        "roles/storage.folderAdmin",
        "roles/storage.legacyBucketOwner",
        "roles/storage.legacyBucketWriter",
        "roles/storage.legacyObjectOwner",
    }
)
# One term of a condition that is the object-prefix test and nothing else (parentheses around it allowed).
OBJECT_PREFIX_TERM = re.compile(
    r"""\s*\(*\s*resource\.name\.startsWith\(\s*(["'])projects/_/buckets/[^/"']+/objects/[^"']+\1\s*\)\s*\)*\s*"""
)


def bucket_uniform_access(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("uniformBucketLevelAccess") is not True:
        yield "uniformBucketLevelAccess must be true: IAM only, no object ACLs (CIS 5.2)"


def bucket_public_access_prevention(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("publicAccessPrevention") != "enforced":
        yield "publicAccessPrevention must be 'enforced' (CIS 5.1)"


def bucket_versioning(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if (props.get("versioning") or {}).get("enabled") is not True:
        yield "versioning.enabled must be true: overwritten and deleted objects stay recoverable"


def limits_to_object_prefixes(expression: str) -> bool:
    """Whether every alternative (`||`) of a CEL condition is a conjunction (`&&`, which only narrows) with
    one term that is exactly `resource.name.startsWith("projects/_/buckets/BUCKET/objects/PREFIX")`, with
    nothing negated. A `true || …`, a negated test, `startsWith(…) == false` or a `? :` around the test
    would grant the whole bucket while looking scoped."""
    return (
        bool(expression.strip())
        and "!" not in expression
        and all(
            any(OBJECT_PREFIX_TERM.fullmatch(term) for term in alternative.split("&&"))
            for alternative in expression.split("||")
        )
    )


def bucket_writes_prefix_conditioned(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if setting(config, "requirePrefixConditionsForBucketWrites") is False:
        return
    for grant in role_bindings(props, lambda r: r in BUCKET_WRITE_ROLES):
        expression = (grant.condition or {}).get("expression") or ""
        if not limits_to_object_prefixes(expression):
            problem = "has no IAM Condition" if not expression else f"has the condition {expression!r}"
            yield (
                f"{grant.role} on the bucket {problem}: scope write grants to object prefixes with "
                '`resource.name.startsWith("projects/_/buckets/BUCKET/objects/PREFIX")` (|| for several), '
                "or set the policy config requirePrefixConditionsForBucketWrites to false"
            )
