"""gcp-mlops: a complete Google Cloud training setup, declared.

Configuration in, components composed, outputs out. See README.md for the picture.
"""

import pulumi

from components.apis import ProjectApis, ProjectApisArgs, required_services
from components.ci_identity import CiIdentity, CiIdentityArgs
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.identities import Identities, IdentitiesArgs
from components.network import Network, NetworkArgs
from components.registry import ArtifactRegistry, ArtifactRegistryArgs, trainer_image_build
from components.storage import DataBucket, DataBucketArgs
from components.trainer_package import TrainerPackage, TrainerPackageArgs
from components.training_job import TrainingJob, TrainingJobArgs
from components.workstation import Workstation, WorkstationArgs
from stack import labels, schema
from stack.config import load_from_pulumi
from stack.iam import Grant

TRAINER_SOURCE = schema.PROJECT_DIR / "training"

# --- configuration: validated as a whole before anything is declared ---
settings = load_from_pulumi()
labels.apply_to_stack(labels.stack_labels(pulumi.get_project(), settings.stack, settings.extra_labels))
project, region, stack = settings.project, settings.region, settings.stack

# --- project foundations: APIs, identities, encryption ---
apis = ProjectApis("apis", ProjectApisArgs(project=project, services=required_services(settings)))
identities = Identities("identities", IdentitiesArgs(project=project, stack=stack, apis=apis))
trainer, workstation_sa, deployer = (identities.member(role) for role in ("trainer", "workstation", "deployer"))

encryption = (
    EncryptionKey(
        "cmek",
        EncryptionKeyArgs(
            project=project,
            region=region,
            stack=stack,
            key=settings.encryption_key,
            apis=apis,
            keep_key=not settings.bucket.destroy_data,
        ),
    )
    if settings.uses_cmek
    else None
)
kms_key_name = encryption.key_name if encryption else None

# --- data: datasets, DVC remote, models, job outputs, trainer packages ---
data = DataBucket(
    "data",
    DataBucketArgs(
        project=project,
        settings=settings.bucket,
        apis=apis,
        kms_key_name=kms_key_name,
        iam={
            "trainer-objects": Grant("roles/storage.objectAdmin", trainer),
            "workstation-objects": Grant("roles/storage.objectAdmin", workstation_sa),
            "deployer-objects": Grant("roles/storage.objectAdmin", deployer),
        },
    ),
)

# --- workstation: the course's VM, private and hardened ---
if settings.vm.enabled:
    network = Network("network", NetworkArgs(project=project, region=region, stack=stack, apis=apis))
    workstation = Workstation(
        "workstation",
        WorkstationArgs(
            project=project,
            zone=settings.zone,
            stack=stack,
            settings=settings.vm,
            network=network,
            service_account_email=identities.email("workstation"),
            data_bucket_name=data.name,
            apis=apis,
            kms_key_name=kms_key_name,
        ),
    )

# --- trainer code: the image (container mode) or an sdist (package mode) ---
builds_image = settings.training.enabled and settings.training.mode == "container"
builds_package = settings.training.enabled and settings.training.mode == "package"
registry = ArtifactRegistry(
    "registry",
    ArtifactRegistryArgs(
        project=project,
        region=region,
        settings=settings.registry,
        apis=apis,
        kms_key_name=kms_key_name,
        image_build=trainer_image_build(TRAINER_SOURCE, gpu=bool(settings.training.gpu_type)) if builds_image else None,
        iam={
            "deployer-writer": Grant("roles/artifactregistry.writer", deployer),
            "workstation-reader": Grant("roles/artifactregistry.reader", workstation_sa),
            "trainer-reader": Grant("roles/artifactregistry.reader", trainer),
        },
    ),
)
trainer_package = (
    TrainerPackage(
        "trainer-package",
        TrainerPackageArgs(
            bucket=data,
            source_dir=TRAINER_SOURCE,
            executor_image=settings.training.executor_image,
        ),
    )
    if builds_package
    else None
)

# --- training: the course's run on Vertex AI, resubmitted when code or configuration change ---
if settings.training.enabled:
    training_job = TrainingJob(
        "training",
        TrainingJobArgs(
            project=project,
            region=region,
            stack=stack,
            settings=settings.training,
            service_account=identities.email("trainer"),
            bucket=data,
            apis=apis,
            kms_key_name=kms_key_name,
            container_image=registry.image_digest_ref,
            package_uri=trainer_package.package_uri if trainer_package else None,
            executor_image=trainer_package.executor_image if trainer_package else None,
            # Bucket and image access come with `bucket` and the image; submitting also needs actAs.
            waits_for=list(identities.trainer_users.values()),
        ),
    )

# --- CI: GitHub Actions deploys through Workload Identity Federation, no keys ---
if settings.github.enabled:
    ci = CiIdentity(
        "ci",
        CiIdentityArgs(
            project=project, stack=stack, github=settings.github, deployer=identities.accounts["deployer"], apis=apis
        ),
    )

# --- outputs: what to do next ---
pulumi.export("bucket_name", data.name)
pulumi.export("bucket_url", data.url)
pulumi.export("dvc_commands", data.dvc_commands)
pulumi.export("service_accounts", {role: identities.email(role) for role in identities.accounts})
pulumi.export("registry_url", registry.url)
pulumi.export("docker_auth_command", registry.configure_docker_command)
if builds_image:
    pulumi.export("image", registry.image_digest_ref)
    pulumi.export("docker_pull_command", registry.pull_command)
if trainer_package:
    pulumi.export("package_uri", trainer_package.package_uri)
    pulumi.export("executor_image", trainer_package.executor_image)
if settings.vm.enabled:
    pulumi.export("workstation_name", workstation.instance_name)
    pulumi.export("workstation_zone", workstation.zone)
    pulumi.export("workstation_internal_ip", workstation.internal_ip)
    pulumi.export("workstation_ssh_command", workstation.ssh_command)
    pulumi.export("workstation_data_commands", workstation.data_commands)
if encryption:
    # Kept by `pulumi destroy` unless destroyData: set encryptionKey to it to reuse it later.
    pulumi.export("kms_key_name", encryption.key_name)
if settings.training.enabled:
    pulumi.export("training_job", training_job.summary)
if settings.github.enabled:
    # The two values GitHub Actions needs (repository variables, not secrets): docs/ci.md.
    pulumi.export("workload_identity_provider", ci.workload_identity_provider)
    pulumi.export("deployer_service_account", ci.deployer_service_account)
