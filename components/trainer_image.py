"""The trainer image, built from `trainerSource` and pushed to the stack's repository.

Tagged with the content hash of its build context (`artifacts.context.image_tag`): unchanged code
keeps the image name, so nothing is rebuilt; changed code gives a new tag, a new digest and,
through `digest_ref`, a new training run and a new serving revision. Whatever runs the image uses
`digest_ref` (`REPOSITORY/trainer@sha256:…`), never the tag.

Two builders (`imageBuilder`):
- `docker`: pulumi-docker builds with the local Docker daemon (for linux/amd64) and pushes with
  the caller's OAuth token;
- `cloudbuild`: the build context (the same files the hash covers, as a reproducible tarball) is
  uploaded to the bucket under `builds/` and built by Cloud Build as the `builder` account, so
  `pulumi up` needs no Docker at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_gcp as gcp

from artifacts import context as build_context
from components.apis import ProjectApis
from components.registry import ArtifactRegistry
from components.storage import PREFIXES, DataBucket
from providers.cloud_build import CloudBuild, CloudBuildArgs
from providers.dynamic_base import WAIT_MARGIN_SECONDS
from stack import catalog
from stack.config import TrainerSettings
from stack.schema import BUILD_CACHE, PROJECT_DIR

IMAGE_NAME = "trainer"
# Vertex AI and Cloud Run machines are x86-64, whatever the machine that runs `pulumi up`.
PLATFORM = "linux/amd64"
# Artifact Registry's fixed user name for OAuth access tokens.
ACCESS_TOKEN_USER = "oauth2accesstoken"


def pinned_reference(repo_digest: str) -> str:
    """`REPO@sha256:…` from a repo digest, dropping a tag if the provider reports `REPO:TAG@sha256:…`."""
    name, separator, digest = repo_digest.partition("@")
    if not separator or not digest.startswith("sha256:"):
        raise ValueError(f"not a repo digest: {repo_digest!r}")
    path, _, last = name.rpartition("/")
    return f"{path}/{last.split(':', 1)[0]}@{digest}"


def build_args(trainer: TrainerSettings, gpu: bool) -> dict[str, str]:
    """CUDA torch for jobs with GPUs, for the stack's own trainer (a user's Dockerfile decides for itself)."""
    return {"TORCH_INDEX_URL": catalog.TORCH_CUDA_INDEX_URL} if gpu and trainer.is_bundled else {}


@dataclass
class TrainerImageArgs:
    project: str
    region: str
    trainer: TrainerSettings
    gpu: bool
    registry: ArtifactRegistry
    bucket: DataBucket
    apis: ProjectApis
    builder_account: pulumi.Input[str] | None = None  # the Cloud Build account (imageBuilder cloudbuild)
    waits_for: Sequence[pulumi.Resource] = field(default_factory=list)


class TrainerImage(pulumi.ComponentResource):
    tag: str
    image_name: pulumi.Output[str]
    digest_ref: pulumi.Output[str]
    pull_command: pulumi.Output[str]

    def __init__(self, name: str, args: TrainerImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:registry:TrainerImage", name, None, opts)
        context = args.trainer.source_dir
        arguments = build_args(args.trainer, args.gpu)
        self.tag = build_context.image_tag(context, build_args=arguments)
        # `registry.url` resolves once the repository's grants exist: the first push waits for them.
        self.image_name = args.registry.url.apply(lambda url: f"{url}/{IMAGE_NAME}:{self.tag}")
        if args.trainer.image_builder == "cloudbuild":
            self.digest_ref = self._cloud_build(args, arguments)
        else:
            self.digest_ref = self._docker_build(args, arguments)
        self.pull_command = self.digest_ref.apply(lambda ref: f"docker pull {ref}")
        self.register_outputs({"image_name": self.image_name, "digest_ref": self.digest_ref})

    def _docker_build(self, args: TrainerImageArgs, arguments: Mapping[str, str]) -> pulumi.Output[str]:
        access_token = gcp.organizations.get_client_config_output().access_token
        context = args.trainer.source_dir
        self.image = docker.Image(
            IMAGE_NAME,
            image_name=self.image_name,
            # Paths relative to the project (Pulumi's working directory) keep the image's inputs, and so its
            # state, the same on every machine that deploys the stack.
            build=docker.DockerBuildArgs(
                context=build_context.project_relative(context, PROJECT_DIR),
                dockerfile=build_context.project_relative(context / "Dockerfile", PROJECT_DIR),
                platform=PLATFORM,
                args=dict(arguments) or None,
            ),
            registry=docker.RegistryArgs(
                server=args.registry.host, username=ACCESS_TOKEN_USER, password=pulumi.Output.secret(access_token)
            ),
            skip_push=False,
            # Previews neither need Docker nor push anything; the digest is known after `up`.
            build_on_preview=False,
            # Stacks deployed before this component existed have the image under the registry component.
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=args.registry)]),
        )
        return self.image.repo_digest.apply(pinned_reference)

    def _cloud_build(self, args: TrainerImageArgs, arguments: Mapping[str, str]) -> pulumi.Output[str]:
        if args.builder_account is None:
            raise ValueError("imageBuilder cloudbuild needs the builder service account")
        archive = build_context.context_archive(args.trainer.source_dir)
        # Content-addressed like the tag: the same context is the same object, and so the same build.
        path = BUILD_CACHE / "contexts" / f"{self.tag}.tar.gz"
        if not (path.is_file() and path.read_bytes() == archive):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive)
        self.context_object = gcp.storage.BucketObject(
            "context",
            bucket=args.bucket.name,
            name=f"{PREFIXES['builds']}{IMAGE_NAME}-{self.tag}.tar.gz",
            source=pulumi.FileAsset(build_context.project_relative(path, PROJECT_DIR)),
            content_type="application/gzip",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.build = CloudBuild(
            "build",
            CloudBuildArgs(
                project=args.project,
                location=args.region,
                source_bucket=self.context_object.bucket,
                source_object=self.context_object.name,
                image=self.image_name,
                service_account=args.builder_account,
                build_args=dict(arguments) or None,
                timeout_seconds=args.trainer.build_timeout_seconds,
                # A build waits for its queue and runs at most its timeout.
                wait_timeout_seconds=float(args.trainer.build_timeout_seconds + WAIT_MARGIN_SECONDS),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.apis.needed_by("cloudbuild"), *args.waits_for]),
        )
        return self.build.image_digest_ref
