"""Run the real Pulumi program (`__main__.py`) under mocks and record everything it declares.

Used by `tools.snapshot` and by the test suite. `pulumi.runtime.set_mocks` is process-global, so
this is the ONE mocks class and recorder: callers use `render(config)` and read the returned
`Rendered`. Each render runs in its own thread, which gives the Pulumi runtime a fresh root stack
and event loop. Stack-wide resource transforms are applied to each registration as the engine
applies them (the SDK's mock monitor records transforms but does not run them).
"""

from __future__ import annotations

import asyncio
import json
import runpy
import subprocess
import sys
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
from tools.mock_outputs import OUTPUTS, TEST_PROJECT, TEST_PROJECT_NUMBER

ROOT = schema.PROJECT_DIR
PROJECT_NAME = schema.project_name()
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
    outputs: dict[str, Any] = field(default_factory=dict)
    # Former identities (aliases), as the engine gets them: URNs or {name, parentUrn, …} specs.
    aliases: list[Any] = field(default_factory=list)

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
    """Gives each resource type the outputs the real provider would compute from its inputs.

    `missing_images`: image families (or names) the getImage lookup reports as not found, as the
    provider does for a retired family.
    """

    def __init__(self, missing_images: frozenset[str] = frozenset(), image_disk_gb: int = 50):
        self.missing_images = missing_images
        self.image_disk_gb = image_disk_gb

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        project = inputs.get("project", TEST_PROJECT)
        computed = OUTPUTS.get(args.typ, lambda i, p, n: {})(inputs, project, args.name)
        state = {**inputs, **computed}
        return state.get("id") or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "gcp:compute/getImage:getImage":
            wanted = args.args.get("family") or args.args.get("name")
            if wanted in self.missing_images:
                # What the provider raises (hashicorp/terraform-provider-google data_source_google_compute_image.go).
                raise Exception(
                    f"error retrieving image information: googleapi: Error 404: The resource "
                    f"'projects/{args.args.get('project')}/global/images/family/{wanted}' was not found, notFound"
                )
            project, image = args.args.get("project"), f"{wanted}-v20261101"
            return {
                "name": image,
                "family": args.args.get("family", ""),
                "diskSizeGb": self.image_disk_gb,
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/global/images/{image}",
                "status": "READY",
                "id": f"{wanted}-image",
            }
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
                outputs=dict(registration.state) if registration else {},
                aliases=[*request.aliasURNs, *(json_format.MessageToDict(alias) for alias in request.aliases)],
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


def stack_config(
    overrides: dict[str, Any] | None = None, stack_file: str = "Pulumi.dev.yaml", cli_defaults: bool = True
) -> dict[str, str]:
    """The stack file's config plus `gcp:project` plus overrides (bare keys are project keys; None unsets
    one); with `cli_defaults`, every project key the stack does not set at its default, as `pulumi up`
    passes them (stack.schema.cli_config)."""
    config: dict[str, Any] = dict(yaml.safe_load((ROOT / stack_file).read_text()).get("config") or {})
    config.setdefault("gcp:project", TEST_PROJECT)
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{PROJECT_NAME}:{key}"] = value
    namespaced = {key if ":" in key else f"{PROJECT_NAME}:{key}": value for key, value in config.items()}
    given = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in namespaced.items()
        if value is not None
    }
    return schema.cli_config(given, PROJECT_NAME) if cli_defaults else given


def render(
    overrides: dict[str, Any] | None = None,
    stack_name: str = "dev",
    stack_file: str = "Pulumi.dev.yaml",
    preview: bool = False,
    *,
    missing_images: Iterable[str] = (),
    image_disk_gb: int = 50,
    cli_defaults: bool = True,
) -> Rendered:
    """Run `__main__.py` with the dev stack's config (plus overrides) and record what it declares.

    With `cli_defaults` (as `pulumi up` runs it) the program sees every project key, the unset ones at their
    defaults; without, only the keys the stack sets (as the SDK alone passes them).

    Exceptions raised by the program (e.g. `ConfigError`) propagate to the caller.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        stack_mocks = StackMocks(frozenset(missing_images), image_disk_gb)
        monitor = RecordingMonitor(stack_mocks)
        pulumi.runtime.set_all_config(stack_config(overrides, stack_file, cli_defaults))
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


def render_failure(
    overrides: dict[str, Any] | None = None, missing_images: Iterable[str] = (), image_disk_gb: int = 50
) -> str:
    """The error of a program that fails while it runs (inside an output, after resources were declared), or "".

    Such a failure leaves the Pulumi runtime's gRPC machinery of that process unusable for another
    program, so it is rendered in a process of its own.
    """
    script = (
        "import json, sys\n"
        "from tools.render import render\n"
        "try:\n"
        f"    render(json.loads({json.dumps(json.dumps(overrides or {}))}), missing_images={sorted(missing_images)!r},"
        f" image_disk_gb={image_disk_gb})\n"
        "except Exception as error:\n"
        "    print(type(error).__name__ + ': ' + str(error))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return done.stdout.strip()
