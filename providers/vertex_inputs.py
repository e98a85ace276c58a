"""A Vertex AI CustomJob resource's property bag: its inputs (validated), and the outputs made from a job.

Shared by the provider (providers/vertex_job.py) and the test renderer, which computes a job's
mock outputs with this code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from pulumi.runtime import rpc

from providers import rest
from providers.dynamic_base import RestInputs, blocking_problems
from stack.naming import PROJECT_ID

WAIT_FOR_CHOICES = ("submitted", "running", "succeeded")
DEFAULT_WAIT_TIMEOUT_SECONDS = 1200.0
# Underscores, not hyphens: the label key goes into a list filter, where a hyphen
# in a field path is not safe to rely on.
CREATE_TOKEN_LABEL = "pulumi_create_token"
INPUT_KEYS = (
    "project",
    "region",
    "display_name",
    "job_spec",
    "labels",
    "encryption_key",
    "wait_for",
    "wait_timeout_seconds",
    "api_endpoint",
)
# Changing any of these means a different job; the rest only steer the provider.
# `labels` is not among them: a custom job cannot be relabelled, but a relabel must not cost
# a new training run, so new labels are recorded in the outputs and apply to runs submitted
# from then on (the next replacement), while the running job keeps the labels it was made with.
REPLACING_KEYS = ("project", "region", "display_name", "job_spec", "encryption_key")
OUTPUT_ONLY_KEYS = (
    "name",
    "job_id",
    "state",
    "create_time",
    "console_url",
    "describe_command",
    "stream_logs_command",
    "model_dir",
    "create_token",
)


def _integral_floats_to_ints(value: Any) -> Any:
    # Pulumi carries every number as a double; Vertex rejects 1.0 where an int32 is due.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_to_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_ints(item) for item in value]
    return value


@dataclass(frozen=True)
class JobInputs(RestInputs):
    LOCATION_FIELD = "region"

    project: str
    region: str
    display_name: str
    job_spec: dict[str, Any]
    labels: dict[str, str] | None = None
    encryption_key: str | None = None
    wait_for: str = "submitted"
    wait_timeout_seconds: float = DEFAULT_WAIT_TIMEOUT_SECONDS
    api_endpoint: str | None = None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> JobInputs:
        """From the provider's property bag (inputs, or outputs that carry them); absent == None."""
        problems = blocking_problems(check_inputs(props), cls.LOCATION_FIELD)
        if problems:
            raise ValueError("; ".join(problems))
        present = {key: _integral_floats_to_ints(props[key]) for key in INPUT_KEYS if props.get(key) is not None}
        return cls(**present)

    @property
    def default_endpoint(self) -> str:
        return f"https://{self.region}-aiplatform.googleapis.com"

    def request_body(self, create_token: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "displayName": self.display_name,
            "jobSpec": self.job_spec,
            "labels": {**(self.labels or {}), CREATE_TOKEN_LABEL: create_token},
        }
        if self.encryption_key:
            body["encryptionSpec"] = {"kmsKeyName": self.encryption_key}
        return body


def check_inputs(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, problem) pairs worth failing `pulumi preview` for; unknown (preview) values are skipped."""
    problems = [
        (key, f"{key} is required")
        for key in ("project", "region", "display_name", "job_spec")
        if props.get(key) in (None, "")
    ]
    problems += endpoint_problems(props.get("region"), props.get("api_endpoint"))
    project = props.get("project")
    if isinstance(project, str) and project and not _is_unknown(project) and not PROJECT_ID.match(project):
        # It goes into the URL path (and the token with it): only a project ID.
        problems.append(("project", f"project must be a project ID, got {project!r}"))
    wait_for = props.get("wait_for")
    if wait_for is not None and not _is_unknown(wait_for) and wait_for not in WAIT_FOR_CHOICES:
        problems.append(("wait_for", f"wait_for must be one of {', '.join(WAIT_FOR_CHOICES)}, got {wait_for!r}"))
    labels = props.get("labels")
    if isinstance(labels, dict) and CREATE_TOKEN_LABEL in labels:
        problems.append(("labels", f"labels must not set {CREATE_TOKEN_LABEL}: the provider sets it"))
    job_spec = props.get("job_spec")
    if isinstance(job_spec, dict) and not job_spec.get("workerPoolSpecs"):
        problems.append(("job_spec", "job_spec.workerPoolSpecs must list at least one worker pool"))
    return problems


def endpoint_problems(region: Any, api_endpoint: Any) -> list[tuple[str, str]]:
    """The OAuth token goes to the host these make: only a region name and Google's own hosts.

    The stack's configuration is validated elsewhere, but the provider is the trust boundary (its
    inputs can come from anywhere that writes the program or the state)."""
    return rest.endpoint_problems(*(None if _is_unknown(value) else value for value in (region, api_endpoint)))


def comparable_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    # Values may still be unknown (preview), so no validation here: only defaults and number types.
    defaults = {field.name: field.default for field in fields(JobInputs) if field.default is not MISSING}
    return {
        key: _integral_floats_to_ints(props[key] if props.get(key) is not None else defaults.get(key))
        for key in INPUT_KEYS
    }


def _is_unknown(value: Any) -> bool:
    return value == rpc.UNKNOWN


def job_outputs(inputs: JobInputs, job: Mapping[str, Any], create_token: str | None) -> dict[str, Any]:
    name = job["name"]
    job_id = name.rsplit("/", 1)[-1]
    where = f"--region={inputs.region} --project={inputs.project}"
    output_prefix = ((inputs.job_spec.get("baseOutputDirectory") or {}).get("outputUriPrefix") or "").rstrip("/")
    return {
        **inputs.to_props(),
        "name": name,
        "job_id": job_id,
        "state": job.get("state"),
        "create_time": job.get("createTime"),
        "console_url": (
            f"https://console.cloud.google.com/vertex-ai/locations/{inputs.region}/training/{job_id}/cpu"
            f"?project={inputs.project}"
        ),
        "describe_command": f"gcloud ai custom-jobs describe {job_id} {where}",
        "stream_logs_command": f"gcloud ai custom-jobs stream-logs {job_id} {where}",
        "model_dir": f"{output_prefix}/model" if output_prefix else None,
        "create_token": create_token,
    }


class CustomJobFailedError(RuntimeError):
    pass
