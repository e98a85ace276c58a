"""Check that the caller holds every permission `make up` needs for what the configuration declares.

The program runs under the Pulumi mocks (tools.render) with the stack's own configuration; the
resource types it declares give the permissions (stack.permissions), and Resource Manager's
testIamPermissions says which of them the caller holds on the project.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from functools import cache
from pathlib import Path

from providers.google_errors import GoogleApiError
from stack import permissions
from tools.doctor.context import Context, render_overrides
from tools.doctor.google_http import Unreachable, short
from tools.doctor.report import Result, fail, ok, warn

TEST_BATCH = 100  # permissions per testIamPermissions call (larger requests are refused)
SHOWN = 8


@cache
def _declared_types(stack: str, config: tuple[tuple[str, str], ...]) -> frozenset[str]:
    from tools.render import render

    with tempfile.TemporaryDirectory() as scratch:
        # Every value comes in as an override: the stack file itself is the empty one.
        empty_stack_file = Path(scratch) / f"Pulumi.{stack}.yaml"
        empty_stack_file.write_text("config: {}\n")
        # The program's platform warnings (pulumi.warn) are the doctor's own checks' business.
        with contextlib.redirect_stderr(io.StringIO()):
            rendered = render(dict(config), stack_name=stack, stack_file=str(empty_stack_file))
    return frozenset(resource.type for resource in rendered.resources if resource.custom)


def declared_types(context: Context) -> frozenset[str]:
    """The custom resource types the program declares for this stack (cached per configuration)."""
    return _declared_types(context.stack, tuple(sorted(render_overrides(context).items())))


def check_permissions(context: Context) -> Result:
    name = "permissions"
    try:
        types = declared_types(context)
        needed = permissions.required_permissions(types)
    except permissions.UnknownResourceTypes as unknown:
        return warn(name, f"could not tell: {unknown.args[0]}")
    except Exception as error:  # the program under mocks can fail in ways a preflight must survive
        return warn(name, f"could not render the stack to list what it creates: {type(error).__name__}: {error}")
    client = context.client
    assert client is not None
    url = f"{context.endpoints.cloudresourcemanager}/v1/projects/{context.project}:testIamPermissions"
    held: set[str] = set()
    try:
        for start in range(0, len(needed), TEST_BATCH):
            held.update(client.test_permissions(url, needed[start : start + TEST_BATCH]))
    except GoogleApiError as error:
        return warn(name, f"could not tell ({short(error)})")
    except Unreachable as error:
        return warn(name, f"could not reach Cloud Resource Manager: {error}")
    missing = [permission for permission in needed if permission not in held]
    if not missing:
        return ok(name, f"you hold all {len(needed)} permissions make up needs for {len(types)} resource types")
    roles = permissions.roles_for(missing)
    shown = ", ".join(missing[:SHOWN]) + (
        f" and {len(missing) - SHOWN} more (--json lists all)" if len(missing) > SHOWN else ""
    )
    grants = "; ".join(
        f"gcloud projects add-iam-policy-binding {context.project} --member={context.member} --role={role}"
        for role in roles
        if role
    )
    return fail(
        name,
        f"{context.identity} lacks {len(missing)} of the {len(needed)} permissions make up needs: {shown}",
        f"{grants} (or ask a project Owner to run them)",
        missing=missing,
        roles=sorted(role for role in roles if role),
    )
