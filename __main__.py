"""gcp-mlops: a complete Google Cloud training setup, declared.

Configuration in, components composed, outputs out. See README.md for the picture.
"""

import pulumi

from components import labels
from components.apis import ProjectApis, ProjectApisArgs, required_services
from components.config import load_from_pulumi
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.iam import Grant
from components.identities import Identities, IdentitiesArgs
from components.storage import DataBucket, DataBucketArgs

settings = load_from_pulumi()
labels.apply_to_stack(labels.stack_labels(pulumi.get_project(), settings.stack, settings.extra_labels))

apis = ProjectApis("apis", ProjectApisArgs(project=settings.project, services=required_services(settings)))
identities = Identities("identities", IdentitiesArgs(project=settings.project, stack=settings.stack, apis=apis))

encryption = EncryptionKey("cmek", EncryptionKeyArgs(
    project=settings.project, region=settings.region, stack=settings.stack, key=settings.encryption_key,
    apis=apis, keep_key=not settings.bucket.destroy_data,
)) if settings.uses_cmek else None
kms_key_name = encryption.key_name if encryption else None

data = DataBucket("data", DataBucketArgs(
    project=settings.project,
    settings=settings.bucket,
    apis=apis,
    kms_key_name=kms_key_name,
    iam={
        "trainer-objects": Grant("roles/storage.objectAdmin", identities.member("trainer")),
        "workstation-objects": Grant("roles/storage.objectAdmin", identities.member("workstation")),
        "deployer-objects": Grant("roles/storage.objectAdmin", identities.member("deployer")),
    },
))

# --- workstation (issue 4) ---
if settings.vm.enabled:
    from components.network import Network, NetworkArgs
    from components.workstation import Workstation, WorkstationArgs

    network = Network("network", NetworkArgs(
        project=settings.project, region=settings.region, stack=settings.stack, apis=apis))
    workstation = Workstation("workstation", WorkstationArgs(
        project=settings.project, zone=settings.zone, stack=settings.stack, settings=settings.vm,
        network=network, service_account_email=identities.email("workstation"),
        data_bucket_name=data.name, apis=apis, kms_key_name=kms_key_name))
    pulumi.export("workstation_name", workstation.instance_name)
    pulumi.export("workstation_zone", workstation.zone)
    pulumi.export("workstation_internal_ip", workstation.internal_ip)
    pulumi.export("workstation_ssh_command", workstation.ssh_command)
    pulumi.export("workstation_data_commands", workstation.data_commands)

# --- registry and trainer image / package (issue 5) ---
from components.packaging import TRAINING_DIR, TrainerPackage, TrainerPackageArgs
from components.registry import ArtifactRegistry, ArtifactRegistryArgs, ImageBuild

# The trainer is built only for the mode the job runs: container mode builds and pushes the
# image, package mode uploads an sdist for a prebuilt image (no Docker needed).
builds_image = settings.training.enabled and settings.training.mode == "container"
builds_package = settings.training.enabled and settings.training.mode == "package"
registry = ArtifactRegistry("registry", ArtifactRegistryArgs(
    project=settings.project, region=settings.region, settings=settings.registry, apis=apis,
    kms_key_name=kms_key_name,
    image_build=ImageBuild(context=TRAINING_DIR, dockerfile=TRAINING_DIR / "Dockerfile") if builds_image else None,
    iam={
        "deployer-writer": Grant("roles/artifactregistry.writer", identities.member("deployer")),
        "workstation-reader": Grant("roles/artifactregistry.reader", identities.member("workstation")),
        "trainer-reader": Grant("roles/artifactregistry.reader", identities.member("trainer")),
    },
))
trainer_package = TrainerPackage("trainer-package", TrainerPackageArgs(
    bucket=data, executor_image=settings.training.executor_image,
)) if builds_package else None
pulumi.export("registry_url", registry.url)
pulumi.export("docker_auth_command", registry.configure_docker_command)
if registry.image_digest_ref is not None:
    pulumi.export("image", registry.image_digest_ref)
    pulumi.export("docker_pull_command", registry.pull_command)
if trainer_package is not None:
    pulumi.export("package_uri", trainer_package.package_uri)
    pulumi.export("executor_image", trainer_package.executor_image)

# --- training job (issue 6) ---
if settings.training.enabled:
    from components.training_job import TrainingJob, TrainingJobArgs

    training_job = TrainingJob("training", TrainingJobArgs(
        project=settings.project, region=settings.region, stack=settings.stack, settings=settings.training,
        service_account=identities.email("trainer"), bucket=data, apis=apis, kms_key_name=kms_key_name,
        container_image=registry.image_digest_ref,
        package_uri=trainer_package.package_uri if trainer_package else None,
        executor_image=trainer_package.executor_image if trainer_package else None,
        waits_for=[data.iam_members["trainer-objects"], *registry.iam_members.values(),
                   *identities.trainer_users.values()],
    ))
    pulumi.export("training_job", {
        "name": training_job.job.name, "state": training_job.job.state,
        "console_url": training_job.job.console_url, "describe_command": training_job.job.describe_command,
        "stream_logs_command": training_job.job.stream_logs_command, "model_dir": training_job.job.model_dir,
    })

# --- CI identity (issue 7) ---
if settings.github.enabled:
    from components.ci_identity import CiIdentity, CiIdentityArgs

    ci = CiIdentity("ci", CiIdentityArgs(
        project=settings.project, stack=settings.stack, github=settings.github,
        deployer=identities.accounts["deployer"], apis=apis))
    # The two values GitHub Actions needs (repository variables, not secrets): docs/ci.md.
    pulumi.export("workload_identity_provider", ci.workload_identity_provider)
    pulumi.export("deployer_service_account", ci.deployer_service_account)

pulumi.export("bucket_name", data.name)
pulumi.export("bucket_url", data.url)
pulumi.export("dvc_commands", data.dvc_commands)
pulumi.export("service_accounts", {role: identities.email(role) for role in identities.accounts})
