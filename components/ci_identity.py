"""Keyless CI: GitHub Actions acts as the previewer or the deployer through Workload Identity Federation.

GitHub's OIDC token is exchanged for a short-lived Google token (sts), which impersonates a
service account (iamcredentials). No service account key exists anywhere. Who gets in is decided
in layers:

- the provider's `attribute_condition` admits tokens of ONE repository only
  (`assertion.repository`, plus `assertion.repository_id` when `githubRepositoryId` is pinned: the
  id survives renames, and a deleted-and-recreated repository of the same name gets a new one). A
  provider without a condition would admit every GitHub repository.
- the `previewer` (read-only) may be used by any job of that repository (pull-request previews,
  the weekly drift check): `roles/iam.workloadIdentityUser` for the repository's principalSet.
- the `deployer` may be used only by the protected deploy: `workloadIdentityUser` for the single
  subject of a job in the GitHub environment `githubEnvironment` (`repo:OWNER/NAME:environment:ENV`;
  GitHub gives environment secrets and the job itself only after its required reviewers approve,
  and only from the branches its deployment policy allows), or, without an environment, of a push
  to `githubDeployRef` (`repo:OWNER/NAME:ref:REF`). A pull request's job has the subject
  `repo:OWNER/NAME:pull_request` and a pushed branch another ref: neither can act as the deployer.
  Repositories created since 2026-07-15 use GitHub's immutable subject format by default
  (`repo:OWNER@OWNER_ID/NAME@REPO_ID:…`); with `githubRepositoryId` and `githubOwnerId` set, that
  subject is admitted too.

Ids: pools and providers are soft-deleted for 30 days and their ids cannot be reused in that
time, so ids are derived from the stack (`github-{stack}`) rather than shared across stacks;
after `pulumi destroy`, undelete the pool (`gcloud iam workload-identity-pools undelete`) and
import it, or wait 30 days, before deploying the same stack again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam, naming
from stack.config import GithubSettings

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
APIS = ("iam", "sts", "iamcredentials")

# Pool and provider ids: 4-32 lowercase letters, digits and hyphens; the `gcp-` prefix is reserved.
WORKLOAD_IDENTITY_ID = re.compile(r"^(?!gcp-)[a-z0-9-]{4,32}$")
ID_LIMIT = 32
DISPLAY_NAME_LIMIT = 32


def workload_identity_id(stack: str, base: str) -> str:
    """A pool or provider id for this stack that satisfies GCP's rules."""
    value = naming.resource_id(stack, base, limit=ID_LIMIT)
    if not WORKLOAD_IDENTITY_ID.match(value):
        raise ValueError(f"workload identity id {value!r} breaks GCP's rules (4-32 of a-z, 0-9, '-')")
    return value


def attribute_mapping(github: GithubSettings) -> dict[str, str]:
    """Token claims exposed as attributes (for bindings and audit logs)."""
    mapping = {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner": "assertion.repository_owner",
        "attribute.ref": "assertion.ref",
    }
    if github.repository_id:
        mapping["attribute.repository_id"] = "assertion.repository_id"
    return mapping


def attribute_condition(github: GithubSettings) -> str:
    """The CEL condition that admits tokens of the configured repository only."""
    clauses = [f"assertion.repository == '{github.repository}'"]
    if github.repository_id:
        clauses.append(f"assertion.repository_id == '{github.repository_id}'")
    return " && ".join(clauses)


def repository_principal_set(pool_name: pulumi.Input[str], repository: str) -> pulumi.Output[str]:
    """Every identity of the pool whose token came from `repository`."""
    return pulumi.Output.from_input(pool_name).apply(
        lambda name: f"principalSet://iam.googleapis.com/{name}/attribute.repository/{repository}"
    )


def subject_principal(pool_name: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """The one identity of the pool whose token has this `sub` claim (mapped to google.subject)."""
    return pulumi.Output.from_input(pool_name).apply(
        lambda name: f"principal://iam.googleapis.com/{name}/subject/{subject}"
    )


@dataclass
class CiIdentityArgs:
    project: str
    stack: str
    github: GithubSettings
    deployer: gcp.serviceaccount.Account
    previewer: gcp.serviceaccount.Account
    apis: ProjectApis


class CiIdentity(pulumi.ComponentResource):
    """A GitHub OIDC workload identity pool and provider pinned to one repository; the previewer for
    that repository's jobs, the deployer for its protected deploy job only."""

    pool: gcp.iam.WorkloadIdentityPool
    provider: gcp.iam.WorkloadIdentityPoolProvider
    workload_identity_provider: pulumi.Output[str]
    deployer_service_account: pulumi.Output[str]
    previewer_service_account: pulumi.Output[str]

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:ci:Identity", name, None, opts)
        if not args.github.enabled:
            raise ValueError("CiIdentity needs githubRepository (OWNER/NAME)")
        needs_apis = pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by(*APIS))
        label = f"GitHub {args.stack}"[:DISPLAY_NAME_LIMIT]

        self.pool = gcp.iam.WorkloadIdentityPool(
            "pool",
            project=args.project,
            workload_identity_pool_id=workload_identity_id(args.stack, "github"),
            display_name=label,
            description=f"GitHub Actions of {args.github.repository}"[:256],
            opts=needs_apis,
        )
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            "github",
            project=args.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=workload_identity_id(args.stack, "github-oidc"),
            display_name=label,
            description=f"GitHub OIDC tokens of {args.github.repository} only"[:256],
            attribute_mapping=attribute_mapping(args.github),
            attribute_condition=attribute_condition(args.github),
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=needs_apis,
        )
        self.previewer_users = iam.bind_service_account(
            "previewer-wif",
            args.previewer,
            {
                "github-repository": iam.Grant(
                    WORKLOAD_IDENTITY_USER, repository_principal_set(self.pool.name, args.github.repository)
                )
            },
            needs_apis,
        )
        self.deployer_users = iam.bind_service_account(
            "deployer-wif",
            args.deployer,
            {
                f"github-deploy-{index}": iam.Grant(WORKLOAD_IDENTITY_USER, subject_principal(self.pool.name, subject))
                for index, subject in enumerate(args.github.deploy_subjects())
            },
            needs_apis,
        )
        self.workload_identity_provider = self.provider.name
        self.deployer_service_account = args.deployer.email
        self.previewer_service_account = args.previewer.email
        self.register_outputs(
            {
                "workload_identity_provider": self.workload_identity_provider,
                "deployer_service_account": self.deployer_service_account,
                "previewer_service_account": self.previewer_service_account,
            }
        )
