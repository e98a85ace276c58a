"""Cases for the workload policies (Vertex AI job, Cloud Run, who runs what), the identity provider's
condition and labels."""

from __future__ import annotations

import guardrail

from tests.policy.cases_compute import INSTANCE, REGION_TEMPLATE, TEMPLATE, WORKBENCH
from tests.policy.resources import (
    DEFAULT_COMPUTE_SA,
    DELETE,
    SERVER_IMAGE,
    TRAINER,
    Base,
    Case,
    as_binding,
    as_policy,
    policy_data,
    with_changes,
)

DEPLOYER = "deployer-dev@mlops-course-123.iam.gserviceaccount.com"
PREVIEWER = "previewer-dev@mlops-course-123.iam.gserviceaccount.com"
SERVER = "europe-west1-docker.pkg.dev/mlops-course-123/mlops/server"
EXECUTOR = "europe-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-4.py310"
V2_INVOKER_TYPE = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
V1_INVOKER_TYPE = "gcp:cloudrun/iamMember:IamMember"


def python_pool(executor: str) -> dict:
    return {
        "pythonPackageSpec": {
            "executorImageUri": executor,
            "packageUris": ["gs://mlops-course-123-dev-mlops/packages/trainer-0.1.0.tar.gz"],
            "pythonModule": "trainer.task",
        },
        "machineSpec": {"machineType": "n1-standard-4"},
        "replicaCount": "1",
    }


PROVIDER = Base("provider", guardrail.WORKLOAD_IDENTITY_PROVIDER)
PROVIDER_OTHER_ISSUER = Base(
    "provider, other issuer",
    guardrail.WORKLOAD_IDENTITY_PROVIDER,
    derive=with_changes(oidc__issuerUri="https://gitlab.com"),
)
UNLISTED_LABELED = Base(
    "unlisted type with labels",
    "gcp:bigquery/dataset:Dataset",
    source=guardrail.BUCKET,
    derive=lambda bucket: {"project": bucket["project"], "labels": bucket["labels"]},
)
BUCKET = Base("bucket", guardrail.BUCKET)
JOB = Base("job", guardrail.VERTEX_CUSTOM_JOB)
JOB_TWO_POOLS = Base("job, two pools", guardrail.VERTEX_CUSTOM_JOB, example="dev-full")
JOB_CAMEL = Base(
    "job, jobSpec",
    guardrail.VERTEX_CUSTOM_JOB,
    derive=lambda job: {("jobSpec" if k == "job_spec" else k): v for k, v in job.items()},
)
RUN_SERVICE = Base("Cloud Run service", guardrail.CLOUD_RUN_V2_SERVICE)
RUN_JOB = Base("Cloud Run job", guardrail.CLOUD_RUN_V2_JOB)
RUN_WORKER_POOL = Base("Cloud Run worker pool", guardrail.CLOUD_RUN_V2_WORKER_POOL)
RUN_V1_SERVICE = Base("Cloud Run (v1) service", guardrail.CLOUD_RUN_SERVICE)
RUN_SERVICE_PUBLIC_ALLOWED = Base(
    "Cloud Run service, public serving allowed", guardrail.CLOUD_RUN_V2_SERVICE, config={"allowPublicServing": True}
)
# The rendered invoker (public where an example serves publicly) made a private one.
private_invoker = with_changes(member="group:ml@example.com")
V2_INVOKER = Base("Cloud Run invoker", V2_INVOKER_TYPE, derive=private_invoker)
V2_INVOKERS = Base(
    "Cloud Run invokers",
    "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
    source=V2_INVOKER_TYPE,
    derive=lambda member: as_binding(private_invoker(member)),
)
V2_INVOKER_POLICY = Base(
    "Cloud Run invoker policy",
    "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
    source=V2_INVOKER_TYPE,
    derive=lambda member: as_policy(private_invoker(member)),
)
V2_INVOKER_PUBLIC_ALLOWED = Base(
    "Cloud Run invoker, public serving allowed",
    V2_INVOKER_TYPE,
    derive=private_invoker,
    config={"allowPublicServing": True},
)
V1_INVOKER = Base("Cloud Run (v1) invoker", V1_INVOKER_TYPE)
V1_INVOKER_POLICY = Base(
    "Cloud Run (v1) invoker policy", "gcp:cloudrun/iamPolicy:IamPolicy", source=V1_INVOKER_TYPE, derive=as_policy
)
OTHER_CI_PREFIX = {"ciServiceAccountPrefixes": ["ci-"]}
JOB_OTHER_CI_PREFIX = Base("job, CI prefix ci-", guardrail.VERTEX_CUSTOM_JOB, config=OTHER_CI_PREFIX)

NEGATIVE_CASES: list[Case] = [
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", DELETE),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", ""),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", "  \n "),
    ("workload-identity-provider-condition", PROVIDER_OTHER_ISSUER, "attributeCondition", " "),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.repository_owner == 'octo-org'",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "true || assertion.repository == 'octo-org/mlops-course'",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.repository.startsWith('octo-org/')",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.repository == 'octo-org/mlops-course' || assertion.repository_owner == 'octo-org'",
    ),
    ("labels-required", BUCKET, "labels", DELETE),
    ("labels-required", BUCKET, "labels", {}),
    ("labels-required", BUCKET, "labels.managed-by", DELETE),
    ("labels-required", INSTANCE, "labels.managed-by", DELETE),
    ("labels-required", REGION_TEMPLATE, "labels", DELETE),
    ("labels-required", WORKBENCH, "labels", DELETE),
    ("labels-required", RUN_SERVICE, "labels", DELETE),
    ("labels-required", RUN_JOB, "labels.managed-by", DELETE),
    ("labels-required", JOB, "labels", DELETE),
    ("labels-required", UNLISTED_LABELED, "labels.managed-by", DELETE),
    # Who a workload runs as: never a CI identity, whatever the shape.
    ("no-workload-as-ci-identity", INSTANCE, "serviceAccount.email", DEPLOYER),
    ("no-workload-as-ci-identity", TEMPLATE, "serviceAccount.email", PREVIEWER),
    ("no-workload-as-ci-identity", REGION_TEMPLATE, "serviceAccount.email", DEPLOYER),
    ("no-workload-as-ci-identity", WORKBENCH, "gceSetup.serviceAccounts.0.email", DEPLOYER),
    ("no-workload-as-ci-identity", JOB, "job_spec.serviceAccount", DEPLOYER),
    ("no-workload-as-ci-identity", JOB, "job_spec.serviceAccount", PREVIEWER),
    ("no-workload-as-ci-identity", JOB_CAMEL, "jobSpec.serviceAccount", DEPLOYER),
    ("no-workload-as-ci-identity", JOB_OTHER_CI_PREFIX, "job_spec.serviceAccount", "ci-bot@p.iam.gserviceaccount.com"),
    ("no-workload-as-ci-identity", RUN_SERVICE, "template.serviceAccount", DEPLOYER),
    ("no-workload-as-ci-identity", RUN_JOB, "template.template.serviceAccount", PREVIEWER),
    ("no-workload-as-ci-identity", RUN_WORKER_POOL, "template.serviceAccount", DEPLOYER),
    ("no-workload-as-ci-identity", RUN_V1_SERVICE, "template.spec.serviceAccountName", DEPLOYER),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", DELETE),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", DEFAULT_COMPUTE_SA),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", "default"),
    ("vertex-job-dedicated-service-account", JOB_CAMEL, "jobSpec.serviceAccount", DEFAULT_COMPUTE_SA),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:latest"),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:v1.2.0"),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", TRAINER),
    (
        "vertex-job-image-digest",
        JOB,
        "job_spec.workerPoolSpecs.0.containerSpec.imageUri",
        f"{TRAINER}@sha256:{'a' * 12}",
    ),
    (
        "vertex-job-image-digest",
        JOB_TWO_POOLS,
        "job_spec.workerPoolSpecs.1.containerSpec.imageUri",
        f"{TRAINER}:latest",
    ),
    ("vertex-job-image-digest", JOB_CAMEL, "jobSpec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:latest"),
    # Executors: a tag only on Google's prebuilt training images, and only :latest.
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0", python_pool(f"{EXECUTOR}:2024-05")),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0", python_pool(f"{TRAINER}:latest")),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0", python_pool(EXECUTOR)),
    (
        "vertex-job-image-digest",
        JOB,
        "job_spec.workerPoolSpecs.0",
        python_pool("europe-docker.pkg.dev/vertex-ai-evil/training/pytorch-gpu.2-4.py310:latest"),
    ),
    (
        "vertex-job-image-digest",
        JOB,
        "job_spec.workerPoolSpecs.0",
        python_pool("gcr.io/cloud-aiplatform/training/x:latest"),
    ),
    ("cloudrun-image-digest", RUN_SERVICE, "template.containers.0.image", f"{SERVER}:latest"),
    ("cloudrun-image-digest", RUN_SERVICE, "template.containers.0.image", SERVER),
    ("cloudrun-image-digest", RUN_SERVICE, "template.containers.0.image", f"{SERVER}@sha256:{'a' * 12}"),
    ("cloudrun-image-digest", RUN_SERVICE, "template.containers", [{"image": SERVER_IMAGE}, {"image": "otel:1"}]),
    ("cloudrun-image-digest", RUN_JOB, "template.template.containers.0.image", f"{SERVER}:v1"),
    ("cloudrun-image-digest", RUN_WORKER_POOL, "template.containers.0.image", f"{SERVER}:v1"),
    ("cloudrun-image-digest", RUN_V1_SERVICE, "template.spec.containers.0.image", f"{SERVER}:latest"),
    ("cloudrun-dedicated-service-account", RUN_SERVICE, "template.serviceAccount", DELETE),
    ("cloudrun-dedicated-service-account", RUN_SERVICE, "template.serviceAccount", DEFAULT_COMPUTE_SA),
    ("cloudrun-dedicated-service-account", RUN_JOB, "template.template.serviceAccount", DELETE),
    ("cloudrun-dedicated-service-account", RUN_WORKER_POOL, "template.serviceAccount", DEFAULT_COMPUTE_SA),
    ("cloudrun-dedicated-service-account", RUN_V1_SERVICE, "template.spec.serviceAccountName", DELETE),
    # Public serving: public invokers (member, binding, policy; v2 and v1), invoker IAM switched off.
    ("cloudrun-public-serving", V2_INVOKER, "member", "allUsers"),
    ("cloudrun-public-serving", V2_INVOKER, "member", "allAuthenticatedUsers"),
    ("cloudrun-public-serving", V2_INVOKERS, "members", ["group:ml@example.com", "allUsers"]),
    ("cloudrun-public-serving", V2_INVOKER_POLICY, "policyData", policy_data(("roles/run.invoker", "allUsers"))),
    ("cloudrun-public-serving", V1_INVOKER, "member", "allUsers"),
    ("cloudrun-public-serving", V1_INVOKER_POLICY, "policyData", policy_data(("roles/run.invoker", "allUsers"))),
    ("cloudrun-public-serving", RUN_SERVICE, "invokerIamDisabled", True),
    (
        "cloudrun-public-serving",
        RUN_V1_SERVICE,
        "metadata",
        {"annotations": {"run.googleapis.com/invoker-iam-disabled": "true"}},
    ),
]

ALLOWED_CASES: list[Case] = [
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", "assertion.repository_id == '123456789'"),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.sub == 'repo:octo-org/mlops-course:ref:refs/heads/main'",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "(assertion.repository == \"octo-org/mlops-course\" && assertion.ref == 'refs/heads/main')",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER_OTHER_ISSUER,
        "attributeCondition",
        "assertion.project_path == 'octo-org/mlops-course'",
    ),
    ("no-workload-as-ci-identity", JOB_OTHER_CI_PREFIX, "job_spec.serviceAccount", DEPLOYER),
    ("no-workload-as-ci-identity", JOB, "job_spec.serviceAccount", "trainer-deployer-dev@p.iam.gserviceaccount.com"),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0", python_pool(f"{EXECUTOR}:latest")),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0", python_pool(f"{TRAINER}@sha256:{'c' * 64}")),
    ("cloudrun-public-serving", V2_INVOKER, "member", "serviceAccount:caller@mlops-course-123.iam.gserviceaccount.com"),
    ("cloudrun-public-serving", V2_INVOKER_PUBLIC_ALLOWED, "member", "allUsers"),
    ("cloudrun-public-serving", RUN_SERVICE_PUBLIC_ALLOWED, "invokerIamDisabled", True),
    ("cloudrun-public-serving", RUN_SERVICE, "invokerIamDisabled", False),
]
