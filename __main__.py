"""gcp-mlops: a complete Google Cloud training and serving setup, declared.

Configuration in, components composed, outputs out. See README.md for the picture.
"""

import pulumi

from components.apis import ProjectApis, ProjectApisArgs, required_services
from components.audit_logs import AuditLogs, AuditLogsArgs
from components.ci_identity import CiIdentity, CiIdentityArgs
from components.ci_roles import CiRoles, CiRolesArgs
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.identities import Identities, IdentitiesArgs
from components.network import Network, NetworkArgs
from components.registry import ArtifactRegistry, ArtifactRegistryArgs, registry_grants
from components.serving import Serving, ServingArgs
from components.storage import DataBucket, DataBucketArgs, bucket_access, bucket_grants
from components.trainer_image import TrainerImage, TrainerImageArgs
from components.trainer_package import TrainerPackage, TrainerPackageArgs
from components.training_job import TrainingJob, TrainingJobArgs
from components.workstation import Workstation, WorkstationArgs
from stack import labels, preview_warnings
from stack.config import load_from_pulumi

# --- configuration: validated as a whole before anything is declared ---
settings = load_from_pulumi()
labels.apply_to_stack(labels.stack_labels(pulumi.get_project(), settings.stack, settings.extra_labels))
for warning in preview_warnings.of(settings):
    pulumi.warn(warning)
project, region, stack = settings.project, settings.region, settings.stack

# --- applied by an admin (docs/ci.md): APIs, identities and their roles, encryption, audit logs ---
apis = ProjectApis("apis", ProjectApisArgs(project=project, services=required_services(settings)))
ci_roles = CiRoles("ci-roles", CiRolesArgs(settings=settings, apis=apis)) if settings.github.enabled else None
identities = Identities(
    "identities",
    IdentitiesArgs(
        project=project,
        stack=stack,
        apis=apis,
        roles=settings.service_accounts,
        custom_roles=ci_roles.role_names() if ci_roles else {},
        waits_for=list(ci_roles.roles.values()) if ci_roles else [],
    ),
)
members = {role: identities.member(role) for role in settings.service_accounts}
audit_logs = AuditLogs("audit-logs", AuditLogsArgs(project=project, apis=apis))

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

# --- data: datasets, DVC remote, job outputs and models, trainer packages, build contexts ---
data = DataBucket(
    "data",
    DataBucketArgs(
        project=project,
        settings=settings.bucket,
        apis=apis,
        kms_key_name=kms_key_name,
        iam=bucket_grants(settings.bucket.name, members, bucket_access(settings)),
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
            waits_for=identities.act_as_grants("workstation"),
        ),
    )

# --- trainer code: the image (container mode, serving) or an sdist (package mode) ---
registry = ArtifactRegistry(
    "registry",
    ArtifactRegistryArgs(
        project=project,
        region=region,
        settings=settings.registry,
        apis=apis,
        kms_key_name=kms_key_name,
        iam=registry_grants(members),
    ),
)
image = (
    TrainerImage(
        "trainer-image",
        TrainerImageArgs(
            project=project,
            region=region,
            trainer=settings.trainer,
            gpu=settings.image_trains_on_gpus,
            registry=registry,
            bucket=data,
            apis=apis,
            builder_account=identities.email("builder") if settings.uses_cloud_build else None,
            # The builder writes its logs itself (CLOUD_LOGGING_ONLY): a build before that grant can fail.
            waits_for=[*identities.act_as_grants("builder"), *identities.project_grants("builder")],
        ),
    )
    if settings.builds_image
    else None
)
trainer_package = (
    TrainerPackage(
        "trainer-package",
        TrainerPackageArgs(
            bucket=data, source_dir=settings.trainer.source_dir, executor_image=settings.training.executor_image
        ),
    )
    if settings.builds_package
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
            container_image=image.digest_ref if settings.training.mode == "container" else None,
            package_uri=trainer_package.package_uri if trainer_package else None,
            package_sha256=trainer_package.sdist.sha256 if trainer_package else None,
            executor_image=trainer_package.executor_image if trainer_package else None,
            python_module=settings.trainer.module,
            # Bucket and image access come with `bucket` and the image; submitting also needs actAs.
            waits_for=identities.act_as_grants("trainer"),
        ),
    )

# --- serving: the trained model on Cloud Run, private and scaled to zero ---
if settings.serving.enabled:
    serving = Serving(
        "serving",
        ServingArgs(
            project=project,
            region=region,
            stack=stack,
            settings=settings.serving,
            image=image.digest_ref,
            model_uri=settings.serving.model_uri or training_job.job.model_dir,
            service_account=identities.email("server"),
            apis=apis,
            waits_for=[data.iam_members["server-read"], *identities.act_as_grants("server")],
        ),
    )

# --- CI: GitHub Actions previews and deploys through Workload Identity Federation, no keys ---
if settings.github.enabled:
    ci = CiIdentity(
        "ci",
        CiIdentityArgs(
            project=project,
            stack=stack,
            github=settings.github,
            deployer=identities.accounts["deployer"],
            previewer=identities.accounts["previewer"],
            apis=apis,
        ),
    )

# --- outputs: what to do next ---
pulumi.export("bucket_name", data.name)
pulumi.export("bucket_url", data.url)
pulumi.export("dvc_commands", data.dvc_commands)
pulumi.export("service_accounts", {role: identities.email(role) for role in identities.accounts})
pulumi.export("registry_url", registry.url)
pulumi.export("docker_auth_command", registry.configure_docker_command)
if image:
    pulumi.export("image", image.digest_ref)
    pulumi.export("docker_pull_command", image.pull_command)
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
if settings.serving.enabled:
    pulumi.export("serving_url", serving.url)
    pulumi.export("serving_request_command", serving.request_command)
if settings.github.enabled:
    # The values GitHub Actions needs (repository variables, not secrets): docs/ci.md.
    pulumi.export("workload_identity_provider", ci.workload_identity_provider)
    pulumi.export("deployer_service_account", ci.deployer_service_account)
    pulumi.export("previewer_service_account", ci.previewer_service_account)
