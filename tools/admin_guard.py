"""Stop a CI deploy that would change what only an admin may apply.

    pulumi preview --json --stack dev > preview.json
    python -m tools.admin_guard preview.json      # exit 1, listing the changes, if an admin must apply them

The deployer cannot create or change identities, roles or IAM bindings (stack/permissions.py
ADMIN_TYPES); a `pulumi up` that tried would fail halfway through with a permission error. The
deploy workflow runs this between its preview and `pulumi up`, so such a change stops before
anything happens, with the command an admin runs instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stack.permissions import ADMIN_TYPES

UNCHANGED_OPS = frozenset({"same", "read", "refresh", "discard"})


def resource_type(urn: str) -> str:
    """`urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME` -> TYPE."""
    return urn.split("::")[2].split("$")[-1]


def admin_changes(steps: Iterable[Mapping[str, Any]]) -> list[str]:
    """`op TYPE NAME` for every step that changes an admin-owned resource."""
    return [
        f"{step.get('op')} {resource_type(step['urn'])} {step['urn'].rsplit('::', 1)[-1]}"
        for step in steps
        # Replacement steps (create-replacement, delete-replaced, ...) count as changes: strict, on purpose.
        if "urn" in step and step.get("op") not in UNCHANGED_OPS and resource_type(step["urn"]) in ADMIN_TYPES
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.admin_guard", description=__doc__.split("\n")[0])
    parser.add_argument("preview_json", type=Path, help="the output of `pulumi preview --json`")
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args(argv)
    try:
        preview = json.loads(args.preview_json.read_text())
    except (OSError, json.JSONDecodeError) as unreadable:
        print(f"admin guard: cannot read {args.preview_json}: {unreadable}", file=sys.stderr)
        return 2
    changes = admin_changes(preview.get("steps") or [])
    if not changes:
        print("admin guard: the preview changes nothing that needs an admin.")
        return 0
    print("admin guard: this deploy would change resources that only an admin applies:", file=sys.stderr)
    for change in changes:
        print(f"  - {change}", file=sys.stderr)
    print(
        f"An admin applies them from their own machine (docs/ci.md, 'What needs an admin later'): check out this "
        f"commit and run `make up STACK={args.stack}` with admin credentials; then re-run this deploy.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
