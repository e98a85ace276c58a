"""The stack's service accounts: one per job, each with its project-level grants, and who may act as whom.

Accounts: `trainer` (the Vertex AI job), `workstation` (the VM), `server` (the model service),
`builder` (Cloud Build), `deployer` (CI deploys) and `previewer` (CI previews, read-only); only the
ones the configuration needs exist. Resource-level grants (bucket, repository, service) are
declared by the component that owns the resource, through its `iam` argument. Nothing here
creates a key, and everything here is applied by an admin (it grants privileges; see docs/ci.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam, naming

LOG_WRITER = "roles/logging.logWriter"
METRIC_WRITER = "roles/monitoring.metricWriter"
ACT_AS = "roles/iam.serviceAccountUser"

# Predefined project-level grants, only where no resource-level grant exists. The CI accounts get
# the stack's custom roles instead (`IdentitiesArgs.custom_roles`).
PROJECT_ROLES: dict[str, tuple[str, ...]] = {
    "trainer": (LOG_WRITER, METRIC_WRITER),
    "workstation": (LOG_WRITER, METRIC_WRITER),
    # Cloud Run collects a container's stdout without any grant.
    "server": (),
    # A build that runs as a user-managed account writes its logs to Cloud Logging itself.
    "builder": (LOG_WRITER,),
    "deployer": (),
    "previewer": (),
}

DESCRIPTIONS = {
    "trainer": "Runs the Vertex AI training job",
    "workstation": "Runs the workstation VM",
    "server": "Runs the Cloud Run model service",
    "builder": "Runs the Cloud Build builds of the trainer image",
    "deployer": "Deploys the stack from CI (the protected GitHub environment, through Workload Identity Federation)",
    "previewer": "Previews the stack from CI (pull requests; read-only)",
}

# The deployer creates the resources that run as these accounts, which takes actAs on each of them.
ACTED_AS_BY_DEPLOYER = ("trainer", "workstation", "server", "builder")


@dataclass
class IdentitiesArgs:
    project: str
    stack: str
    apis: ProjectApis
    roles: Sequence[str]  # Settings.service_accounts
    # Account role -> custom role name (`projects/P/roles/ID`) it holds at project level.
    custom_roles: Mapping[str, str] = field(default_factory=dict)
    # What the project grants wait for (the custom roles they grant).
    waits_for: Sequence[pulumi.Resource] = field(default_factory=list)


class Identities(pulumi.ComponentResource):
    accounts: dict[str, gcp.serviceaccount.Account]

    def __init__(self, name: str, args: IdentitiesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:iam:Identities", name, None, opts)
        unknown = set(args.roles) - set(PROJECT_ROLES)
        if unknown:
            raise ValueError(f"no such account role: {', '.join(sorted(unknown))}")
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
            for role in args.roles
        }
        grants = {
            f"{role}-{grant_role.split('/')[-1].replace('.', '-').lower()}": iam.Grant(grant_role, self.member(role))
            for role in args.roles
            for grant_role in PROJECT_ROLES[role]
        }
        grants |= {
            f"{role}-custom-role": iam.Grant(custom_role, self.member(role))
            for role, custom_role in args.custom_roles.items()
            if role in self.accounts
        }
        self.project_members = iam.bind_project(
            "project",
            args.project,
            grants,
            pulumi.ResourceOptions(
                parent=self, depends_on=[*args.apis.needed_by("cloudresourcemanager"), *args.waits_for]
            ),
        )
        # actAs on exactly the accounts whose resources the deployer manages, each on that account only.
        self.act_as: dict[str, dict[str, pulumi.CustomResource]] = {}
        if "deployer" in self.accounts:
            for role in ACTED_AS_BY_DEPLOYER:
                if role in self.accounts:
                    self.act_as[role] = iam.bind_service_account(
                        f"{role}-actas",
                        self.accounts[role],
                        {"deployer": iam.Grant(ACT_AS, self.member("deployer"))},
                        pulumi.ResourceOptions(parent=self),
                    )
        self.register_outputs({role: account.email for role, account in self.accounts.items()})

    def email(self, role: str) -> pulumi.Output[str]:
        return self.accounts[role].email

    def member(self, role: str) -> pulumi.Output[str]:
        return self.accounts[role].member

    def project_grants(self, role: str) -> list[pulumi.CustomResource]:
        """The project-level grants of `role` (what it may do everywhere in the project)."""
        return [member for key, member in self.project_members.items() if key.startswith(f"{role}-")]

    def act_as_grants(self, role: str) -> list[pulumi.CustomResource]:
        """The grants that let the deployer create resources running as `role` (wait for them)."""
        return list(self.act_as.get(role, {}).values())
