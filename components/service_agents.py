"""Google-managed service agents the stack grants access to (KMS keys, instance schedules)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis


def project_number(project: str, apis: ProjectApis) -> pulumi.Output[str]:
    # The lookup calls Cloud Resource Manager: in a fresh project it must wait for that API.
    return gcp.organizations.get_project_output(
        project_id=project,
        opts=pulumi.InvokeOutputOptions(depends_on=apis.needed_by("cloudresourcemanager")),
    ).number


def compute_agent_member(project: str, apis: ProjectApis) -> pulumi.Output[str]:
    """`serviceAccount:service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com`.

    The agent exists once the Compute Engine API is enabled.
    """
    return project_number(project, apis).apply(
        lambda number: f"serviceAccount:service-{number}@compute-system.iam.gserviceaccount.com")
