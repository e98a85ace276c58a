"""The Artifact Registry repository and the trainer image built into it.

`ArtifactRegistry` always declares the Docker repository (with its cleanup policies and
repository-level IAM). Given an `ImageBuild` it also builds and pushes the trainer image,
tagged with the content hash of its build context (`artifacts.context.image_tag`): unchanged code
keeps the image name, so nothing is rebuilt; changed code gives a new tag, a new digest and,
through `image_digest_ref`, a new training run. Whatever runs the image must use
`image_digest_ref` (`REGISTRY/trainer@sha256:…`), never the tag.

`__main__.py` asks for the image only in `trainingMode: container` with training enabled:
package mode runs the sdist on a prebuilt image and needs neither Docker nor a build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_gcp as gcp

from artifacts import context as build_context
from components.apis import ProjectApis
from stack import iam
from stack.config import RegistrySettings
from stack.schema import PROJECT_DIR

# Untagged versions are leftovers of re-pushed tags and multi-arch builds.
UNTAGGED_RETENTION = f"{3 * 24 * 3600}s"
# Tagged versions older than this are deleted unless they are among the newest imageKeepCount.
TAGGED_RETENTION = f"{30 * 24 * 3600}s"
# Artifact Registry's fixed user name for OAuth access tokens.
ACCESS_TOKEN_USER = "oauth2accesstoken"
# PyTorch's CUDA wheel index for GPU jobs (training/Dockerfile's TORCH_INDEX_URL build argument).
CUDA_TORCH_INDEX_URL = "https://download.pytorch.org/whl/cu128"


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def pinned_reference(repo_digest: str) -> str:
    """`REPO@sha256:…` from a repo digest, dropping a tag if the provider reports `REPO:TAG@sha256:…`."""
    name, separator, digest = repo_digest.partition("@")
    if not separator or not digest.startswith("sha256:"):
        raise ValueError(f"not a repo digest: {repo_digest!r}")
    path, _, last = name.rpartition("/")
    return f"{path}/{last.split(':', 1)[0]}@{digest}"


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


@dataclass(frozen=True)
class ImageBuild:
    """An image to build from a local context (its `dockerfile` inside) and push to the repository."""

    context: Path
    dockerfile: str = "Dockerfile"
    image: str = "trainer"
    # Vertex AI machines are x86-64, whatever the machine that runs `pulumi up`.
    platform: str = "linux/amd64"

    build_args: Mapping[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return build_context.image_tag(self.context, self.dockerfile, self.build_args)

    def docker_build_args(self) -> docker.DockerBuildArgs:
        # Paths relative to the project (Pulumi's working directory) keep the image's inputs,
        # and so its state, the same on every machine that deploys the stack.
        return docker.DockerBuildArgs(
            context=build_context.project_relative(self.context, PROJECT_DIR),
            dockerfile=build_context.project_relative(self.context / self.dockerfile, PROJECT_DIR),
            platform=self.platform,
            args=dict(self.build_args) or None,
        )


def trainer_image_build(source_dir: Path, gpu: bool) -> ImageBuild:
    """The trainer image from `source_dir`: CPU torch, or CUDA torch for jobs with GPUs."""
    return ImageBuild(context=source_dir, build_args={"TORCH_INDEX_URL": CUDA_TORCH_INDEX_URL} if gpu else {})


@dataclass
class ArtifactRegistryArgs:
    project: str
    region: str
    settings: RegistrySettings
    apis: ProjectApis
    image_build: ImageBuild | None = None
    kms_key_name: pulumi.Input[str] | None = None
    iam: iam.Grants = field(default_factory=dict)


class ArtifactRegistry(pulumi.ComponentResource):
    """A Docker repository in gcp:region, and optionally an image built into it.

    Public attributes: `url` (`REGION-docker.pkg.dev/PROJECT/REPOSITORY`), `host`,
    `configure_docker_command`; with an image: `image_name` (the content-tagged name),
    `image_digest_ref` (what to run) and `pull_command`; without one these three are None.
    """

    repository: gcp.artifactregistry.Repository
    url: pulumi.Output[str]
    image: docker.Image | None = None
    image_name: pulumi.Output[str] | None = None
    image_digest_ref: pulumi.Output[str] | None = None
    pull_command: pulumi.Output[str] | None = None

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
        if args.image_build is not None:
            self._build(args.image_build)
        self.register_outputs(
            {
                "url": self.url,
                "configure_docker_command": self.configure_docker_command,
                "image_name": self.image_name,
                "image_digest_ref": self.image_digest_ref,
            }
        )

    def _build(self, build: ImageBuild) -> None:
        access_token = gcp.organizations.get_client_config_output().access_token
        tag = build.tag
        self.image_name = self.url.apply(lambda url: f"{url}/{build.image}:{tag}")
        self.image = docker.Image(
            build.image,
            image_name=self.image_name,
            build=build.docker_build_args(),
            registry=docker.RegistryArgs(
                server=self.host, username=ACCESS_TOKEN_USER, password=pulumi.Output.secret(access_token)
            ),
            skip_push=False,
            # Previews neither need Docker nor push anything; the digest is known after `up`.
            build_on_preview=False,
            # `image_name` comes from `url`, so a first push by the CI deployer waits for its writer grant.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_digest_ref = self.image.repo_digest.apply(pinned_reference)
        self.pull_command = self.image_digest_ref.apply(lambda ref: f"docker pull {ref}")
