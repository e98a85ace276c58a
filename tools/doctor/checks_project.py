"""Checks of the project: it exists and is active, billing is on, and which APIs `make up` enables."""

from __future__ import annotations

from components.apis import BASE_SERVICES, required_services
from tools.doctor.common import ask_google, client_of
from tools.doctor.context import PROJECT, SETTINGS, Context
from tools.doctor.google_http import short
from tools.doctor.report import Result, fail, ok, warn

CORE_SERVICES = ("cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com")
BATCH_GET_LIMIT = 30  # serviceusage services.batchGet: "a maximum of 30 services at a time"


def enable_core(project: str) -> str:
    return f"gcloud services enable {' '.join(CORE_SERVICES)} --project {project}"


def check_project(context: Context) -> Result:
    name = "project"
    if not context.project:
        return fail(
            name,
            "no project: the stack has no gcp:project, GCP_PROJECT is not set and gcloud has no current project",
            f"pulumi config set gcp:project YOUR_PROJECT_ID --stack {context.stack}",
        )
    project = context.project
    url = f"{context.endpoints.cloudresourcemanager}/v3/projects/{project}"
    found = ask_google(
        context, name, "Cloud Resource Manager", lambda: client_of(context).get(url),
        disabled=lambda consumer: fail(name, f"the Cloud Resource Manager API is not enabled in project {consumer}",
                                       enable_core(consumer)),
        known=lambda error: fail(
            name, f"{project} does not exist, or {context.identity} may not see it ({short(error)})",
            f"check the ID with `gcloud projects list`, then pulumi config set gcp:project ID --stack {context.stack}",
        ),
    )  # fmt: skip
    if isinstance(found, Result):
        return found
    state = found.get("state", "STATE_UNSPECIFIED")
    if state == "DELETE_REQUESTED":
        return fail(
            name, f"{project} is scheduled for deletion (DELETE_REQUESTED)", f"gcloud projects undelete {project}"
        )
    if state != "ACTIVE":
        return fail(name, f"{project} is {state}, not ACTIVE", f"gcloud projects describe {project}")
    context.project_number = str(found.get("name", "")).removeprefix("projects/") or None
    context.facts.add(PROJECT)
    note = ""
    env_project = context.environ.get("GCP_PROJECT")
    if env_project and env_project != project:
        note = f"; GCP_PROJECT={env_project} is ignored: the stack's gcp:project wins"
    return ok(name, f"{project} (number {context.project_number}) is ACTIVE{note}")


def check_billing(context: Context) -> Result:
    name = "billing"
    project = context.project
    url = f"{context.endpoints.cloudbilling}/v1/projects/{project}/billingInfo"

    def disabled(consumer: str) -> Result:
        return warn(name, f"could not tell: the Cloud Billing API is not enabled in project {consumer}",
                    f"gcloud services enable cloudbilling.googleapis.com --project {consumer}")  # fmt: skip

    info = ask_google(
        context, name, "Cloud Billing", lambda: client_of(context).get(url), disabled=disabled,
        fix=f"look at https://console.cloud.google.com/billing/linkedaccount?project={project}",
    )  # fmt: skip
    if isinstance(info, Result):
        return info
    if info.get("billingEnabled"):
        return ok(name, f"enabled ({info.get('billingAccountName', 'billing account not shown')})")
    return fail(
        name,
        f"billing is not enabled for {project}: nothing that costs money can be created",
        f"gcloud billing accounts list, then gcloud billing projects link {project} --billing-account=ACCOUNT_ID",
    )


def _service_states(context: Context, services: list[str]) -> dict[str, str]:
    parent = f"projects/{context.project_number or context.project}"
    states: dict[str, str] = {}
    for start in range(0, len(services), BATCH_GET_LIMIT):
        batch = services[start : start + BATCH_GET_LIMIT]
        answer = client_of(context).get(
            f"{context.endpoints.serviceusage}/v1/{parent}/services:batchGet",
            params=[("names", f"{parent}/services/{service}") for service in batch],
        )
        for service in answer.get("services", []):
            states[str(service.get("name", "")).rsplit("/", 1)[-1]] = service.get("state", "STATE_UNSPECIFIED")
    return states


def check_apis(context: Context) -> list[Result]:
    wanted = sorted(required_services(context.settings) if SETTINGS in context.facts else BASE_SERVICES)
    project = context.project or ""
    asked = sorted(set(wanted) | set(CORE_SERVICES))
    states = ask_google(
        context, "core APIs", "Service Usage", lambda: _service_states(context, asked),
        disabled=lambda consumer: fail("core APIs", f"the Service Usage API is not enabled in project {consumer}",
                                       enable_core(consumer)),
        known=lambda error: warn("core APIs", f"could not read the project's API states ({short(error)})"),
    )  # fmt: skip
    if isinstance(states, Result):
        return [states]
    core_off = [service for service in CORE_SERVICES if states.get(service) != "ENABLED"]
    results = [
        fail(
            "core APIs",
            f"not enabled in {project}: {', '.join(core_off)} (make up needs them first)",
            enable_core(project),
        )  # fmt: skip
        if core_off
        else ok("core APIs", "Cloud Resource Manager and Service Usage are enabled")
    ]
    off = [service for service in wanted if states.get(service) != "ENABLED"]
    detail = f"{len(wanted) - len(off)} of {len(wanted)} enabled"
    detail += f"; will be enabled by make up: {', '.join(off)}" if off else ""
    results.append(ok("stack APIs", detail, disabled=off))
    return results
