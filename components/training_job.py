"""The course's training run as part of the stack: a Vertex AI CustomJob wired to the stack's pieces.

The job's definition is derived from the trainer's code (image digest or package hash) and the
training configuration, so `pulumi up` after a code or config change submits a new run and an
unchanged stack submits none. Each definition gets its own output directory: a new run never
resumes from another run's checkpoints, while a run that Vertex AI restarts (preemption,
`restartJobOnWorkerRestart`) resumes from its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.apis import ProjectApis
from components.storage import DataBucket
from providers.dynamic_base import WAIT_MARGIN_SECONDS
from providers.vertex_job import CustomJob, CustomJobArgs
from providers.vertex_spec import worker_pool_spec
from stack.config import TrainingSettings

RUN_DIRECTORY_PLACEHOLDER = "gs://BUCKET/jobs/RUN"
# Read by the stack's trainer: it checks the package it runs is the one the stack uploaded.
PACKAGE_URI_ENV, PACKAGE_SHA256_ENV = "TRAINER_PACKAGE_URI", "TRAINER_PACKAGE_SHA256"


@dataclass
class TrainingJobArgs:
    project: str
    region: str
    stack: str
    settings: TrainingSettings
    service_account: pulumi.Input[str]
    bucket: DataBucket
    apis: ProjectApis
    container_image: pulumi.Input[str] | None = None  # IMAGE@sha256:… (container mode)
    package_uri: pulumi.Input[str] | None = None  # gs://…/trainer-….tar.gz (package mode)
    package_sha256: str | None = None
    executor_image: pulumi.Input[str] | None = None
    python_module: str | None = None  # package mode: settings.trainer.module
    kms_key_name: pulumi.Input[str] | None = None
    # Grants the job needs before it starts (bucket access, image pull, actAs).
    waits_for: Sequence[pulumi.Resource] = field(default_factory=list)


def job_spec(
    settings: TrainingSettings,
    service_account: str,
    output_directory: str,
    container_image: str | None = None,
    package_uri: str | None = None,
    package_sha256: str | None = None,
    executor_image: str | None = None,
    python_module: str | None = None,
) -> dict[str, Any]:
    """The Vertex AI CustomJobSpec for the configured run: one chief, plus workers when distributed.

    Outputs go to `output_directory` (Vertex AI sets AIP_MODEL_DIR and friends from it); the stack's own
    trainer also gets it as `--job-dir`, the course's flag, while another trainer's arguments stay verbatim.
    """
    args = [*settings.args, *(["--job-dir", output_directory] if settings.passes_job_dir else [])]
    if container_image:
        code: dict[str, Any] = {"container_image": container_image}
    else:
        code = {
            "python_package_uris": [package_uri],
            "executor_image": executor_image,
            "python_module": python_module,
            "env": {PACKAGE_URI_ENV: package_uri, PACKAGE_SHA256_ENV: package_sha256} if package_sha256 else None,
        }

    def pool(replicas: int) -> dict[str, Any]:
        return worker_pool_spec(
            machine_type=settings.machine_type,
            replica_count=replicas,
            accelerator_type=settings.gpu_type or None,
            accelerator_count=settings.gpu_count,
            args=args,
            **code,
        )

    pools = [pool(1)]
    if settings.replica_count > 1:
        pools.append(pool(settings.replica_count - 1))
    return {
        "workerPoolSpecs": pools,
        "serviceAccount": service_account,
        "baseOutputDirectory": {"outputUriPrefix": output_directory},
        "scheduling": {
            "timeout": f"{settings.timeout_seconds}s",
            "strategy": "SPOT" if settings.spot else "STANDARD",
            # DDP cannot continue with a restarted worker: restart every replica, which then
            # resume together from the newest checkpoint.
            "restartJobOnWorkerRestart": settings.replica_count > 1,
        },
    }


def run_name(stack: str, spec: dict[str, Any]) -> str:
    """`trainer-{stack}-{hash}` of what the job runs: the same code and job definition give the
    same name (and so no new run); how `pulumi up` waits, or labels, do not count."""
    definition = json.dumps(spec, sort_keys=True)
    return f"trainer-{stack}-{hashlib.sha256(definition.encode()).hexdigest()[:10]}"


class TrainingJob(pulumi.ComponentResource):
    job: CustomJob

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:training:TrainingJob", name, None, opts)
        if (args.container_image is None) == (args.package_uri is None):
            raise ValueError("TrainingJob needs exactly one of container_image or package_uri")

        def spec_for(output_directory: str) -> pulumi.Output[dict[str, Any]]:
            return pulumi.Output.all(
                args.service_account,
                args.container_image,
                args.package_uri,
                args.executor_image,
            ).apply(
                lambda v: job_spec(
                    args.settings,
                    v[0],
                    output_directory,
                    container_image=v[1],
                    package_uri=v[2],
                    package_sha256=args.package_sha256,
                    executor_image=v[3],
                    python_module=args.python_module,
                )
            )

        # The run's name comes from its definition, and its output directory from its name.
        self.run_name = spec_for(RUN_DIRECTORY_PLACEHOLDER).apply(lambda spec: run_name(args.stack, spec))
        self.output_directory = pulumi.Output.all(args.bucket.url, self.run_name).apply(lambda v: f"{v[0]}/jobs/{v[1]}")
        spec = self.output_directory.apply(spec_for)
        self.job = CustomJob(
            "job",
            CustomJobArgs(
                project=args.project,
                region=args.region,
                display_name=self.run_name,
                job_spec=spec,
                labels={"run": "trainer"},
                encryption_key=args.kms_key_name,
                wait_for=args.settings.wait_for,
                # Waiting for `running` or `succeeded` lasts as long as the job may (trainingTimeout), plus a margin.
                wait_timeout_seconds=float(args.settings.timeout_seconds + WAIT_MARGIN_SECONDS),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.apis.needed_by("aiplatform"), *args.waits_for]),
        )
        # What a user needs next: the course's `jobs describe` and `jobs stream-logs`, and the model.
        self.summary = {
            "name": self.job.name,
            "state": self.job.state,
            "console_url": self.job.console_url,
            "describe_command": self.job.describe_command,
            "stream_logs_command": self.job.stream_logs_command,
            "model_dir": self.job.model_dir,
        }
        self.register_outputs(self.summary)
