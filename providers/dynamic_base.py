"""What the project's dynamic providers of Google REST resources share (providers.cloud_build, providers.vertex_job).

`RestResourceProvider` implements check, create, read, diff and update once; a provider subclasses it,
sets what describes its resource as class attributes, and implements the hooks (`post`,
`find_by_token`, and `settle` or `outputs_when_gone` where it needs them) and `delete`.
`RestInputs` is the mixin of the frozen dataclass that holds a resource's validated inputs.

Pulumi dynamic-provider pitfalls, which every provider here must respect:
- the provider is dill-pickled into the state (`__provider`), by reference to its class: the class
  lives in an importable module and stays at its path (an old state names it), and keeps no
  instance attributes; what describes a resource is class attributes, read when a method runs;
- credentials are fetched inside each method (providers.rest), never kept, so nothing secret is pickled;
- no `async def`;
- `update` is implemented, so the outputs survive a change of provider settings only
  (pulumi/pulumi#7809, #13983), and it returns every output;
- `delete` gets the outputs, not the inputs (#9086), so the outputs carry every input.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, ClassVar, Self

import pulumi.dynamic

from providers import rest

Problems = list[tuple[str, str]]


# How long `pulumi up` waits beyond the work's own timeout (a job's, a build's): queueing and start-up.
WAIT_MARGIN_SECONDS = 15 * 60


def blocking_problems(problems: list[tuple[str, str]], location_field: str) -> list[str]:
    """Of `check_inputs`' (property, problem) pairs, those that must stop a read, update or delete as well as a
    create: where the request and the token go, and what no request can do without. The other rules follow
    Google's catalog (a machine type it retires) and must not lock the state of a resource created before."""
    routing = {"project", location_field, "api_endpoint"}
    return [problem for key, problem in problems if key in routing or problem == f"{key} is required"]


class RestInputs:
    """Mixin of a resource's inputs dataclass: its property bag, its parent and where to send requests.

    The dataclass declares `project` and `api_endpoint` fields, names the location field, gives the
    API's own endpoint, and implements `from_props` (validating)."""

    LOCATION_FIELD: ClassVar[str]  # the field that holds the location: "location", "region"
    project: str
    api_endpoint: str | None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    @property
    def default_endpoint(self) -> str:
        raise NotImplementedError

    def to_props(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{getattr(self, self.LOCATION_FIELD)}"

    @property
    def base_url(self) -> str:
        return self.api_endpoint or self.default_endpoint

    def client(self) -> rest.GoogleRestClient:
        """A client for this resource's API; use it as a context manager inside one provider method."""
        return rest.GoogleRestClient(self.base_url, project=self.project)


def get(api: rest.GoogleRestClient, name: str) -> dict[str, Any]:
    return api.get(f"v1/{name}")


def wait_for_state(
    api: rest.GoogleRestClient,
    name: str,
    resource: dict[str, Any],
    states: frozenset[str],
    *,
    key: str,
    deadline_seconds: float,
    description: str,
    policy: rest.PollPolicy,
) -> dict[str, Any]:
    """`resource` once its state field `key` is one of `states`, re-read until then; TimeoutError past the deadline."""
    if resource.get(key) in states:
        return resource
    return rest.poll(
        lambda: get(api, name),
        lambda current: current.get(key) in states,
        deadline_seconds=deadline_seconds,
        description=description,
        policy=policy,
    )


class RestResourceProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for one Google REST resource. Keeps no state: everything comes from the property bags.

    A subclass sets the class attributes below and implements `post`, `find_by_token` and `delete`."""

    inputs_type: ClassVar[type[RestInputs]]
    input_keys: ClassVar[tuple[str, ...]]
    # A change in any of these is another resource (replace); the rest only steer the provider (update).
    replacing_keys: ClassVar[tuple[str, ...]]
    # The prefix of the create token that marks what one create made (so a lost answer can be adopted).
    create_token_prefix: ClassVar[str] = ""
    # (props) -> (property, problem) pairs; unknown (preview) values are skipped. Wrap in staticmethod().
    check_inputs: ClassVar[Callable[[Mapping[str, Any]], Problems]]
    # (props) -> the inputs with defaults filled in and numbers normalised, for diff. Wrap in staticmethod().
    comparable_inputs: ClassVar[Callable[[Mapping[str, Any]], dict[str, Any]]]
    # (inputs, resource as the API has it, create token) -> every output, inputs included. Wrap in staticmethod().
    outputs: ClassVar[Callable[[Any, Mapping[str, Any], str | None], dict[str, Any]]]

    # --- hooks ---

    def post(self, api: rest.GoogleRestClient, inputs: Any, token: str) -> dict[str, Any]:
        """Send the create once (no retries) and return the resource it made."""
        raise NotImplementedError

    def find_by_token(self, api: rest.GoogleRestClient, inputs: Any, token: str) -> dict[str, Any] | None:
        """The resource a create carrying `token` made, if there is one."""
        raise NotImplementedError

    def settle(self, api: rest.GoogleRestClient, inputs: Any, resource: dict[str, Any], token: str) -> dict[str, Any]:
        """After the create: wait as long as the inputs ask, and fail if it ended badly. As accepted by default."""
        return resource

    def outputs_when_gone(self, inputs: Any, olds: dict[str, Any]) -> dict[str, Any] | None:
        """The outputs of a read or update whose resource the API no longer has but whose effect remains (history
        that expired); None: the resource is gone (read) and the update fails."""
        return None

    # --- the provider ---

    def submit(self, api: rest.GoogleRestClient, inputs: Any) -> tuple[dict[str, Any], str]:
        """POST the resource; retry transient failures, but look for it first so a lost answer never makes two."""
        token = f"{self.create_token_prefix}{uuid.uuid4().hex}"
        created = rest.submit_exactly_once(
            lambda: self.post(api, inputs, token), lambda: self.find_by_token(api, inputs, token)
        )
        return created, token

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = [pulumi.dynamic.CheckFailure(key, problem) for key, problem in self.check_inputs(news)]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        inputs = self.inputs_type.from_props(props)
        with inputs.client() as api:
            resource, token = self.submit(api, inputs)
            resource = self.settle(api, inputs, resource, token)
        outputs = self.outputs(inputs, resource, token)
        return pulumi.dynamic.CreateResult(outputs["name"], outputs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = self.inputs_type.from_props(props)
        with inputs.client() as api:
            try:
                resource = get(api, id_)
            except rest.GoogleApiError as error:
                kept = self.outputs_when_gone(inputs, props) if error.is_not_found else None
                if kept is not None:
                    return pulumi.dynamic.ReadResult(id_, kept)
                if error.is_not_found:
                    # Gone (deleted outside Pulumi): an empty id tells the engine so.
                    return pulumi.dynamic.ReadResult("", {})
                raise
        return pulumi.dynamic.ReadResult(id_, self.outputs(inputs, resource, props.get("create_token")))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        before, after = self.comparable_inputs(olds), self.comparable_inputs(news)
        changed = [key for key in self.input_keys if before[key] != after[key]]
        replaces = [key for key in changed if key in self.replacing_keys]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only provider settings changed (diff replaces otherwise): leave the resource alone, record the new
        # inputs and refresh the rest of the outputs.
        inputs = self.inputs_type.from_props(news)
        with inputs.client() as api:
            try:
                resource = get(api, id_)
            except rest.GoogleApiError as error:
                kept = self.outputs_when_gone(inputs, olds) if error.is_not_found else None
                if kept is None:
                    raise
                return pulumi.dynamic.UpdateResult(kept)
        return pulumi.dynamic.UpdateResult(self.outputs(inputs, resource, olds.get("create_token")))
