"""A container image built by Cloud Build, as a Pulumi dynamic resource.

`CloudBuild` builds an uploaded build context (a gzipped tar in Cloud Storage, see
`artifacts.context.context_archive`) with `docker build` on Cloud Build and pushes the image to
Artifact Registry, so `pulumi up` needs no Docker daemon. Create waits (at most
`wait_timeout_seconds`) for the build to finish and returns the pushed digest:
`image_digest_ref` (`…/IMAGE@sha256:…`) is what a training job should run. The request pieces and
the input rules are in `providers.cloud_build_spec`.

- The image tag and the object name are content hashes of the context: unchanged code changes no
  input, so nothing is built. Only a change in what is built replaces the resource (a new build);
  provider settings (wait timeout, endpoint, build timeout, machine type, tags, service account,
  source generation) update in place without a build.
- Create happens exactly once: the build carries a create-token tag, and a create whose answer was
  lost looks the build up by that tag before it tries again.
- Delete cancels a build that is still running; a finished build is history, and its image stays in
  Artifact Registry (the repository's cleanup policies remove old versions).

Dynamic-provider rules followed here (see the field notes): the provider class lives in this
importable module and keeps no attributes; credentials are fetched inside each method
(providers.rest); no `async def`; `update` is implemented so outputs survive provider-only changes
(pulumi/pulumi#7809, #13983); `delete` gets the outputs (#9086), so the outputs carry every input.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from providers import rest
from providers.cloud_build_spec import (
    CREATE_TOKEN_PREFIX,
    DEFAULT_BUILD_TIMEOUT_SECONDS,
    DEFAULT_WAIT_TIMEOUT_SECONDS,
    INPUT_KEYS,
    OUTPUT_ONLY_KEYS,
    REPLACING_KEYS,
    TERMINAL_STATUSES,
    BuildInputs,
    build_outputs,
    check_inputs,
    comparable_inputs,
    failure_message,
)

# A cancelled build stops within seconds to a minute or two.
CANCEL_TIMEOUT_SECONDS = 300.0
# Module-level so tests can shrink them; read when a method runs.
BUILD_POLL_POLICY = rest.PollPolicy(initial_delay_seconds=5.0, max_delay_seconds=30.0)
CREATE_RETRY_POLICY = rest.RetryPolicy(
    max_attempts=5, initial_delay_seconds=2.0, max_delay_seconds=30.0, deadline_seconds=240.0
)


class CloudBuildFailedError(RuntimeError):
    pass


# --- talking to Cloud Build ------------------------------------------------------------------------


def _client(inputs: BuildInputs) -> rest.GoogleRestClient:
    return rest.GoogleRestClient(inputs.base_url, project=inputs.project)


def _find_by_create_token(api: rest.GoogleRestClient, inputs: BuildInputs, token: str) -> dict[str, Any] | None:
    params = {"filter": f'tags="{token}"', "pageSize": 10}
    found = api.get(f"v1/{inputs.parent}/builds", params=params).get("builds", [])
    # Adopt only a build that carries the token, whatever the filter matched.
    return next((build for build in found if token in (build.get("tags") or [])), None)


def submit_exactly_once(api: rest.GoogleRestClient, inputs: BuildInputs) -> tuple[dict[str, Any], str]:
    """POST the build; retry transient failures, but look for the build first so a lost answer never makes two."""
    token = f"{CREATE_TOKEN_PREFIX}{uuid.uuid4().hex}"
    body = inputs.request_body(token)
    attempts = 0

    def attempt() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            # The failed POST may have been accepted before its answer was lost.
            adopted = _find_by_create_token(api, inputs, token)
            if adopted:
                return adopted
        operation = api.request("POST", f"v1/{inputs.parent}/builds", body=body, retry=False)
        if operation.get("error"):
            raise rest.GoogleApiError.from_status(
                operation["error"],
                request=f"create build in {inputs.parent}",
                identity=api.identity,
                project=inputs.project,
            )
        # The create answer is a long-running operation whose metadata (BuildOperationMetadata) holds the build.
        build = (operation.get("metadata") or {}).get("build") or {}
        if build.get("id"):
            return dict(build)
        found = _find_by_create_token(api, inputs, token)
        if found:
            return found
        raise CloudBuildFailedError(
            f"Cloud Build accepted the build (operation {operation.get('name')}) but its answer named no build"
        )

    return rest.retrying(CREATE_RETRY_POLICY)(attempt), token


def _get_build(api: rest.GoogleRestClient, name: str) -> dict[str, Any]:
    return api.get(f"v1/{name}")


def _wait_until_finished(
    api: rest.GoogleRestClient, name: str, build: dict[str, Any], deadline: float
) -> dict[str, Any]:
    if build.get("status") in TERMINAL_STATUSES:
        return build
    return rest.poll(
        lambda: _get_build(api, name),
        lambda current: current.get("status") in TERMINAL_STATUSES,
        deadline_seconds=deadline,
        description=f"Cloud Build build {name} to finish",
        policy=BUILD_POLL_POLICY,
    )


def _cancel(api: rest.GoogleRestClient, name: str) -> dict[str, Any]:
    project, build_id = name.split("/")[1], name.rsplit("/", 1)[-1]
    try:
        return api.request("POST", f"v1/{name}:cancel", body={"name": name, "projectId": project, "id": build_id})
    except rest.GoogleApiError as error:
        # The build finished between our GET and the cancel: nothing to cancel.
        if error.status != "FAILED_PRECONDITION":
            raise
        return {}


def _wait_for_image(
    api: rest.GoogleRestClient, inputs: BuildInputs, build: dict[str, Any], token: str
) -> dict[str, Any]:
    name = build_outputs(inputs, build, token)["name"]
    try:
        build = _wait_until_finished(api, name, build, inputs.wait_timeout_seconds)
    except TimeoutError as timed_out:
        # Pulumi forgets a resource whose create fails: cancel the build rather than leave it running unmanaged.
        _cancel(api, name)
        raise TimeoutError(
            f"{timed_out}. The build was cancelled so that it does not push an image nothing records. "
            f"Raise wait_timeout_seconds (or look at why it is slow). Logs: {build.get('logUrl') or name}"
        ) from timed_out
    outputs = build_outputs(inputs, build, token)
    if build.get("status") != "SUCCESS":
        raise CloudBuildFailedError(failure_message(inputs, build, outputs))
    if not outputs["digest"]:
        raise CloudBuildFailedError(
            f"Cloud Build build {outputs['build_id']} succeeded but reported no digest for {inputs.image} "
            f"(results.images: {(build.get('results') or {}).get('images')}). Logs: {build.get('logUrl')}"
        )
    return build


# --- the provider and the resource -------------------------------------------------------------


class CloudBuildProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for one Cloud Build image build. Keeps no state: everything comes from the property bags."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = [pulumi.dynamic.CheckFailure(key, problem) for key, problem in check_inputs(news)]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        inputs = BuildInputs.from_props(props)
        with _client(inputs) as api:
            build, token = submit_exactly_once(api, inputs)
            build = _wait_for_image(api, inputs, build, token)
        outputs = build_outputs(inputs, build, token)
        return pulumi.dynamic.CreateResult(outputs["name"], outputs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = BuildInputs.from_props(props)
        with _client(inputs) as api:
            try:
                build = _get_build(api, id_)
            except rest.GoogleApiError as error:
                if error.is_not_found:
                    # Gone from Cloud Build: an empty id tells the engine so.
                    return pulumi.dynamic.ReadResult("", {})
                raise
        return pulumi.dynamic.ReadResult(id_, build_outputs(inputs, build, props.get("create_token")))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        before, after = comparable_inputs(olds), comparable_inputs(news)
        changed = [key for key in INPUT_KEYS if before[key] != after[key]]
        replaces = [key for key in changed if key in REPLACING_KEYS]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only provider settings changed (diff replaces otherwise): build nothing, record them, refresh the rest.
        inputs = BuildInputs.from_props(news)
        with _client(inputs) as api:
            try:
                build = _get_build(api, id_)
            except rest.GoogleApiError as error:
                if not error.is_not_found:
                    raise
                # Build history can expire; the image it pushed is still there.
                return pulumi.dynamic.UpdateResult(
                    {**{key: olds.get(key) for key in OUTPUT_ONLY_KEYS}, **inputs.to_props()}
                )
        return pulumi.dynamic.UpdateResult(build_outputs(inputs, build, olds.get("create_token")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # A finished build is history and its image stays in the registry: only a running build is stopped.
        inputs = BuildInputs.from_props(props)
        with _client(inputs) as api:
            try:
                build = _get_build(api, id_)
                if build.get("status") not in TERMINAL_STATUSES:
                    build = _cancel(api, id_) or build
                    _wait_until_finished(api, id_, build, CANCEL_TIMEOUT_SECONDS)
            except rest.GoogleApiError as error:
                if not error.is_not_found:
                    raise


@dataclass
class CloudBuildArgs:
    project: pulumi.Input[str]
    location: pulumi.Input[str]
    source_bucket: pulumi.Input[str]
    source_object: pulumi.Input[str]
    image: pulumi.Input[str]
    service_account: pulumi.Input[str]
    source_generation: pulumi.Input[str] | None = None
    dockerfile: pulumi.Input[str] = "Dockerfile"
    build_args: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    machine_type: pulumi.Input[str] | None = None
    timeout_seconds: pulumi.Input[int] = DEFAULT_BUILD_TIMEOUT_SECONDS
    tags: pulumi.Input[list[pulumi.Input[str]]] | None = None
    wait_timeout_seconds: pulumi.Input[float] = DEFAULT_WAIT_TIMEOUT_SECONDS
    api_endpoint: pulumi.Input[str] | None = None

    def to_props(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in INPUT_KEYS}


class CloudBuild(pulumi.dynamic.Resource, module="cloudbuild", name="Build"):
    """An image built from an uploaded context by Cloud Build and pushed to Artifact Registry."""

    project: pulumi.Output[str]
    location: pulumi.Output[str]
    source_bucket: pulumi.Output[str]
    source_object: pulumi.Output[str]
    source_generation: pulumi.Output[str | None]
    image: pulumi.Output[str]
    dockerfile: pulumi.Output[str]
    build_args: pulumi.Output[dict | None]
    service_account: pulumi.Output[str]
    machine_type: pulumi.Output[str | None]
    timeout_seconds: pulumi.Output[int]
    tags: pulumi.Output[list | None]
    wait_timeout_seconds: pulumi.Output[float]
    api_endpoint: pulumi.Output[str | None]
    name: pulumi.Output[str]
    build_id: pulumi.Output[str]
    status: pulumi.Output[str]
    status_detail: pulumi.Output[str | None]
    log_url: pulumi.Output[str | None]
    log_command: pulumi.Output[str]
    digest: pulumi.Output[str]
    image_digest_ref: pulumi.Output[str]
    create_token: pulumi.Output[str]

    def __init__(self, resource_name: str, args: CloudBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**args.to_props(), **dict.fromkeys(OUTPUT_ONLY_KEYS)}
        super().__init__(CloudBuildProvider(), resource_name, props, opts)
