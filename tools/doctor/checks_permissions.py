"""Check that the caller holds every permission `make up` needs for what the configuration declares.

The resource types the configuration declares (components/ci_roles.py `declared_types`, tested equal to
what the program declares) give the permissions (stack.permissions), and Resource Manager's
testIamPermissions says which of them the caller holds on the project.

With --read-only the caller is the CI previewer: it is tested for its custom role's permissions
(components/ci_roles.py `previewer_permissions`), and the fix is that role, never a role that writes.
"""

from __future__ import annotations

from stack import permissions
from tools.doctor.common import ask_google, client_of, settings_of
from tools.doctor.context import Context
from tools.doctor.report import Result, fail, ok, warn

TEST_BATCH = 100  # permissions per testIamPermissions call (larger requests are refused)
SHOWN = 8


def _needed(context: Context) -> tuple[list[str], str]:
    """The permissions to test, and what they are for."""
    # components.ci_roles imports pulumi_gcp: only when asked.
    from components.ci_roles import declared_types, previewer_permissions

    if context.read_only:
        return previewer_permissions(settings_of(context)), "a preview needs (the previewer's role)"
    types = declared_types(settings_of(context))
    return permissions.required_permissions(types), f"make up needs for {len(types)} resource types"


def _grants(context: Context, missing: list[str]) -> tuple[str, list[str]]:
    """The fix for `missing`, and the roles it names."""
    if context.read_only:
        from components.ci_roles import role_id

        role = f"projects/{context.project}/roles/{role_id('previewer', context.stack)}"
        return (
            f"an admin's make up (githubRepository set) creates {role} with exactly these and grants it to the "
            f"previewer; to grant it by hand: gcloud projects add-iam-policy-binding {context.project} "
            f"--member={context.member} --role={role}",
            [role],
        )
    roles = sorted(role for role in permissions.roles_for(missing) if role)
    grants = "; ".join(
        f"gcloud projects add-iam-policy-binding {context.project} --member={context.member} --role={role}"
        for role in roles
    )
    return f"{grants} (or ask a project Owner to run them)", roles


def check_permissions(context: Context) -> Result:
    name = "permissions"
    try:
        needed, what = _needed(context)
    except permissions.UnknownResourceTypes as unknown:
        return warn(name, f"could not tell: {unknown.args[0]}")
    except Exception as error:  # the program under mocks can fail in ways a preflight must survive
        return warn(name, f"could not render the stack to list what it creates: {type(error).__name__}: {error}")
    url = f"{context.endpoints.cloudresourcemanager}/v1/projects/{context.project}:testIamPermissions"

    def held() -> set[str]:
        found: set[str] = set()
        for start in range(0, len(needed), TEST_BATCH):
            found.update(client_of(context).test_permissions(url, needed[start : start + TEST_BATCH]))
        return found

    answer = ask_google(context, name, "Cloud Resource Manager", held)
    if isinstance(answer, Result):
        return answer
    missing = [permission for permission in needed if permission not in answer]
    if not missing:
        return ok(name, f"you hold all {len(needed)} permissions {what}")
    shown = ", ".join(missing[:SHOWN]) + (
        f" and {len(missing) - SHOWN} more (--json lists all)" if len(missing) > SHOWN else ""
    )
    detail = f"{context.identity} lacks {len(missing)} of the {len(needed)} permissions {what}: {shown}"
    fix, roles = _grants(context, missing)
    if set(missing) <= permissions.UNVERIFIED:
        # Names Google's pages disagree on: a project may know them under another spelling.
        detail += " (names stack/permissions.py UNVERIFIED lists: make up may work all the same)"
        return warn(name, detail, fix, missing=missing, roles=roles)
    return fail(name, detail, fix, missing=missing, roles=roles)
