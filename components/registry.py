"""The Artifact Registry repository for the trainer image: cleanup policies and repository-level IAM.

The image itself is built by `components.trainer_image`; whatever runs it uses its digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam
from stack.config import RegistrySettings

READER, WRITER = "roles/artifactregistry.reader", "roles/artifactregistry.writer"
# Who may pull and who may push, by account.
REGISTRY_ACCESS = {
    "deployer": WRITER,  # pushes the image (imageBuilder docker)
    "builder": WRITER,  # pushes the image (imageBuilder cloudbuild)
    "trainer": READER,
    "workstation": READER,
    "server": READER,
    "previewer": READER,
}


def registry_grants(members: Mapping[str, pulumi.Input[str]]) -> dict[str, iam.Grant]:
    return {
        f"{role}-{REGISTRY_ACCESS[role].rsplit('.', 1)[1]}": iam.Grant(REGISTRY_ACCESS[role], member)
        for role, member in members.items()
    }


# Untagged versions are leftovers of re-pushed tags and multi-arch builds.
UNTAGGED_RETENTION = f"{3 * 24 * 3600}s"
# Tagged versions older than this are deleted unless they are among the newest imageKeepCount.
TAGGED_RETENTION = f"{30 * 24 * 3600}s"


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def cleanup_policies(keep_count: int) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """Keep the newest `keep_count` versions of each image; delete untagged and old versions.

    Keep policies win over delete policies, so the newest versions (the one the stack runs
    among them) survive whatever their age.
    """
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="keep-newest",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                keep_count=keep_count
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-untagged",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="UNTAGGED", older_than=UNTAGGED_RETENTION
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-old",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="ANY", older_than=TAGGED_RETENTION
            ),
        ),
    ]


@dataclass
class ArtifactRegistryArgs:
    project: str
    region: str
    settings: RegistrySettings
    apis: ProjectApis
    kms_key_name: pulumi.Input[str] | None = None
    iam: iam.Grants = field(default_factory=dict)


class ArtifactRegistry(pulumi.ComponentResource):
    """A Docker repository in gcp:region: `url` (`REGION-docker.pkg.dev/PROJECT/REPOSITORY`, resolved once
    its grants exist), `host`, `configure_docker_command`."""

    repository: gcp.artifactregistry.Repository
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ArtifactRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:registry:ArtifactRegistry", name, None, opts)
        self.host = registry_host(args.region)
        self.repository = gcp.artifactregistry.Repository(
            "repository",
            project=args.project,
            location=args.region,
            repository_id=args.settings.repository_id,
            format="DOCKER",
            description="gcp-mlops trainer images",
            cleanup_policies=cleanup_policies(args.settings.image_keep_count),
            cleanup_policy_dry_run=False,
            # Scanning follows the project's Container Scanning API setting (on when it is enabled).
            vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                enablement_config="INHERITED"
            ),
            kms_key_name=args.kms_key_name,
            labels={"purpose": "mlops-images"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("artifactregistry")),
        )
        self.iam_members = iam.bind(
            "repository",
            args.iam,
            lambda member_name, grant, member_opts: gcp.artifactregistry.RepositoryIamMember(
                member_name,
                project=self.repository.project,
                location=self.repository.location,
                repository=self.repository.name,
                role=grant.role,
                member=grant.member,
                opts=member_opts,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        # Whatever pushes to or pulls from the repository through `url` waits for the grants on it.
        self.url = iam.granted(
            pulumi.Output.all(self.repository.project, self.repository.repository_id).apply(
                lambda values: f"{self.host}/{values[0]}/{values[1]}"
            ),
            self.iam_members.values(),
        )
        self.configure_docker_command = f"gcloud auth configure-docker {self.host}"
        self.register_outputs(
            {
                "url": self.url,
                "configure_docker_command": self.configure_docker_command,
            }
        )
