"""The stack's service accounts, each with its project-level grants.

Resource-level grants (bucket, repository, service account) are declared by the component
that owns the resource, through its `iam` argument. Nothing here creates a key.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam, naming

# Project-level grants only where no resource-level grant exists.
PROJECT_ROLES: dict[str, tuple[str, ...]] = {
    "trainer": ("roles/logging.logWriter", "roles/monitoring.metricWriter"),
    "workstation": ("roles/logging.logWriter", "roles/monitoring.metricWriter"),
    # Submitting, cancelling and deleting Vertex AI custom jobs has no resource-level grant.
    "deployer": ("roles/aiplatform.user",),
}

DESCRIPTIONS = {
    "trainer": "Runs the Vertex AI training job",
    "workstation": "Runs the workstation VM",
    "deployer": "Deploys the stack from CI (GitHub Actions through Workload Identity Federation)",
}


@dataclass
class IdentitiesArgs:
    project: str
    stack: str
    apis: ProjectApis


class Identities(pulumi.ComponentResource):
    accounts: dict[str, gcp.serviceaccount.Account]

    def __init__(self, name: str, args: IdentitiesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:iam:Identities", name, None, opts)
        iam_api = pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("iam"))
        self.accounts = {
            role: gcp.serviceaccount.Account(
                role,
                project=args.project,
                account_id=naming.service_account_id(args.stack, role),
                display_name=f"gcp-mlops {role} ({args.stack})",
                description=DESCRIPTIONS[role],
                opts=iam_api,
            )
            for role in PROJECT_ROLES
        }
        grants = {
            f"{role}-{grant_role.split('/')[-1].replace('.', '-').lower()}": iam.Grant(grant_role, self.member(role))
            for role, grant_roles in PROJECT_ROLES.items()
            for grant_role in grant_roles
        }
        self.project_members = iam.bind_project(
            "project",
            args.project,
            grants,
            pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("cloudresourcemanager")),
        )
        # The deployer submits jobs that run as the trainer: actAs on that one account only.
        self.trainer_users = iam.bind_service_account(
            "trainer-actas",
            self.accounts["trainer"],
            {"deployer": iam.Grant("roles/iam.serviceAccountUser", self.member("deployer"))},
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({role: account.email for role, account in self.accounts.items()})

    def email(self, role: str) -> pulumi.Output[str]:
        return self.accounts[role].email

    def member(self, role: str) -> pulumi.Output[str]:
        return self.accounts[role].member
