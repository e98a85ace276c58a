"""Rules for what runs code: the Vertex AI job, Cloud Run services, jobs and worker pools, and VMs.
Which identity it runs as, which image it runs, and who may call it.

The Cloud Build resource (`pulumi-python:dynamic/cloudbuild:Build`) builds images and runs none:
it is not a workload here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from guardrail import (
    CLOUD_RUN_SERVICE,
    CLOUD_RUN_V2_JOB,
    CLOUD_RUN_V2_SERVICE,
    IMAGE_DIGEST,
    RUN_INVOKER,
    VERTEX_CUSTOM_JOB,
    VM_TYPES,
    WORKBENCH_INSTANCE,
    Config,
    Props,
    is_default_compute_account,
    is_public,
    is_true,
    role_bindings,
)
from pack_config import setting

# Google's prebuilt training images are published under `:latest` only ("Using image names without
# the latest tag isn't supported"), so for an executor image that tag is the one accepted.
PREBUILT_EXECUTOR = re.compile(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*-docker\.pkg\.dev/vertex-ai/training/[a-z0-9][a-z0-9._-]*:latest$"
)
INVOKER_IAM_DISABLED_ANNOTATION = "run.googleapis.com/invoker-iam-disabled"


def _job_spec(props: Props) -> Mapping[str, Any]:
    return props.get("job_spec") or props.get("jobSpec") or {}


def _job_spec_name(props: Props) -> str:
    return "job_spec" if "job_spec" in props else "jobSpec"


def _revision_path(resource_type: str) -> str:
    """Where a Cloud Run type keeps its containers and service account (SDK: cloudrunv2/_inputs.py
    ServiceTemplateArgs, JobTemplateTemplateArgs, WorkerPoolTemplateArgs; cloudrun/_inputs.py
    ServiceTemplateSpecArgs)."""
    return {CLOUD_RUN_V2_JOB: "template.template", CLOUD_RUN_SERVICE: "template.spec"}.get(resource_type, "template")


def _revision(resource_type: str, props: Props) -> Mapping[str, Any]:
    revision: Any = props
    for key in _revision_path(resource_type).split("."):
        revision = revision.get(key) or {}
    return revision


def _revision_account_key(resource_type: str) -> str:
    return "serviceAccountName" if resource_type == CLOUD_RUN_SERVICE else "serviceAccount"


def run_as(resource_type: str, props: Props) -> list[tuple[str, str | None]]:
    """(where, email) of each identity the workload's code runs as; email None when unset."""
    if resource_type in VM_TYPES:
        return [("serviceAccount.email", (props.get("serviceAccount") or {}).get("email"))]
    if resource_type == WORKBENCH_INSTANCE:
        accounts = (props.get("gceSetup") or {}).get("serviceAccounts") or []
        return [(f"gceSetup.serviceAccounts[{i}].email", a.get("email")) for i, a in enumerate(accounts)]
    if resource_type == VERTEX_CUSTOM_JOB:
        return [(f"{_job_spec_name(props)}.serviceAccount", _job_spec(props).get("serviceAccount"))]
    key = _revision_account_key(resource_type)
    return [(f"{_revision_path(resource_type)}.{key}", _revision(resource_type, props).get(key))]


def no_ci_identity(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    # CI identities can change the whole stack; code that runs as one (and whoever can reach that
    # code) could too.
    prefixes = list(setting(config, "ciServiceAccountPrefixes"))
    for where, email in run_as(resource_type, props):
        account_id = (email or "").split("@")[0]
        if account_id and any(account_id.startswith(prefix) for prefix in prefixes if prefix):
            yield (
                f"{where} is {email}, a CI identity (policy config ciServiceAccountPrefixes {prefixes}): run "
                "workloads as their own service account"
            )


def job_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = _job_spec(props).get("serviceAccount")
    if is_default_compute_account(email):
        yield (
            f"job_spec.serviceAccount is {email or 'unset (Vertex AI uses its service agent)'}: "
            "run the job as the dedicated trainer account"
        )


def _unpinned(image: str) -> str:
    return f"{image!r} is not pinned by digest (@sha256:…): a tag can move between preview and run"


def job_image_digest(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    name = _job_spec_name(props)
    for index, pool in enumerate(_job_spec(props).get("workerPoolSpecs") or []):
        image = (pool.get("containerSpec") or {}).get("imageUri")
        if image is not None and not IMAGE_DIGEST.search(image):
            yield f"{name}.workerPoolSpecs[{index}].containerSpec.imageUri {_unpinned(image)}"
        executor = (pool.get("pythonPackageSpec") or {}).get("executorImageUri")
        if executor is not None and not (IMAGE_DIGEST.search(executor) or PREBUILT_EXECUTOR.match(executor)):
            yield (
                f"{name}.workerPoolSpecs[{index}].pythonPackageSpec.executorImageUri {_unpinned(executor)}; only "
                "Google's prebuilt REGION-docker.pkg.dev/vertex-ai/training/…:latest images may use a tag"
            )


def cloudrun_image_digest(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    where = f"{_revision_path(resource_type)}.containers"
    for index, container in enumerate(_revision(resource_type, props).get("containers") or []):
        image = container.get("image") or ""
        if not IMAGE_DIGEST.search(image):
            yield f"{where}[{index}].image {_unpinned(image)}"


def cloudrun_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    for where, email in run_as(resource_type, props):
        if is_default_compute_account(email):
            yield (
                f"{where} is {email or 'unset (Cloud Run uses the default compute service account)'}: run it as "
                "a dedicated service account"
            )


PUBLIC_SERVING_ADVICE = "set the policy config allowPublicServing (with the stack's servingPublic) to allow it"


def cloudrun_public_serving(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if setting(config, "allowPublicServing") is True:
        return
    if resource_type == CLOUD_RUN_V2_SERVICE:
        if is_true(props.get("invokerIamDisabled")):
            yield f"invokerIamDisabled lets anyone on the internet call the service; {PUBLIC_SERVING_ADVICE}"
        return
    if resource_type == CLOUD_RUN_SERVICE:
        annotations = (props.get("metadata") or {}).get("annotations") or {}
        if is_true(annotations.get(INVOKER_IAM_DISABLED_ANNOTATION)):
            yield (
                f"metadata.annotations {INVOKER_IAM_DISABLED_ANNOTATION} lets anyone call the service; "
                f"{PUBLIC_SERVING_ADVICE}"
            )
        return
    for grant in role_bindings(props, lambda r: r == RUN_INVOKER):
        for member in grant.members:
            if is_public(member):
                yield f"{RUN_INVOKER} for {member!r} makes the service public; {PUBLIC_SERVING_ADVICE}"
