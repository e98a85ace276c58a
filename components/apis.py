"""The Google APIs the stack uses, enabled before anything needs them, and the service agents
that exist once they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from stack.config import Settings

BASE_SERVICES = (
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "storage.googleapis.com",
    "logging.googleapis.com",
    "artifactregistry.googleapis.com",
)


def required_services(settings: Settings) -> tuple[str, ...]:
    """Every API the configured stack calls, in a stable order."""
    services = list(BASE_SERVICES)
    if settings.vm.enabled:
        services += ["compute.googleapis.com", "oslogin.googleapis.com", "iap.googleapis.com"]
    if settings.training.enabled:
        services.append("aiplatform.googleapis.com")
    if settings.serving.enabled:
        services.append("run.googleapis.com")
    if settings.uses_cloud_build:
        services.append("cloudbuild.googleapis.com")
    if settings.uses_cmek:
        services.append("cloudkms.googleapis.com")
    return tuple(sorted(set(services)))


@dataclass
class ProjectApisArgs:
    project: str
    services: Sequence[str]


class ProjectApis(pulumi.ComponentResource):
    """`projects.Service` per API. Resources elsewhere depend on the ones they use explicitly,
    because `depends_on` is not inherited by a component's children."""

    services: dict[str, gcp.projects.Service]

    def __init__(self, name: str, args: ProjectApisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:project:Apis", name, None, opts)
        self.services = {
            service: gcp.projects.Service(
                service.split(".")[0],
                project=args.project,
                service=service,
                # Other workloads in the project may use the API too: never switch it off.
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service in args.services
        }
        self.register_outputs({"services": sorted(self.services)})

    def enables(self, api: str) -> bool:
        return f"{api}.googleapis.com" in self.services

    def needed_by(self, *apis: str) -> list[pulumi.Resource]:
        """The Service resources for short API names such as "storage" or "aiplatform"."""
        missing = [api for api in apis if f"{api}.googleapis.com" not in self.services]
        if missing:
            raise KeyError(f"APIs not enabled by this stack: {', '.join(missing)}")
        return [self.services[f"{api}.googleapis.com"] for api in apis]

    def project_number(self, project: str) -> pulumi.Output[str]:
        # The lookup calls Cloud Resource Manager: in a fresh project it must wait for that API.
        return gcp.organizations.get_project_output(
            project_id=project,
            opts=pulumi.InvokeOutputOptions(depends_on=self.needed_by("cloudresourcemanager")),
        ).number

    def compute_agent_member(self, project: str) -> pulumi.Output[str]:
        """`serviceAccount:service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com`.

        The agent exists once the Compute Engine API is enabled.
        """
        return self.project_number(project).apply(
            lambda number: f"serviceAccount:service-{number}@compute-system.iam.gserviceaccount.com"
        )
