"""A Vertex AI custom training job as a Pulumi dynamic resource.

`CustomJob` submits a Vertex AI v1 CustomJob (the `job_spec` is the API's
CustomJobSpec, camelCase, exactly as the REST API takes it) and, by default,
returns as soon as the job is accepted: `pulumi up` never sits for the hours a
training run takes. `providers.vertex_spec.worker_pool_spec()` builds one pool of that spec.

The check, read, diff and update, the exactly-once create and the Pulumi dynamic-provider rules this
module follows are in `providers.dynamic_base`.

States written before the providers/ package existed name `components.custom_job.CustomJobProvider`;
that module re-exports this one so they still unpickle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from providers import rest
from providers.dynamic_base import RestResourceProvider, get, wait_for_state
from providers.vertex_inputs import (
    CREATE_TOKEN_LABEL,
    DEFAULT_WAIT_TIMEOUT_SECONDS,
    INPUT_KEYS,
    OUTPUT_ONLY_KEYS,
    REPLACING_KEYS,
    WAIT_FOR_CHOICES,
    CustomJobFailedError,
    JobInputs,
    check_inputs,
    comparable_inputs,
    job_outputs,
)

__all__ = [
    "CREATE_TOKEN_LABEL", "INPUT_KEYS", "OUTPUT_ONLY_KEYS", "WAIT_FOR_CHOICES", "CustomJob", "CustomJobArgs",
    "CustomJobFailedError", "CustomJobProvider", "JobInputs", "check_inputs", "job_outputs",
]  # fmt: skip

# Cancel is asynchronous (CANCELLING -> CANCELLED) and can take minutes while workers stop.
CANCEL_TIMEOUT_SECONDS = 900.0
DELETE_OPERATION_TIMEOUT_SECONDS = 600.0
# Module-level so tests can shrink it; read when a method runs.
JOB_POLL_POLICY = rest.PollPolicy(initial_delay_seconds=10.0, max_delay_seconds=60.0)


TERMINAL_STATES = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)
# PARTIALLY_SUCCEEDED is meant for batch jobs; for one training run, anything short of all of it is a failure.
UNSUCCESSFUL_STATES = frozenset(
    {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
)
_STATES_REACHED_FOR = {
    "submitted": None,
    "running": frozenset({"JOB_STATE_RUNNING"}) | TERMINAL_STATES,
    "succeeded": TERMINAL_STATES,
}


# --- talking to Vertex AI -------------------------------------------------------------------------


def _wait_until(
    api: rest.GoogleRestClient, job: dict[str, Any], states: frozenset[str], deadline: float
) -> dict[str, Any]:
    return wait_for_state(
        api,
        job["name"],
        job,
        states,
        key="state",
        deadline_seconds=deadline,
        description=f"custom job {job['name']} to reach {' or '.join(sorted(states))}",
        policy=JOB_POLL_POLICY,
    )


# --- the provider and the resource -------------------------------------------------------------


class CustomJobProvider(RestResourceProvider):
    """CRUD for a Vertex AI CustomJob. Keeps no state: everything comes from the property bags."""

    inputs_type = JobInputs
    input_keys = INPUT_KEYS
    replacing_keys = REPLACING_KEYS
    check_inputs = staticmethod(check_inputs)
    comparable_inputs = staticmethod(comparable_inputs)
    outputs = staticmethod(job_outputs)

    def post(self, api: rest.GoogleRestClient, inputs: JobInputs, token: str) -> dict[str, Any]:
        return api.request("POST", f"v1/{inputs.parent}/customJobs", body=inputs.request_body(token), retry=False)

    def find_by_token(self, api: rest.GoogleRestClient, inputs: JobInputs, token: str) -> dict[str, Any] | None:
        params = {"filter": f'labels.{CREATE_TOKEN_LABEL}="{token}"', "pageSize": 10}
        found = api.get(f"v1/{inputs.parent}/customJobs", params=params).get("customJobs", [])
        return found[0] if found else None

    def settle(self, api: rest.GoogleRestClient, inputs: JobInputs, job: dict[str, Any], token: str) -> dict[str, Any]:
        """Wait as `wait_for` asks (not at all by default); fail if the job ends short of success meanwhile."""
        states = _STATES_REACHED_FOR[inputs.wait_for]
        if states is None:
            return job
        outputs = job_outputs(inputs, job, token)
        try:
            job = _wait_until(api, job, states, inputs.wait_timeout_seconds)
        except TimeoutError as timed_out:
            # Pulumi forgets a resource whose create fails: cancel it rather than leave a billed orphan.
            api.cancel_if_running(job["name"], {})
            raise TimeoutError(
                f"{timed_out}. The job {job['name']} was cancelled so that it does not run unmanaged. "
                f"Raise wait_timeout_seconds (gcp-mlops: trainingTimeout, plus a margin) or use wait_for='submitted' "
                f"(gcp-mlops: trainingWaitFor). Logs: {outputs['stream_logs_command']}"
            ) from timed_out
        state = job.get("state")
        if state in UNSUCCESSFUL_STATES:  # every terminal state but SUCCEEDED
            message = (job.get("error") or {}).get("message", "(no error message)")
            raise CustomJobFailedError(
                f"Vertex AI custom job {job['name']} ended {state}: {message}\n"
                f"Logs: {outputs['stream_logs_command']}\nConsole: {outputs['console_url']}"
            )
        return job

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        inputs = JobInputs.from_props(props)
        with inputs.client() as api:
            try:
                job = get(api, id_)
                if job.get("state") not in TERMINAL_STATES:
                    if job.get("state") != "JOB_STATE_CANCELLING":
                        api.cancel_if_running(id_, {})
                    _wait_until(api, job, TERMINAL_STATES, CANCEL_TIMEOUT_SECONDS)
                operation = api.delete(f"v1/{id_}")
                api.wait_for_operation(
                    operation, deadline_seconds=DELETE_OPERATION_TIMEOUT_SECONDS, policy=JOB_POLL_POLICY
                )
            except rest.GoogleApiError as error:
                if not error.is_not_found:
                    raise


@dataclass
class CustomJobArgs:
    project: pulumi.Input[str]
    region: pulumi.Input[str]
    display_name: pulumi.Input[str]
    job_spec: pulumi.Input[Mapping[str, Any]]
    labels: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    encryption_key: pulumi.Input[str] | None = None
    wait_for: pulumi.Input[str] = "submitted"
    wait_timeout_seconds: pulumi.Input[float] = DEFAULT_WAIT_TIMEOUT_SECONDS
    api_endpoint: pulumi.Input[str] | None = None

    def to_props(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in INPUT_KEYS}


class CustomJob(pulumi.dynamic.Resource, module="vertex", name="CustomJob"):
    """A submitted Vertex AI custom training job (replaced when its definition changes)."""

    project: pulumi.Output[str]
    region: pulumi.Output[str]
    display_name: pulumi.Output[str]
    job_spec: pulumi.Output[dict]
    labels: pulumi.Output[dict | None]
    encryption_key: pulumi.Output[str | None]
    wait_for: pulumi.Output[str]
    wait_timeout_seconds: pulumi.Output[float]
    api_endpoint: pulumi.Output[str | None]
    name: pulumi.Output[str]
    job_id: pulumi.Output[str]
    state: pulumi.Output[str]
    create_time: pulumi.Output[str]
    console_url: pulumi.Output[str]
    describe_command: pulumi.Output[str]
    stream_logs_command: pulumi.Output[str]
    model_dir: pulumi.Output[str | None]
    create_token: pulumi.Output[str]

    def __init__(self, resource_name: str, args: CustomJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**args.to_props(), **dict.fromkeys(OUTPUT_ONLY_KEYS)}
        super().__init__(CustomJobProvider(), resource_name, props, opts)
