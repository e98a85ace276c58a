"""Run the real Pulumi program (`__main__.py`) under mocks and record everything it declares.

Used by `tools.snapshot` and by the test suite. `pulumi.runtime.set_mocks` is process-global, so
this is the ONE mocks class and recorder: callers use `render(config)` and read the returned
`Rendered`. Each render runs in its own thread, which gives the Pulumi runtime a fresh root stack
and event loop. Stack-wide resource transforms are applied to each registration as the engine
applies them (the SDK's mock monitor records transforms but does not run them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings, stack
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key
from pulumi.runtime.sync_await import _sync_await

from stack import schema

ROOT = schema.PROJECT_DIR
PROJECT_NAME = schema.project_name()
TEST_PROJECT = "mlops-course-123"
TEST_PROJECT_NUMBER = "123456789012"
REDACTED = "[secret]"


@dataclass
class Declared:
    """One resource the program registered, with the options the engine would see."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    raw_inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    additional_secret_outputs: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        return {
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": self.ignore_changes,
            "replaceOnChanges": self.replace_on_changes,
            "deleteBeforeReplace": self.delete_before_replace,
        }

    def redacted_inputs(self) -> Any:
        return _redact(self.raw_inputs)


@dataclass
class Rendered:
    resources: list[Declared]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Declared:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)

    def ancestors(self, resource: Declared) -> list[Declared]:
        chain, urn = [], resource.parent
        while urn:
            parent = next((r for r in self.resources if r.urn == urn), None)
            if parent is None:
                break
            chain.append(parent)
            urn = parent.parent
        return chain

    def children(self, parent: Declared) -> list[Declared]:
        return [r for r in self.resources if r.parent == parent.urn]

    def depends_on(self, resource: Declared, other: Declared) -> bool:
        """Whether `resource` waits for `other`: directly, or through an input of `other`'s."""
        return other.urn in resource.dependencies or any(
            other.urn in deps for deps in resource.property_dependencies.values()
        )

    def upstream(self, resource: Declared) -> set[str]:
        """URNs of everything `resource` waits for, directly or through what it waits for."""
        seen: set[str] = set()
        frontier = [resource]
        while frontier:
            current = frontier.pop()
            direct = set(current.dependencies) | {u for urns in current.property_dependencies.values() for u in urns}
            for urn in direct - seen:
                seen.add(urn)
                found = next((r for r in self.resources if r.urn == urn), None)
                if found is not None:
                    frontier.append(found)
        return seen

    def types(self) -> set[str]:
        return {r.type for r in self.resources}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig


def _redact(value: Any) -> Any:
    if _is_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _secret_free(value: Any) -> Any:
    if _is_secret(value):
        return _secret_free(value.get("value"))
    if isinstance(value, dict):
        return {k: _secret_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secret_free(v) for v in value]
    return value


class StackMocks(pulumi.runtime.Mocks):
    """Gives each resource type the outputs the real provider would compute from its inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        project = inputs.get("project", TEST_PROJECT)
        computed = OUTPUTS.get(args.typ, lambda i, p, n: {})(inputs, project, args.name)
        state = {**inputs, **computed}
        return state.get("id") or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {
                "accessToken": "ya29.test-access-token",
                "project": TEST_PROJECT,
                "region": "europe-west1",
                "id": "client-config",
            }
        if args.token == "gcp:organizations/getProject:getProject":
            return {
                "projectId": args.args.get("projectId", TEST_PROJECT),
                "number": TEST_PROJECT_NUMBER,
                "id": f"projects/{TEST_PROJECT}",
            }
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            return {
                "emailAddress": f"service-{TEST_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
                "member": f"serviceAccount:service-{TEST_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
                "id": "gcs-agent",
            }
        raise NotImplementedError(f"the test mocks do not know the invoke {args.token}")


def _account(inputs: dict, project: str, name: str) -> dict:
    email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": str(int(hashlib.sha256(email.encode()).hexdigest()[:12], 16)),
    }


def _custom_job(inputs: dict, project: str, name: str) -> dict:
    """What the provider's create returns for a job Vertex AI accepted (computed by the provider's code)."""
    from providers.vertex_job import JobInputs, job_outputs

    job_inputs = JobInputs.from_props({k: v for k, v in inputs.items() if k != "__provider"})
    job = {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/{job_inputs.region}/customJobs/4242",
        "state": "JOB_STATE_PENDING",
        "createTime": "2026-11-28T12:00:00Z",
    }
    return {**job_outputs(job_inputs, job, "create-token"), "id": job["name"]}


def _agent_email(service: str) -> str:
    return f"service-{TEST_PROJECT_NUMBER}@gcp-sa-{service.split('.')[0]}.iam.gserviceaccount.com"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


OUTPUTS = {
    "pulumi-python:dynamic/vertex:CustomJob": _custom_job,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:storage/bucket:Bucket": lambda i, p, n: {
        "url": f"gs://{i['name']}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{i['name']}",
    },
    "gcp:artifactregistry/repository:Repository": lambda i, p, n: {
        "name": i.get("repositoryId"),
        "id": f"projects/{p}/locations/{i.get('location')}/repositories/{i.get('repositoryId')}",
    },
    "docker:index/image:Image": lambda i, p, n: {
        "repoDigest": f"{i['imageName'].rsplit(':', 1)[0]}@{_digest(i['imageName'])}",
        "baseImageName": i["imageName"],
    },
    "gcp:compute/instance:Instance": lambda i, p, n: {
        "networkInterfaces": [{**(i.get("networkInterfaces") or [{}])[0], "networkIp": "10.10.0.2"}],
        "instanceId": "1234567890",
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{p}/zones/{i.get('zone')}/instances/{i.get('name')}",
    },
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": lambda i, p, n: {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{i['workloadIdentityPoolId']}"
    },
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": lambda i, p, n: {
        "name": f"projects/{TEST_PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
        f"{i['workloadIdentityPoolId']}/providers/{i['workloadIdentityPoolProviderId']}"
    },
    "gcp:kms/keyRing:KeyRing": lambda i, p, n: {"id": f"projects/{p}/locations/{i['location']}/keyRings/{i['name']}"},
    "gcp:kms/cryptoKey:CryptoKey": lambda i, p, n: {"id": f"{i['keyRing']}/cryptoKeys/{i['name']}"},
    "gcp:projects/serviceIdentity:ServiceIdentity": lambda i, p, n: {
        "email": _agent_email(i["service"]),
        "member": f"serviceAccount:{_agent_email(i['service'])}",
    },
}


class RecordingMonitor(mocks.MockMonitor):
    """Records what `new_resource` cannot see: parent, dependencies and resource options."""

    def __init__(self, stack_mocks: StackMocks):
        super().__init__(stack_mocks)
        self.declared: list[Declared] = []

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self._apply_stack_transforms(request)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        registration = self.resources.get(response.urn)
        self.declared.append(
            Declared(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=request.custom,
                inputs=_secret_free(raw),
                raw_inputs=raw,
                parent=request.parent,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                provider=request.provider,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                outputs=dict(registration.state) if registration else {},
            )
        )
        return response

    def _apply_stack_transforms(self, request) -> None:
        """What the engine does before registering: each stack transform may replace the properties."""
        props = rpc.deserialize_properties(request.object)
        changed = False
        for transform in self.get_registered_transforms():
            args = pulumi.ResourceTransformArgs(
                request.custom, request.type, request.name, props, pulumi.ResourceOptions()
            )
            result = transform(args)
            if result is not None:
                props, changed = result.props, True
        if changed:
            request.object.CopyFrom(_sync_await(rpc.serialize_properties(props, {})))


def stack_config(overrides: dict[str, Any] | None = None, stack_file: str = "Pulumi.dev.yaml") -> dict[str, str]:
    """The stack file's config plus `gcp:project` plus overrides; bare keys are project keys."""
    config: dict[str, Any] = dict(yaml.safe_load((ROOT / stack_file).read_text()).get("config") or {})
    config.setdefault("gcp:project", TEST_PROJECT)
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{PROJECT_NAME}:{key}"] = value
    namespaced = {key if ":" in key else f"{PROJECT_NAME}:{key}": value for key, value in config.items()}
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in namespaced.items()
        if value is not None
    }


def render(
    overrides: dict[str, Any] | None = None,
    stack_name: str = "dev",
    stack_file: str = "Pulumi.dev.yaml",
    preview: bool = False,
) -> Rendered:
    """Run `__main__.py` with the dev stack's config (plus overrides) and record what it declares.

    Exceptions raised by the program (e.g. `ConfigError`) propagate to the caller.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        stack_mocks = StackMocks()
        monitor = RecordingMonitor(stack_mocks)
        pulumi.runtime.set_all_config(stack_config(overrides, stack_file))
        pulumi.runtime.set_mocks(stack_mocks, PROJECT_NAME, stack_name, preview=preview, monitor=monitor)
        settings.set_root_resource(None)
        holder: dict[str, Any] = {}

        def program() -> None:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
            holder["stack"] = settings.get_root_resource()

        try:
            _sync_await(stack.run_in_stack(program))
            root = holder["stack"]
            outputs = {
                name: _sync_await(pulumi.Output.from_input(value).future()) for name, value in root.outputs.items()
            }
            result["rendered"] = Rendered(monitor.declared, outputs)
        except BaseException as error:  # re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=run, name="pulumi-program")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["rendered"]


def all_of(rendered: Rendered, types: Iterable[str]) -> list[Declared]:
    wanted = set(types)
    return [r for r in rendered.resources if r.type in wanted]
