"""One IAM interface for every component: `Grants` in, additive member bindings out.

As in cloud-foundation-fabric's `iam_bindings_additive`, a grant is keyed by a stable name so
that members which are still unknown (an Output email) give stable Pulumi resource names.
Only additive `*IAMMember` resources are used: the stack never overwrites a policy that
people or other tools manage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True)
class Condition:
    """An IAM Condition (CEL) on a grant."""

    title: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class Grant:
    role: str
    member: pulumi.Input[str]
    condition: Condition | None = None


def objects_under(bucket: str, *prefixes: str, listing: bool = False) -> Condition:
    """Objects of `bucket` whose names start with one of `prefixes` (bucket-level IAM Conditions need
    uniform bucket-level access).

    Listing is checked against the bucket (`projects/_/buckets/B`), not against objects, so a prefix
    condition alone denies it; `listing=True` also admits the bucket itself, which lets the member list
    object names (not read them) everywhere in the bucket.
    """
    tests = [f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")' for prefix in prefixes]
    if listing:
        tests.insert(0, f'resource.name == "projects/_/buckets/{bucket}"')
    return Condition(
        title=f"objects under {', '.join(prefixes)}"[:100],
        expression=" || ".join(tests),
        description=f"Only objects whose names start with {', '.join(prefixes)}"
        + (" (and listing)" if listing else ""),
    )


Grants = Mapping[str, Grant]

# What must never be granted on the whole project (CIS GCP 1.5, 1.6; see also policy/).
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
IMPERSONATION_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})
_ADMIN_ROLE = re.compile(r"(?i)admin")


def project_role_problem(role: str) -> str | None:
    """Why `role` must not be granted at project level, or None."""
    if role in BASIC_ROLES:
        return f"{role} is a basic role"
    if role in IMPERSONATION_ROLES:
        return f"{role} at project level lets the member act as every service account; grant it on one account"
    if _ADMIN_ROLE.search(role):
        return f"{role} is an admin role; grant it on the resource instead"
    return None


MemberFactory = Callable[[str, Grant, pulumi.ResourceOptions], pulumi.CustomResource]


def bind(
    prefix: str, grants: Grants, create: MemberFactory, opts: pulumi.ResourceOptions
) -> dict[str, pulumi.CustomResource]:
    """Create one IAM member resource per grant, named `{prefix}-{key}`."""
    return {key: create(f"{prefix}-{key}", grant, opts) for key, grant in sorted(grants.items())}


def granted(value: pulumi.Input[Any], members: Iterable[pulumi.CustomResource]) -> pulumi.Output[Any]:
    """`value`, resolved only once every member binding exists.

    As cloud-foundation-fabric's module outputs do: whoever consumes a resource through this
    output (a job reading the bucket, a build pushing to the repository) waits for the access
    it was given, instead of racing it.
    """
    return pulumi.Output.all(value, *(member.id for member in members)).apply(lambda values: values[0])


def bind_project(
    prefix: str, project: pulumi.Input[str], grants: Grants, opts: pulumi.ResourceOptions
) -> dict[str, pulumi.CustomResource]:
    """Project-level grants, refused for roles that are never acceptable there."""
    for key, grant in grants.items():
        problem = project_role_problem(grant.role)
        if problem:
            raise ValueError(f"project grant {key!r}: {problem}")
    return bind(
        prefix,
        grants,
        lambda name, grant, o: gcp.projects.IAMMember(
            name, project=project, role=grant.role, member=grant.member, opts=o
        ),
        opts,
    )


def bind_service_account(
    prefix: str, account: gcp.serviceaccount.Account, grants: Grants, opts: pulumi.ResourceOptions
) -> dict[str, pulumi.CustomResource]:
    return bind(
        prefix,
        grants,
        lambda name, grant, o: gcp.serviceaccount.IAMMember(
            name, service_account_id=account.name, role=grant.role, member=grant.member, opts=o
        ),
        opts,
    )
