"""Identity and access rules: long-lived keys, roles granted on the resource hierarchy (project, folder,
organization) and on service accounts, and public principals anywhere."""

from __future__ import annotations

from collections.abc import Iterable

from guardrail import (
    ADMIN_ROLE,
    BASIC_ROLES,
    BROAD_IMPERSONATION_ROLES,
    CLOUD_RUN_SERVICE_IAM,
    CUSTOM_ROLE,
    FOLDER_IAM,
    HMAC_KEY,
    ORGANIZATION_IAM,
    RUN_INVOKER,
    SERVICE_AGENT,
    TOKEN_CREATOR_ROLES,
    Config,
    Props,
    is_public,
    role_bindings,
)
from pack_config import setting


def no_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if resource_type == HMAC_KEY:
        yield (
            "HMAC keys are long-lived secrets of a service account, like its keys (CIS 1.4): use the "
            "account's own short-lived credentials"
        )
    else:
        yield "user-managed service account keys are forbidden (CIS 1.4): use Workload Identity Federation"


def _level(resource_type: str) -> str:
    if resource_type in ORGANIZATION_IAM:
        return "organization"
    return "folder" if resource_type in FOLDER_IAM else "project"


def no_basic_or_admin(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    level = _level(resource_type)
    for grant in role_bindings(props, lambda r: r in BASIC_ROLES or bool(ADMIN_ROLE.search(r))):
        if grant.role in BASIC_ROLES:
            yield f"{grant.role} is a basic role; grant predefined roles instead (CIS 1.5)"
            continue
        for member in grant.members:
            if member.startswith("serviceAccount:"):
                yield f"{grant.role} for {member} at {level} level: no admin roles for service accounts (CIS 1.5)"


def no_impersonation(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    level = _level(resource_type)
    for grant in role_bindings(props, lambda r: r in BROAD_IMPERSONATION_ROLES):
        yield (
            f"{grant.role} at {level} level lets the member act as every service account below it; grant "
            "it on one service account (CIS 1.6)"
        )


def _allowed_custom_role(role_id: str, allowed: Iterable[str]) -> bool:
    return any(role_id.startswith(a[:-1]) if a.endswith("*") else role_id == a for a in allowed)


def custom_roles_allow_listed(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    # A custom role's permissions are not visible in the grant, so only reviewed roles may be granted:
    # whoever the member is.
    level = _level(resource_type)
    allowed = list(setting(config, "allowedProjectCustomRoles"))
    for grant in role_bindings(props, lambda r: bool(CUSTOM_ROLE.match(r))):
        role_id = CUSTOM_ROLE.match(grant.role)["id"]
        if level != "project":
            yield f"custom role {grant.role} at {level} level: custom roles are granted at project level only"
        elif not _allowed_custom_role(role_id, allowed):
            yield (
                f"custom role {role_id!r} is not in the policy config allowedProjectCustomRoles {allowed}: "
                "review its permissions and add it there"
            )


def _account_email(service_account_id: str) -> str:
    """The email in `projects/P/serviceAccounts/EMAIL` (or a bare email); '' for a numeric unique id."""
    last = service_account_id.rsplit("/", 1)[-1]
    return last.lower() if "@" in last else ""


def no_token_creator_on_accounts(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    # Minting another account's tokens is acting as it with all its roles: a privilege escalation path.
    # Google's service agents need it for their features (Pub/Sub push, Scheduler OIDC); an account
    # signing as itself gains nothing.
    for grant in role_bindings(props, lambda r: r in TOKEN_CREATOR_ROLES):
        for member in grant.members:
            if SERVICE_AGENT.match(member):
                continue
            if member.lower() == f"serviceaccount:{_account_email(props.get('serviceAccountId') or '')}":
                continue
            yield (
                f"{grant.role} for {member} lets it mint this service account's tokens and act with all its "
                "roles; only Google service agents (or the account itself) may hold it"
            )


def no_public_members(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    found: list[str] = []
    if resource_type in CLOUD_RUN_SERVICE_IAM:
        # Public invokers of a Cloud Run service are the cloudrun-public-serving policy's call.
        found = [m for grant in role_bindings(props, lambda r: r != RUN_INVOKER) for m in grant.members]
    else:
        for key in ("member", "members", "entity", "roleEntities"):
            if key in props:
                value = props[key]
                found += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        if "policyData" in props:
            found += [m for grant in role_bindings(props, lambda r: True) for m in grant.members]
    for value in found:
        if is_public(value):
            yield f"{value!r} makes the resource public; grant named principals only (CIS 5.1)"
