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

The check, read, diff and update, the exactly-once create and the Pulumi dynamic-provider rules this
module follows are in `providers.dynamic_base`.
"""

from __future__ import annotations

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
from providers.dynamic_base import RestResourceProvider, get, wait_for_state

# A cancelled build stops within seconds to a minute or two.
CANCEL_TIMEOUT_SECONDS = 300.0
# Module-level so tests can shrink it; read when a method runs.
BUILD_POLL_POLICY = rest.PollPolicy(initial_delay_seconds=5.0, max_delay_seconds=30.0)


class CloudBuildFailedError(RuntimeError):
    pass


# --- talking to Cloud Build ------------------------------------------------------------------------


def _wait_until_finished(
    api: rest.GoogleRestClient, name: str, build: dict[str, Any], deadline: float
) -> dict[str, Any]:
    return wait_for_state(
        api,
        name,
        build,
        TERMINAL_STATUSES,
        key="status",
        deadline_seconds=deadline,
        description=f"Cloud Build build {name} to finish",
        policy=BUILD_POLL_POLICY,
    )


def _cancel(api: rest.GoogleRestClient, name: str) -> dict[str, Any]:
    project, build_id = name.split("/")[1], name.rsplit("/", 1)[-1]
    return api.cancel_if_running(name, {"name": name, "projectId": project, "id": build_id})


# --- the provider and the resource -------------------------------------------------------------


class CloudBuildProvider(RestResourceProvider):
    """CRUD for one Cloud Build image build. Keeps no state: everything comes from the property bags."""

    inputs_type = BuildInputs
    input_keys = INPUT_KEYS
    replacing_keys = REPLACING_KEYS
    create_token_prefix = CREATE_TOKEN_PREFIX
    check_inputs = staticmethod(check_inputs)
    comparable_inputs = staticmethod(comparable_inputs)
    outputs = staticmethod(build_outputs)

    def post(self, api: rest.GoogleRestClient, inputs: BuildInputs, token: str) -> dict[str, Any]:
        operation = api.request("POST", f"v1/{inputs.parent}/builds", body=inputs.request_body(token), retry=False)
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
        found = self.find_by_token(api, inputs, token)
        if found:
            return found
        raise CloudBuildFailedError(
            f"Cloud Build accepted the build (operation {operation.get('name')}) but its answer named no build"
        )

    def find_by_token(self, api: rest.GoogleRestClient, inputs: BuildInputs, token: str) -> dict[str, Any] | None:
        params = {"filter": f'tags="{token}"', "pageSize": 10}
        found = api.get(f"v1/{inputs.parent}/builds", params=params).get("builds", [])
        # Adopt only a build that carries the token, whatever the filter matched.
        return next((build for build in found if token in (build.get("tags") or [])), None)

    def settle(
        self, api: rest.GoogleRestClient, inputs: BuildInputs, build: dict[str, Any], token: str
    ) -> dict[str, Any]:
        """Wait for the build to push the image; fail (naming the cause and the log) unless it did."""
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

    def outputs_when_gone(self, inputs: BuildInputs, olds: dict[str, Any]) -> dict[str, Any]:
        # Build history can expire; the image it pushed is still there.
        return {**{key: olds.get(key) for key in OUTPUT_ONLY_KEYS}, **inputs.to_props()}

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # A finished build is history and its image stays in the registry: only a running build is stopped.
        inputs = BuildInputs.from_props(props)
        with inputs.client() as api:
            try:
                build = get(api, id_)
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
