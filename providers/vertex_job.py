"""A Vertex AI custom training job as a Pulumi dynamic resource.

`CustomJob` submits a Vertex AI v1 CustomJob (the `job_spec` is the API's
CustomJobSpec, camelCase, exactly as the REST API takes it) and, by default,
returns as soon as the job is accepted: `pulumi up` never sits for the hours a
training run takes. `providers.vertex_spec.worker_pool_spec()` builds one pool of that spec.

Dynamic-provider rules followed here (see the field notes):
- the provider class lives in this importable module, so dill stores it by
  reference; it keeps no attributes, and credentials are fetched inside each
  method (providers.rest), so nothing secret ends up in the state;
- no `async def`; `update` is implemented so outputs survive provider-only
  changes (pulumi/pulumi#7809, #13983); `delete` gets the outputs (#9086),
  so the outputs carry every input.

States written before the providers/ package existed name `components.custom_job.CustomJobProvider`;
that module re-exports this one so they still unpickle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from providers import rest
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
# Module-level so tests can shrink them; read when a method runs.
JOB_POLL_POLICY = rest.PollPolicy(initial_delay_seconds=10.0, max_delay_seconds=60.0)
CREATE_RETRY_POLICY = rest.RetryPolicy(
    max_attempts=5, initial_delay_seconds=2.0, max_delay_seconds=30.0, deadline_seconds=240.0
)


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


def _find_by_create_token(api: rest.GoogleRestClient, parent: str, token: str) -> dict[str, Any] | None:
    params = {"filter": f'labels.{CREATE_TOKEN_LABEL}="{token}"', "pageSize": 10}
    found = api.get(f"v1/{parent}/customJobs", params=params).get("customJobs", [])
    return found[0] if found else None


def submit_exactly_once(api: rest.GoogleRestClient, inputs: JobInputs) -> tuple[dict[str, Any], str]:
    """POST the job; retry transient failures, but look for the job first so a lost answer never makes two."""
    token = uuid.uuid4().hex
    body = inputs.request_body(token)
    attempts = 0

    def attempt() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            # The failed POST may have been accepted before its answer was lost.
            adopted = _find_by_create_token(api, inputs.parent, token)
            if adopted:
                return adopted
        return api.request("POST", f"v1/{inputs.parent}/customJobs", body=body, retry=False)

    return rest.retrying(CREATE_RETRY_POLICY)(attempt), token


def _get_job(api: rest.GoogleRestClient, name: str) -> dict[str, Any]:
    return api.get(f"v1/{name}")


def _wait_until(
    api: rest.GoogleRestClient, job: dict[str, Any], states: frozenset[str], deadline: float
) -> dict[str, Any]:
    if job.get("state") in states:
        return job
    return rest.poll(
        lambda: _get_job(api, job["name"]),
        lambda current: current.get("state") in states,
        deadline_seconds=deadline,
        description=f"custom job {job['name']} to reach {' or '.join(sorted(states))}",
        policy=JOB_POLL_POLICY,
    )


def _cancel(api: rest.GoogleRestClient, name: str) -> None:
    try:
        api.request("POST", f"v1/{name}:cancel", body={})
    except rest.GoogleApiError as error:
        # The job finished between our GET and the cancel: nothing to cancel.
        if error.status != "FAILED_PRECONDITION":
            raise


def _wait_as_asked(
    api: rest.GoogleRestClient, inputs: JobInputs, job: dict[str, Any], outputs: dict[str, Any]
) -> dict[str, Any]:
    states = _STATES_REACHED_FOR[inputs.wait_for]
    if states is None:
        return job
    try:
        job = _wait_until(api, job, states, inputs.wait_timeout_seconds)
    except TimeoutError as timed_out:
        # Pulumi forgets a resource whose create fails: cancel it rather than leave a billed orphan.
        _cancel(api, job["name"])
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


# --- the provider and the resource -------------------------------------------------------------


class CustomJobProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for a Vertex AI CustomJob. Keeps no state: everything comes from the property bags."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = [pulumi.dynamic.CheckFailure(key, problem) for key, problem in check_inputs(news)]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        inputs = JobInputs.from_props(props)
        with inputs.client() as api:
            job, token = submit_exactly_once(api, inputs)
            job = _wait_as_asked(api, inputs, job, job_outputs(inputs, job, token))
        return pulumi.dynamic.CreateResult(job["name"], job_outputs(inputs, job, token))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = JobInputs.from_props(props)
        with inputs.client() as api:
            try:
                job = _get_job(api, id_)
            except rest.GoogleApiError as error:
                if error.is_not_found:
                    # Deleted outside Pulumi: an empty id tells the engine it is gone.
                    return pulumi.dynamic.ReadResult("", {})
                raise
        return pulumi.dynamic.ReadResult(id_, job_outputs(inputs, job, props.get("create_token")))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        before, after = comparable_inputs(olds), comparable_inputs(news)
        changed = [key for key in INPUT_KEYS if before[key] != after[key]]
        replaces = [key for key in changed if key in REPLACING_KEYS]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only labels or provider settings changed (diff replaces otherwise): leave the job alone, refresh
        # the outputs. New labels are recorded there and apply to runs submitted from then on.
        inputs = JobInputs.from_props(news)
        with inputs.client() as api:
            job = _get_job(api, id_)
        return pulumi.dynamic.UpdateResult(job_outputs(inputs, job, olds.get("create_token")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        inputs = JobInputs.from_props(props)
        with inputs.client() as api:
            try:
                job = _get_job(api, id_)
                if job.get("state") not in TERMINAL_STATES:
                    if job.get("state") != "JOB_STATE_CANCELLING":
                        _cancel(api, id_)
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
