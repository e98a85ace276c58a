"""Checks of the caller: application-default credentials that refresh, and their quota project."""

from __future__ import annotations

import google.auth
import google.auth.exceptions
from google.auth.transport.requests import Request

from providers.rest import describe_identity
from stack.catalog import CLOUD_PLATFORM_SCOPE
from tools.doctor.context import CREDENTIALS, Context
from tools.doctor.google_http import GoogleClient, within
from tools.doctor.report import Result, fail, ok, warn

LOGIN = "gcloud auth application-default login"
# Without an ADC file google.auth.default() asks the metadata server, with retries and backoff: on a
# Google Cloud VM it answers at once, elsewhere the doctor need not wait for the retries to run out.
FIND_SECONDS = 2.0
# A user's own gcloud login, as the fixes' --member (the ADC file does not name the account).
USER_MEMBER = "user:$(gcloud config get-value account)"


def _service_account_email(credentials: object) -> str | None:
    email = getattr(credentials, "service_account_email", None)
    return email if isinstance(email, str) and email and email != "default" else None


def check_credentials(context: Context) -> Result:
    name = "credentials"
    try:
        credentials, _ = within(FIND_SECONDS, lambda: google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE]))
    except google.auth.exceptions.DefaultCredentialsError as missing:
        reason = str(missing).split(". To set up", 1)[0].rstrip(".")
        return fail(name, f"no application-default credentials ({reason})", LOGIN)
    except TimeoutError:
        return fail(
            name, f"no application-default credentials (no ADC file, and no metadata server within {FIND_SECONDS:g} s)",
            LOGIN,
        )  # fmt: skip
    try:
        within(context.timeout_seconds, lambda: credentials.refresh(Request()))
    except google.auth.exceptions.RefreshError as refused:
        return fail(name, f"the credentials were refused when refreshed: {str(refused)[:200]}", LOGIN)
    except (google.auth.exceptions.TransportError, TimeoutError) as unreachable:
        return fail(
            name, f"could not reach Google to refresh the token: {str(unreachable)[:200]}", "check the network or proxy"
        )
    email = _service_account_email(credentials)
    context.credentials = credentials
    context.identity = describe_identity(credentials) if email else "your account (application-default login)"
    context.member = f"serviceAccount:{email}" if email else USER_MEMBER
    context.client = GoogleClient(
        credentials, identity=context.identity, project=context.project, timeout_seconds=context.timeout_seconds
    )
    context.facts.add(CREDENTIALS)
    return ok(name, f"{context.identity}; the token refreshes")


def quota_project_of(context: Context) -> str | None:
    return context.environ.get("GOOGLE_CLOUD_QUOTA_PROJECT") or getattr(context.credentials, "quota_project_id", None)


def check_quota_project(context: Context) -> Result:
    name = "quota project"
    quota_project = quota_project_of(context)
    project = context.project or "PROJECT_ID"
    if quota_project:
        where = "the stack's project" if quota_project == context.project else "its APIs must be enabled there"
        source = "GOOGLE_CLOUD_QUOTA_PROJECT" if context.environ.get("GOOGLE_CLOUD_QUOTA_PROJECT") else "ADC"
        return ok(name, f"{quota_project} (from {source}; {where})")
    if _service_account_email(context.credentials):
        return ok(name, "not needed: a service account bills its calls to its own project")
    return warn(
        name,
        "none set: with user credentials some APIs answer 'API not enabled' or 'quota exceeded' without one",
        f"gcloud auth application-default set-quota-project {project}",
    )
