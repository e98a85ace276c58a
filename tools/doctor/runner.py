"""The checks in order, each run only when what it needs was established, and the command line.

    python -m tools.doctor [--stack dev] [--json] [--read-only]

A preflight of `make up` against the user's own project and machine. It only reads (GET, HEAD and
testIamPermissions), every call has a timeout and at most one retry, and it exits 1 when a check
fails. A check that needs what an earlier one found missing (credentials, the project) is not run;
the runner says so in one line per missing thing.

--read-only checks for what a `pulumi preview --refresh` needs instead (CI's read-only previewer,
as drift.yml runs it): the previewer role's permissions, read access to the state, and no Docker.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from stack import schema
from tools.doctor import checks_account, checks_backend, checks_capacity, checks_images, checks_local, checks_project
from tools.doctor.checks_permissions import check_permissions
from tools.doctor.context import CREDENTIALS, NEEDS_TEXT, PROJECT, SETTINGS, Context
from tools.doctor.endpoints import PRODUCTION, Endpoints
from tools.doctor.google_http import WriteRefused
from tools.doctor.report import Result, Skipped, Status, as_json, as_text, exit_code, warn

PREREQUISITES = {PROJECT: CREDENTIALS}

CheckFunction = Callable[[Context], Result | list[Result]]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFunction
    needs: tuple[str, ...] = ()


CHECKS: tuple[Check, ...] = (
    Check("Pulumi CLI", checks_local.check_pulumi),
    Check("gcloud", checks_local.check_gcloud),
    Check("configuration", checks_local.check_configuration),
    Check("Docker", checks_local.check_docker, (SETTINGS,)),
    Check("credentials", checks_account.check_credentials),
    Check("quota project", checks_account.check_quota_project, (CREDENTIALS,)),
    Check("project", checks_project.check_project, (CREDENTIALS,)),
    Check("billing", checks_project.check_billing, (PROJECT,)),
    Check("APIs", checks_project.check_apis, (PROJECT,)),
    Check("permissions", check_permissions, (PROJECT, SETTINGS)),
    Check("VM quota", checks_capacity.check_vm_quota, (PROJECT, SETTINGS)),
    Check("training quota", checks_capacity.check_training_quota, (PROJECT, SETTINGS)),
    Check("VM image", checks_images.check_vm_image, (CREDENTIALS, SETTINGS)),
    Check("executor image", checks_images.check_executor_image, (CREDENTIALS, SETTINGS)),
    Check("state backend", checks_backend.check_backend),
)


def root_cause(need: str, context: Context) -> str:
    """The first missing fact `need` rests on: no project can be checked without credentials."""
    prerequisite = PREREQUISITES.get(need)
    return root_cause(prerequisite, context) if prerequisite and prerequisite not in context.facts else need


def run_checks(context: Context, checks: Sequence[Check] = CHECKS) -> list[Result]:
    results: list[Result] = []
    skipped: dict[str, list[str]] = {}
    for check in checks:
        missing = next((need for need in check.needs if need not in context.facts), None)
        if missing is not None:
            skipped.setdefault(root_cause(missing, context), []).append(check.name)
            continue
        try:
            found = check.run(context)
        except Skipped as unmet:
            skipped.setdefault(unmet.needs, []).append(check.name)
            continue
        except WriteRefused:
            raise
        except Exception as error:  # a preflight reports what it could not check; it does not crash
            found = warn(check.name, f"could not tell: the check itself failed ({type(error).__name__}: {error})")
        results.extend(found if isinstance(found, list) else [found])
    for need, names in skipped.items():
        what = NEEDS_TEXT.get(need, {"pulumi": "the Pulumi CLI"}.get(need, need))
        results.append(Result("not checked", Status.SKIP, f"{', '.join(names)} (they need {what})"))
    if context.client is not None:
        context.client.close()
    return results


def run(
    stack: str = "dev",
    *,
    endpoints: Endpoints = PRODUCTION,
    environ: Mapping[str, str] | None = None,
    root: Path = schema.PROJECT_DIR,
    timeout_seconds: float = 10.0,
    read_only: bool = False,
) -> list[Result]:
    """Every check for `stack`; `endpoints` is where the Google APIs are (tests pass a loopback fake)."""
    context = Context(
        stack=stack,
        root=root,
        environ=dict(os.environ if environ is None else environ),
        endpoints=endpoints,
        timeout_seconds=timeout_seconds,
        read_only=read_only,
    )
    return run_checks(context)


def main(
    argv: Sequence[str] | None = None,
    *,
    endpoints: Endpoints = PRODUCTION,
    environ: Mapping[str, str] | None = None,
    root: Path = schema.PROJECT_DIR,
    out: TextIO | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.doctor", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--stack", default=(environ or os.environ).get("STACK", "dev"), help="the stack (default dev)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="check for a read-only preview (CI's previewer) instead of for make up: read permissions only, no Docker",
    )
    args = parser.parse_args(argv)
    if out is None:
        out = sys.stdout
        # A detail quoted from Google may hold what a plain terminal cannot print: never crash on it.
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="replace")
    results = run(args.stack, endpoints=endpoints, environ=environ, root=root, read_only=args.read_only)
    if args.json:
        print(as_json(results), file=out)
    else:
        mode = " (read-only: what a preview needs)" if args.read_only else ""
        print(f"make doctor: stack {args.stack}{mode}", file=out)
        print(as_text(results, getattr(out, "encoding", None) or "utf-8"), file=out)
    return exit_code(results)
