"""Serving: the trained model behind a private, scale-to-zero Cloud Run service.

The service runs the stack's trainer image by digest with the model server as its command
(`python -m trainer.serve`), as its own `server` account, which may read the models in the
bucket and nothing else. No one is an invoker unless `servingPublic` makes it public: callers
need `roles/run.invoker` (project owners have it) and an identity token. A new image digest or
model is a new revision, so a `pulumi up` from CI deploys it. The model server waits for the
model: a service declared with a job that has only been submitted serves once the run finishes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import catalog, iam, naming
from stack.config import ServingSettings
from stack.config.trainer import BUNDLED_TRAINER

SERVE_COMMAND = ["python", "-m", "trainer.serve"]
PORT = 8080
HEALTH_PATH = "/health"
# One CPU and 2 GiB: torch (about 0.5 GB resident) and the model with room to spare (within Cloud Run's
# memory limit for one CPU, stack/catalog.py CLOUD_RUN_CPU_MEMORY_LIMITS_GIB).
CPU, MEMORY = "1", "2Gi"
# The server micro-batches concurrent requests into one forward pass: let requests queue on one instance.
CONCURRENCY = 80
REQUEST_TIMEOUT = "60s"
PUBLIC_INVOKER = "allUsers"
SAMPLE_ROWS = BUNDLED_TRAINER / "data" / "sample" / "eval.csv"


def example_instance(sample: Path = SAMPLE_ROWS) -> dict[str, Any]:
    """The first row of the trainer's sample data, without its label, as a request instance."""
    with sample.open(newline="", encoding="utf-8") as rows:
        row = next(csv.DictReader(rows))
    row.pop("tip", None)

    def value(text: str) -> Any:
        try:
            number = float(text)
        except ValueError:
            return text or None
        return int(number) if number.is_integer() and "." not in text else number

    return {column: value(text) for column, text in row.items()}


def curl_command(url: str) -> str:
    body = json.dumps({"instances": [example_instance()]}, separators=(",", ":"))
    return (
        'curl -H "Authorization: Bearer $(gcloud auth print-identity-token)" -H "Content-Type: application/json" '
        f"-d '{body}' {url}/predict"
    )


@dataclass
class ServingArgs:
    project: str
    region: str
    stack: str
    settings: ServingSettings
    image: pulumi.Input[str]  # REPOSITORY/IMAGE@sha256:…
    model_uri: pulumi.Input[str]  # gs://…/model
    service_account: pulumi.Input[str]
    apis: ProjectApis
    # Grants the first revision needs before it starts (the server's bucket access, the deployer's actAs).
    waits_for: list[pulumi.Resource] = field(default_factory=list)


class Serving(pulumi.ComponentResource):
    service: gcp.cloudrunv2.Service
    url: pulumi.Output[str]
    request_command: pulumi.Output[str]

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:serving:Serving", name, None, opts)
        settings = args.settings
        needs_run = pulumi.ResourceOptions(parent=self, depends_on=args.apis.needed_by("run"))
        probe = {"http_get": {"path": HEALTH_PATH, "port": PORT}}
        self.service = gcp.cloudrunv2.Service(
            "service",
            project=args.project,
            location=args.region,
            name=naming.resource_id(args.stack, "model", limit=catalog.CLOUD_RUN_SERVICE_NAME_LIMIT),
            description="gcp-mlops model server (python -m trainer.serve)",
            # Reachable from anywhere, callable by invokers only: `invoker_iam_disabled` stays unset (false), since
            # setting it at all takes run.services.setIamPolicy, which the CI deployer does not hold.
            ingress="INGRESS_TRAFFIC_ALL",
            # pulumi-gcp defaults this to true, which makes `pulumi destroy` fail.
            deletion_protection=settings.deletion_protection,
            labels={"purpose": "model-serving"},
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                service_account=args.service_account,
                scaling=gcp.cloudrunv2.ServiceTemplateScalingArgs(
                    min_instance_count=settings.min_instances, max_instance_count=settings.max_instances
                ),
                max_instance_request_concurrency=CONCURRENCY,
                timeout=REQUEST_TIMEOUT,
                containers=[
                    gcp.cloudrunv2.ServiceTemplateContainerArgs(
                        image=args.image,
                        commands=SERVE_COMMAND,
                        envs=[gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name="MODEL_DIR", value=args.model_uri)],
                        ports=gcp.cloudrunv2.ServiceTemplateContainerPortsArgs(container_port=PORT),
                        resources=gcp.cloudrunv2.ServiceTemplateContainerResourcesArgs(
                            limits={"cpu": CPU, "memory": MEMORY},
                            # With limits set, CPU outside requests (and its billing) must be refused explicitly.
                            cpu_idle=True,
                            startup_cpu_boost=True,
                        ),
                        # Importing torch takes a while on one CPU: allow up to two minutes to start.
                        startup_probe=gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgs(
                            **probe, period_seconds=5, timeout_seconds=3, failure_threshold=24
                        ),
                        liveness_probe=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgs(
                            **probe, period_seconds=30, timeout_seconds=5, failure_threshold=3
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(needs_run, pulumi.ResourceOptions(depends_on=args.waits_for)),
        )
        self.invokers = iam.bind(
            "invoker",
            {"public": iam.Grant("roles/run.invoker", PUBLIC_INVOKER)} if settings.public else {},
            lambda member_name, grant, member_opts: gcp.cloudrunv2.ServiceIamMember(
                member_name,
                project=self.service.project,
                location=self.service.location,
                name=self.service.name,
                role=grant.role,
                member=grant.member,
                opts=member_opts,
            ),
            needs_run,
        )
        self.url = iam.granted(self.service.uri, self.invokers.values())
        self.request_command = self.url.apply(curl_command)
        self.register_outputs({"url": self.url, "request_command": self.request_command})
