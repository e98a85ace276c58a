"""What `make up`, `make preview` and `make destroy` check before they install or create anything.

    python3 tools/preflight.py --stack dev     # prints the state backend to log in to, or fails

Standard library only: it runs before the virtual environment exists. It checks, in order, that the
Pulumi CLI is installed, that the stack knows its Google Cloud project (GCP_PROJECT, the stack file,
or gcloud's current project), and which state backend the stack lives in: PULUMI_BACKEND_URL, else
the backend this checkout recorded in `.pulumi-backend` the first time, else a local file backend
(`.pulumi-state/`). It never switches backends silently: when PULUMI_BACKEND_URL and the recorded
backend disagree, it stops and says how to move on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND_FILE = ".pulumi-backend"
LOCAL_BACKEND = "file://{root}/.pulumi-state"
INSTALL_PULUMI = "https://www.pulumi.com/docs/install/"


class PreflightError(Exception):
    pass


def require_pulumi_cli(path: str | None = None) -> None:
    if shutil.which("pulumi", path=path) is None:
        raise PreflightError(
            f"the Pulumi CLI is not installed (or not on PATH): install it from {INSTALL_PULUMI}, then run this again"
        )


def stack_project(stack: str, root: Path = ROOT) -> str | None:
    """gcp:project from Pulumi.<stack>.yaml, read without a YAML library (a plain `key: value` line)."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        return None
    match = re.search(
        r"^\s+gcp:project:\s*['\"]?([a-z][a-z0-9-]{4,28}[a-z0-9])['\"]?\s*$", stack_file.read_text(), re.M
    )
    return match.group(1) if match else None


def gcloud_project(path: str | None = None) -> str | None:
    gcloud = shutil.which("gcloud", path=path)
    if gcloud is None:
        return None
    try:
        found = subprocess.run(
            [gcloud, "config", "get-value", "project"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = found.stdout.strip()
    return value if value and value != "(unset)" else None


def resolve_project(stack: str, env: dict[str, str], root: Path = ROOT, path: str | None = None) -> str:
    # A stack that knows its project keeps it; GCP_PROJECT and gcloud only set up a new one.
    project = stack_project(stack, root) or env.get("GCP_PROJECT") or gcloud_project(path)
    if not project:
        raise PreflightError(
            "no Google Cloud project: set GCP_PROJECT=YOUR_PROJECT_ID, or run `gcloud config set project "
            f"YOUR_PROJECT_ID`, or `pulumi config set gcp:project YOUR_PROJECT_ID --stack {stack}`"
        )
    return project


def resolve_backend(env: dict[str, str], root: Path = ROOT, record: bool = True) -> str:
    """The backend to use; records it in `.pulumi-backend` the first time (unless `record` is false)."""
    recorded_file = root / BACKEND_FILE
    recorded = recorded_file.read_text().strip() if recorded_file.is_file() else ""
    wanted = env.get("PULUMI_BACKEND_URL", "").strip()
    if recorded and wanted and wanted != recorded:
        raise PreflightError(
            f"this checkout's stacks live in {recorded} (recorded in {BACKEND_FILE}), but PULUMI_BACKEND_URL is "
            f"{wanted}. Unset PULUMI_BACKEND_URL to keep using {recorded}; to move for good, migrate the state "
            f"(pulumi stack export / import) and then write {wanted} into {BACKEND_FILE}."
        )
    backend = wanted or recorded or LOCAL_BACKEND.format(root=root)
    if record and not recorded:
        recorded_file.write_text(backend + "\n")
    return backend


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/preflight.py", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--print", choices=("backend", "project"), default="backend")
    args = parser.parse_args(argv)
    env = dict(os.environ) if env is None else env
    try:
        require_pulumi_cli(env.get("PATH"))
        project = resolve_project(args.stack, env, path=env.get("PATH"))
        backend = resolve_backend(env)
    except PreflightError as problem:
        print(f"make: {problem}", file=sys.stderr)
        return 1
    print(backend if args.print == "backend" else project)
    return 0


if __name__ == "__main__":
    sys.exit(main())
