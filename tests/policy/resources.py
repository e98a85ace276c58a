"""The resources the policy cases change, and how a case runs.

Policies get resources as the engine sends them. A case's base is a rendered resource's inputs
(the camelCase inputs tools.render records under the mocks), a resource of another shape built from
them (an InstanceTemplate from the instance), or, for a type no example declares, the inputs of
the pulumi-gcp `*Args` object that declares it, serialised by the SDK itself (`sdk_inputs`): a key
a policy reads must then be spelt as the engine spells it. A case changes one property: a negative
case must make the policy fire, an allowed case must not.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import guardrail
import pulumi_gcp as gcp
from pulumi.runtime import rpc
from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import unknown_checking_proxy

from policies import POLICIES
from tools.render import Declared, Rendered


def violations(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: dict[str, Any],
    config: dict[str, Any] | None = None,
    name: str = "resource",
) -> list[str]:
    """Run one policy on one resource the way the policy server does; the messages it reports."""
    reported: list[str] = []
    # The server hands policies read-only proxies (lists become Sequences), not plain lists and dicts.
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:test::test::{resource_type}::{name}",
        name,
        None,
        None,
        dict(config or {}),
    )
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


DELETE = object()

PROJECT = "mlops-course-123"
DEFAULT_COMPUTE_SA = "123456789012-compute@developer.gserviceaccount.com"
DEPLOYER_EMAIL = f"deployer-dev@{PROJECT}.iam.gserviceaccount.com"
TRAINER_EMAIL = f"trainer-dev@{PROJECT}.iam.gserviceaccount.com"
A_SERVICE_ACCOUNT = f"serviceAccount:{TRAINER_EMAIL}"
SERVER_EMAIL = f"server-dev@{PROJECT}.iam.gserviceaccount.com"
TRAINER = "europe-west1-docker.pkg.dev/mlops-course-123/mlops/trainer"
SERVER_IMAGE = f"europe-west1-docker.pkg.dev/{PROJECT}/mlops/server@sha256:{'b' * 64}"
PUBSUB_AGENT = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"


def sdk_inputs(args: Any) -> dict[str, Any]:
    """The inputs the engine receives for a resource declared with `args` (a pulumi-gcp `*Args`):
    the SDK's own serialiser translates the Python names (no mocks, no engine involved)."""
    return json.loads(json.dumps(asyncio.run(rpc.serialize_property(args, [], None, None))))


def _layer4() -> list[Any]:
    return [gcp.compute.NetworkFirewallPolicyRuleMatchLayer4ConfigArgs(ip_protocol="tcp", ports=["22"])]


def _cloud_run_v2_service() -> gcp.cloudrunv2.ServiceArgs:
    return gcp.cloudrunv2.ServiceArgs(
        location="europe-west1",
        name="server-dev",
        project=PROJECT,
        labels={"managed-by": "pulumi"},
        template=gcp.cloudrunv2.ServiceTemplateArgs(
            service_account=SERVER_EMAIL,
            containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(image=SERVER_IMAGE)],
        ),
    )


# SDK files: serviceaccount/key.py, storage/hmac_key.py, folder/iam_member.py, organizations/iam_member.py,
# compute/{firewall_policy_rule,network_firewall_policy_rule,region_network_firewall_policy_rule}.py and their
# *_with_rules.py, workbench/instance.py, cloudrunv2/{service,job,worker_pool,service_iam_member}.py,
# cloudrun/{service,iam_member}.py (argument classes in each module's _inputs.py).
FALLBACK_ARGS: dict[str, Callable[[], Any]] = {
    guardrail.SERVICE_ACCOUNT_KEY: lambda: gcp.serviceaccount.KeyArgs(
        service_account_id=f"projects/{PROJECT}/serviceAccounts/{DEPLOYER_EMAIL}"
    ),
    guardrail.HMAC_KEY: lambda: gcp.storage.HmacKeyArgs(service_account_email=TRAINER_EMAIL, project=PROJECT),
    "gcp:folder/iAMMember:IAMMember": lambda: gcp.folder.IAMMemberArgs(
        folder="folders/1234567890", role="roles/logging.viewer", member="group:ml-team@example.com"
    ),
    "gcp:organizations/iAMMember:IAMMember": lambda: gcp.organizations.IAMMemberArgs(
        org_id="123456789", role="roles/logging.viewer", member="group:ml-team@example.com"
    ),
    "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule": (
        lambda: gcp.compute.NetworkFirewallPolicyRuleArgs(
            firewall_policy="mlops-dev",
            priority=1000,
            action="allow",
            direction="INGRESS",
            match=gcp.compute.NetworkFirewallPolicyRuleMatchArgs(
                src_ip_ranges=["35.235.240.0/20"], layer4_configs=_layer4()
            ),
        )
    ),
    "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule": (
        lambda: gcp.compute.RegionNetworkFirewallPolicyRuleArgs(
            firewall_policy="mlops-dev",
            region="europe-west1",
            priority=1000,
            action="allow",
            direction="INGRESS",
            match=gcp.compute.RegionNetworkFirewallPolicyRuleMatchArgs(
                src_ip_ranges=["35.235.240.0/20"],
                layer4_configs=[
                    gcp.compute.RegionNetworkFirewallPolicyRuleMatchLayer4ConfigArgs(ip_protocol="tcp", ports=["22"])
                ],
            ),
        )
    ),
    "gcp:compute/firewallPolicyRule:FirewallPolicyRule": lambda: gcp.compute.FirewallPolicyRuleArgs(
        firewall_policy="locations/global/firewallPolicies/123",
        priority=1000,
        action="allow",
        direction="INGRESS",
        match=gcp.compute.FirewallPolicyRuleMatchArgs(
            src_ip_ranges=["35.235.240.0/20"],
            layer4_configs=[gcp.compute.FirewallPolicyRuleMatchLayer4ConfigArgs(ip_protocol="tcp", ports=["22"])],
        ),
    ),
    "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules": (
        lambda: gcp.compute.NetworkFirewallPolicyWithRulesArgs(
            name="mlops-dev",
            rules=[
                gcp.compute.NetworkFirewallPolicyWithRulesRuleArgs(
                    priority=1000,
                    action="allow",
                    direction="INGRESS",
                    match=gcp.compute.NetworkFirewallPolicyWithRulesRuleMatchArgs(
                        src_ip_ranges=["35.235.240.0/20"],
                        layer4_configs=[
                            gcp.compute.NetworkFirewallPolicyWithRulesRuleMatchLayer4ConfigArgs(ip_protocol="tcp")
                        ],
                    ),
                )
            ],
        )
    ),
    guardrail.WORKBENCH_INSTANCE: lambda: gcp.workbench.InstanceArgs(
        location="europe-west1-b",
        labels={"managed-by": "pulumi"},
        gce_setup=gcp.workbench.InstanceGceSetupArgs(
            disable_public_ip=True,
            service_accounts=[gcp.workbench.InstanceGceSetupServiceAccountArgs(email=TRAINER_EMAIL)],
        ),
    ),
    guardrail.CLOUD_RUN_V2_SERVICE: _cloud_run_v2_service,
    guardrail.CLOUD_RUN_V2_JOB: lambda: gcp.cloudrunv2.JobArgs(
        location="europe-west1",
        labels={"managed-by": "pulumi"},
        template=gcp.cloudrunv2.JobTemplateArgs(
            template=gcp.cloudrunv2.JobTemplateTemplateArgs(
                service_account=SERVER_EMAIL,
                containers=[gcp.cloudrunv2.JobTemplateTemplateContainerArgs(image=SERVER_IMAGE)],
            )
        ),
    ),
    guardrail.CLOUD_RUN_V2_WORKER_POOL: lambda: gcp.cloudrunv2.WorkerPoolArgs(
        location="europe-west1",
        labels={"managed-by": "pulumi"},
        template=gcp.cloudrunv2.WorkerPoolTemplateArgs(
            service_account=SERVER_EMAIL,
            containers=[gcp.cloudrunv2.WorkerPoolTemplateContainerArgs(image=SERVER_IMAGE)],
        ),
    ),
    guardrail.CLOUD_RUN_SERVICE: lambda: gcp.cloudrun.ServiceArgs(
        location="europe-west1",
        template=gcp.cloudrun.ServiceTemplateArgs(
            spec=gcp.cloudrun.ServiceTemplateSpecArgs(
                service_account_name=SERVER_EMAIL,
                containers=[gcp.cloudrun.ServiceTemplateSpecContainerArgs(image=SERVER_IMAGE)],
            )
        ),
    ),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": lambda: gcp.cloudrunv2.ServiceIamMemberArgs(
        name="server-dev", location="europe-west1", project=PROJECT, role="roles/run.invoker", member=A_SERVICE_ACCOUNT
    ),
    "gcp:cloudrun/iamMember:IamMember": lambda: gcp.cloudrun.IamMemberArgs(
        service="server-dev",
        location="europe-west1",
        project=PROJECT,
        role="roles/run.invoker",
        member=A_SERVICE_ACCOUNT,
    ),
}


@dataclass(eq=False)
class Base:
    """A resource a case changes: the inputs of `source` (default: its own type) in `example`
    (default: the first example declaring it, else FALLBACK_ARGS), reshaped by `derive` into
    `type`, and checked under the policy `config`. Unchanged, it passes the policy the case checks."""

    label: str
    type: str
    source: str = ""
    example: str = ""
    derive: Callable[[dict[str, Any]], dict[str, Any]] = lambda inputs: inputs
    config: dict[str, Any] = field(default_factory=dict)


def with_property(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target: Any = inputs
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    key: Any = int(last) if isinstance(target, list) else last
    if value is DELETE:
        target.pop(key) if isinstance(target, list) else target.pop(key, None)
    else:
        target[key] = value
    return inputs


def with_changes(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda inputs: functools.reduce(
        lambda acc, change: with_property(acc, *change),
        ((path.replace("__", "."), value) for path, value in changes.items()),
        inputs,
    )


def as_template(instance: dict[str, Any]) -> dict[str, Any]:
    """An InstanceTemplate declared with an instance's settings (disks instead of bootDisk)."""
    instance_only = {"bootDisk", "zone", "name", "allowStoppingForUpdate", "deletionProtection"}
    template = {key: value for key, value in instance.items() if key not in instance_only}
    disk = instance["bootDisk"]["initializeParams"]
    template["disks"] = [
        {
            "boot": True,
            "autoDelete": True,
            "sourceImage": disk["image"],
            "diskType": disk["type"],
            "diskSizeGb": disk["size"],
        }
    ]
    template["namePrefix"] = f"{instance['name']}-"
    return template


def as_region_template(instance: dict[str, Any]) -> dict[str, Any]:
    return {**as_template(instance), "region": "europe-west1"}


def as_instance_from(source_key: str, source: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An instance made from a template or a machine image, restating the instance's settings."""
    return lambda instance: {
        **{key: value for key, value in instance.items() if key != "bootDisk"},
        source_key: source,
    }


def as_binding(member: dict[str, Any]) -> dict[str, Any]:
    """The IAMBinding (`members`, a list) that grants an IAMMember's role to its member."""
    binding = {key: value for key, value in member.items() if key != "member"}
    binding["members"] = [member["member"]]
    return binding


def policy_data(*bindings: tuple[str, str], condition: dict[str, str] | None = None) -> str:
    """An IAMPolicy's policyData document: one binding for each (role, member)."""
    extra = {"condition": condition} if condition else {}
    return json.dumps({"bindings": [{"role": role, "members": [member], **extra} for role, member in bindings]})


def as_policy(member: dict[str, Any]) -> dict[str, Any]:
    """The IAMPolicy whose document holds an IAMMember's grant (and its condition)."""
    policy = {key: value for key, value in member.items() if key not in ("role", "member", "condition")}
    policy["policyData"] = policy_data((member["role"], member["member"]), condition=member.get("condition"))
    return policy


def bucket_acl(**acl: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A legacy ACL resource on the rendered bucket (the shapes that grant by entity)."""
    return lambda bucket: {"bucket": bucket["name"], **acl}


def custom_resources(rendered: Rendered) -> list[Declared]:
    return sorted((r for r in rendered.resources if r.custom), key=lambda r: r.urn)


def base_inputs(examples: dict[str, Rendered], resource_type: str, example: str = "") -> dict[str, Any]:
    for rendered in [examples[example]] if example else examples.values():
        found = [r for r in custom_resources(rendered) if r.type == resource_type]
        if found:
            return copy.deepcopy(found[0].inputs)
    return sdk_inputs(FALLBACK_ARGS[resource_type]())


# (policy, resource, property path, value): one change to the resource.
Case = tuple[str, Base, str, Any]


def case_id(case: Case) -> str:
    policy_name, base, path, value = case
    shown = "<deleted>" if value is DELETE else repr(value)
    return f"{policy_name} [{base.label}] {path}={shown[:60]}"


def changed(examples: dict[str, Rendered], case: Case) -> list[str]:
    """What the policy reports on the base resource after the one change; the base alone must pass."""
    policy_name, base, path, value = case
    policy = POLICIES[policy_name]
    good = base.derive(base_inputs(examples, base.source or base.type, base.example))
    if policy_name != "no-service-account-keys":  # a key is bad as such
        assert violations(policy, base.type, good, base.config) == [], "the unchanged resource must pass"
    return violations(policy, base.type, with_property(copy.deepcopy(good), path, value), base.config)
