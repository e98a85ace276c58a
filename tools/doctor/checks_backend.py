"""Check of the state backend `make up` logs in to: a gs:// bucket, a local directory or Pulumi Cloud."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from providers.google_errors import GoogleApiError
from tools import preflight
from tools.doctor.checks_local import first_line, run_command
from tools.doctor.common import ask_google, client_of
from tools.doctor.context import CREDENTIALS, Context
from tools.doctor.google_http import short
from tools.doctor.report import Result, Skipped, fail, ok, warn

NAME = "state backend"
# What `make up` does with the state objects, and what a preview (--read-only) needs of them.
STATE_OBJECT_PERMISSIONS = ("storage.objects.get", "storage.objects.list", "storage.objects.create",
                            "storage.objects.delete")  # fmt: skip
STATE_READ_PERMISSIONS = ("storage.objects.get", "storage.objects.list")
# The bucket roles that hold them (docs/ci.md: the deployer objectUser, the previewer objectViewer on the state
# bucket). Neither holds storage.buckets.get, and Pulumi needs none: the check asks testPermissions only, which
# also answers 404 for a bucket that does not exist.
STATE_WRITE_ROLE, STATE_READ_ROLE = "roles/storage.objectUser", "roles/storage.objectViewer"
PULUMI_CLOUD = ("https://api.pulumi.com", "https://app.pulumi.com")


def check_backend(context: Context) -> list[Result]:
    try:  # as make resolves it, without recording anything
        url = preflight.resolve_backend(context.environ, context.root, record=False)
    except preflight.PreflightError as conflict:
        return [fail(NAME, "PULUMI_BACKEND_URL is not the backend this checkout recorded", str(conflict))]
    if url.startswith("gs://"):
        return [_check_bucket(context, url)]
    if url.startswith("file://"):
        return [_check_directory(url), _check_passphrase(context)]
    if url.rstrip("/") in PULUMI_CLOUD:
        return [_check_pulumi_cloud(context)]
    return [warn(NAME, f"{url}: not checked (the doctor knows gs://, file:// and Pulumi Cloud backends)")]


def _check_bucket(context: Context, url: str) -> Result:
    if CREDENTIALS not in context.facts:
        raise Skipped(CREDENTIALS)
    client = client_of(context)
    bucket = url.removeprefix("gs://").split("/", 1)[0]
    storage = f"{context.endpoints.storage}/storage/v1/b/{quote(bucket, safe='')}"
    wanted, role = (
        (STATE_READ_PERMISSIONS, STATE_READ_ROLE) if context.read_only else (STATE_OBJECT_PERMISSIONS, STATE_WRITE_ROLE)
    )
    grant = f"gcloud storage buckets add-iam-policy-binding gs://{bucket} --member={context.member} --role={role}"

    def held() -> list[str]:
        answer = client.get(f"{storage}/iam/testPermissions", [("permissions", p) for p in wanted])
        return answer.get("permissions", [])

    def known(error: GoogleApiError) -> Result:
        if error.is_not_found:
            return fail(NAME, f"{url}: the bucket gs://{bucket} does not exist", _create_bucket_fix(context, bucket))
        if error.http_status == 403:
            return fail(NAME, f"{url}: {context.identity} may not read gs://{bucket} ({short(error)})", grant)
        return warn(NAME, f"{url}: could not tell ({short(error)})")

    found = ask_google(context, NAME, f"Cloud Storage for {url}", held, known=known)
    if isinstance(found, Result):
        return found
    missing = [permission for permission in wanted if permission not in found]
    if missing:
        return fail(NAME, f"{url}: {context.identity} lacks {', '.join(missing)} on gs://{bucket}", grant)
    return ok(NAME, f"{url} (objects: {', '.join(p.rsplit('.', 1)[1] for p in wanted)})")


def _create_bucket_fix(context: Context, bucket: str) -> str:
    if context.read_only:  # the previewer creates nothing: the backend URL is wrong, or the admin's step is missing
        return (f"check PULUMI_BACKEND_URL; an admin creates the state bucket and gives the previewer "
                f"{STATE_READ_ROLE} on it (docs/ci.md)")  # fmt: skip
    return (
        f"gcloud storage buckets create gs://{bucket} --project {context.project} "
        f"--uniform-bucket-level-access --public-access-prevention "
        f"&& gcloud storage buckets update gs://{bucket} --versioning"
    )


def _check_directory(url: str) -> Result:
    directory = Path(os.path.expanduser(url.removeprefix("file://")))
    existing = next((p for p in (directory, *directory.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return fail(NAME, f"{url}: {existing or directory} is not a directory", f"mkdir -p {directory}")
    if not os.access(existing, os.W_OK | os.X_OK):
        return fail(NAME, f"{url}: {existing} is not writable", f"chmod u+rwx {existing}")
    created = "" if existing == directory else " (make up creates it)"
    return ok(NAME, f"{url}: local file state, writable{created}")


def _check_passphrase(context: Context) -> Result:
    name = "secrets passphrase"
    if context.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or context.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        return ok(name, "PULUMI_CONFIG_PASSPHRASE(_FILE) is set")
    if context.stack_file.is_file() and "secretsprovider:" in context.stack_file.read_text():
        return ok(name, f"{context.stack_file.name} names its own secrets provider")
    return warn(
        name,
        "PULUMI_CONFIG_PASSPHRASE is not set: Pulumi will ask for the passphrase that encrypts this stack's secrets",
        "export PULUMI_CONFIG_PASSPHRASE=... (or PULUMI_CONFIG_PASSPHRASE_FILE=path), and keep it safe",
    )


def _check_pulumi_cloud(context: Context) -> Result:
    pulumi = context.which("pulumi")
    if pulumi is None or "pulumi" not in context.facts:
        raise Skipped("pulumi")
    done = run_command(context, [pulumi, "whoami", "--non-interactive"])
    if done.returncode != 0:
        return fail(NAME, f"Pulumi Cloud: not logged in ({first_line(done.stderr) or done.returncode})", "pulumi login")
    return ok(NAME, f"Pulumi Cloud, logged in as {first_line(done.stdout)}")
