"""Each type the pack checks and no example declares, declared the way a program would (a pulumi-gcp
`*Args` object, serialised by the SDK into engine names): a bad one is stopped. A policy reading a
misspelt key would let these through, which the hand-written cases could not show."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import guardrail
import pulumi_gcp as gcp
import pytest

from policies import POLICIES
from tests.policy.resources import (
    A_SERVICE_ACCOUNT,
    DEPLOYER_EMAIL,
    FALLBACK_ARGS,
    PROJECT,
    SERVER_IMAGE,
    TRAINER_EMAIL,
    custom_resources,
    sdk_inputs,
    violations,
)

WORLD_HALVES = ["0.0.0.0/1", "128.0.0.0/1"]
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
ACCOUNT_ID = f"projects/{PROJECT}/serviceAccounts/{TRAINER_EMAIL}"
RUN_PUBLIC = json.dumps({"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]})
c = gcp.compute


# (policy, type, the bad resource's Args): SDK modules as named in resources.FALLBACK_ARGS, plus
# compute/{instance_template,region_instance_template,instance_from_template,instance_from_machine_image}.py,
# projects/, folder/, organizations/, serviceaccount/ and storage/ iam_{binding,policy}.py.
BAD: list[tuple[str, str, Callable[[], Any]]] = [
    ("no-service-account-keys", guardrail.SERVICE_ACCOUNT_KEY, FALLBACK_ARGS[guardrail.SERVICE_ACCOUNT_KEY]),
    ("no-service-account-keys", guardrail.HMAC_KEY, FALLBACK_ARGS[guardrail.HMAC_KEY]),
    *(
        (
            "no-basic-or-admin-project-roles",
            token,
            lambda args=args, where=where: args(**where, role="roles/owner", members=["group:ml@example.com"]),
        )
        for token, args, where in (
            ("gcp:projects/iAMBinding:IAMBinding", gcp.projects.IAMBindingArgs, {"project": PROJECT}),
            ("gcp:folder/iAMBinding:IAMBinding", gcp.folder.IAMBindingArgs, {"folder": "folders/1"}),
            ("gcp:organizations/iAMBinding:IAMBinding", gcp.organizations.IAMBindingArgs, {"org_id": "1"}),
        )
    ),
    *(
        (
            "no-project-impersonation-roles",
            token,
            lambda args=args, where=where: args(**where, role=TOKEN_CREATOR, member=A_SERVICE_ACCOUNT),
        )
        for token, args, where in (
            ("gcp:folder/iAMMember:IAMMember", gcp.folder.IAMMemberArgs, {"folder": "folders/1"}),
            ("gcp:organizations/iAMMember:IAMMember", gcp.organizations.IAMMemberArgs, {"org_id": "1"}),
        )
    ),
    *(
        (
            "no-public-members",
            token,
            lambda args=args, where=where: args(
                **where, policy_data=json.dumps({"bindings": [{"role": "roles/viewer", "members": ["allUsers"]}]})
            ),
        )
        for token, args, where in (
            ("gcp:projects/iAMPolicy:IAMPolicy", gcp.projects.IAMPolicyArgs, {"project": PROJECT}),
            ("gcp:folder/iAMPolicy:IAMPolicy", gcp.folder.IAMPolicyArgs, {"folder": "folders/1"}),
            ("gcp:organizations/iAMPolicy:IAMPolicy", gcp.organizations.IAMPolicyArgs, {"org_id": "1"}),
        )
    ),
    (
        "no-token-creator-on-service-accounts",
        "gcp:serviceaccount/iAMBinding:IAMBinding",
        lambda: gcp.serviceaccount.IAMBindingArgs(
            service_account_id=ACCOUNT_ID, role=TOKEN_CREATOR, members=[f"serviceAccount:{DEPLOYER_EMAIL}"]
        ),
    ),
    (
        "no-token-creator-on-service-accounts",
        "gcp:serviceaccount/iAMPolicy:IAMPolicy",
        lambda: gcp.serviceaccount.IAMPolicyArgs(
            service_account_id=ACCOUNT_ID,
            policy_data=json.dumps({"bindings": [{"role": TOKEN_CREATOR, "members": ["user:a@example.com"]}]}),
        ),
    ),
    (
        "bucket-writes-prefix-conditioned",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        lambda: gcp.storage.BucketIAMBindingArgs(
            bucket="b", role="roles/storage.objectUser", members=[A_SERVICE_ACCOUNT]
        ),
    ),
    (
        "bucket-writes-prefix-conditioned",
        "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
        lambda: gcp.storage.BucketIAMPolicyArgs(
            bucket="b",
            policy_data=json.dumps({"bindings": [{"role": "roles/storage.admin", "members": [A_SERVICE_ACCOUNT]}]}),
        ),
    ),
    (
        "firewall-no-world-ingress",
        "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule",
        lambda: c.NetworkFirewallPolicyRuleArgs(
            firewall_policy="p",
            priority=1,
            action="allow",
            direction="INGRESS",
            match=c.NetworkFirewallPolicyRuleMatchArgs(src_ip_ranges=WORLD_HALVES, layer4_configs=[]),
        ),
    ),
    (
        "firewall-no-world-ingress",
        "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule",
        lambda: c.RegionNetworkFirewallPolicyRuleArgs(
            firewall_policy="p",
            priority=1,
            action="allow",
            direction="INGRESS",
            match=c.RegionNetworkFirewallPolicyRuleMatchArgs(src_ip_ranges=WORLD_HALVES, layer4_configs=[]),
        ),
    ),
    (
        "firewall-no-world-ingress",
        "gcp:compute/firewallPolicyRule:FirewallPolicyRule",
        lambda: c.FirewallPolicyRuleArgs(
            firewall_policy="p",
            priority=1,
            action="allow",
            direction="INGRESS",
            match=c.FirewallPolicyRuleMatchArgs(src_ip_ranges=WORLD_HALVES, layer4_configs=[]),
        ),
    ),
    *(
        (
            "firewall-no-world-ingress",
            token,
            lambda args=args, rule=rule, match=match, where=where: args(
                **where,
                rules=[
                    rule(
                        priority=1,
                        action="allow",
                        direction="INGRESS",
                        match=match(src_ip_ranges=WORLD_HALVES, layer4_configs=[]),
                    )
                ],
            ),
        )
        for token, args, rule, match, where in (
            (
                "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules",
                c.NetworkFirewallPolicyWithRulesArgs,
                c.NetworkFirewallPolicyWithRulesRuleArgs,
                c.NetworkFirewallPolicyWithRulesRuleMatchArgs,
                {},
            ),
            (
                "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules",
                c.RegionNetworkFirewallPolicyWithRulesArgs,
                c.RegionNetworkFirewallPolicyWithRulesRuleArgs,
                c.RegionNetworkFirewallPolicyWithRulesRuleMatchArgs,
                {},
            ),
            (
                "gcp:compute/firewallPolicyWithRules:FirewallPolicyWithRules",
                c.FirewallPolicyWithRulesArgs,
                c.FirewallPolicyWithRulesRuleArgs,
                c.FirewallPolicyWithRulesRuleMatchArgs,
                {"parent": "organizations/1", "short_name": "p"},
            ),
        )
    ),
    (
        "vm-no-external-ip",
        guardrail.INSTANCE_TEMPLATE,
        lambda: c.InstanceTemplateArgs(
            machine_type="n1-standard-4",
            disks=[],
            network_interfaces=[
                c.InstanceTemplateNetworkInterfaceArgs(
                    access_configs=[c.InstanceTemplateNetworkInterfaceAccessConfigArgs()]
                )
            ],
        ),
    ),
    (
        "vm-no-external-ip",
        guardrail.REGION_INSTANCE_TEMPLATE,
        lambda: c.RegionInstanceTemplateArgs(
            machine_type="n1-standard-4",
            disks=[],
            network_interfaces=[
                c.RegionInstanceTemplateNetworkInterfaceArgs(
                    ipv6_access_configs=[
                        c.RegionInstanceTemplateNetworkInterfaceIpv6AccessConfigArgs(network_tier="PREMIUM")
                    ]
                )
            ],
        ),
    ),
    (
        "vm-os-login",
        "gcp:compute/instanceFromTemplate:InstanceFromTemplate",
        lambda: c.InstanceFromTemplateArgs(source_instance_template="t", metadata={"enable-oslogin": "FALSE"}),
    ),
    (
        "vm-shielded",
        "gcp:compute/instanceFromMachineImage:InstanceFromMachineImage",
        lambda: c.InstanceFromMachineImageArgs(
            source_machine_image="m",
            shielded_instance_config=c.InstanceFromMachineImageShieldedInstanceConfigArgs(enable_vtpm=False),
        ),
    ),
    (
        "vm-no-external-ip",
        guardrail.WORKBENCH_INSTANCE,
        lambda: gcp.workbench.InstanceArgs(
            location="l", gce_setup=gcp.workbench.InstanceGceSetupArgs(disable_public_ip=False)
        ),
    ),
    (
        "no-workload-as-ci-identity",
        guardrail.WORKBENCH_INSTANCE,
        lambda: gcp.workbench.InstanceArgs(
            location="l",
            gce_setup=gcp.workbench.InstanceGceSetupArgs(
                disable_public_ip=True,
                service_accounts=[gcp.workbench.InstanceGceSetupServiceAccountArgs(email=DEPLOYER_EMAIL)],
            ),
        ),
    ),
    (
        "no-workload-as-ci-identity",
        guardrail.CLOUD_RUN_V2_SERVICE,
        lambda: gcp.cloudrunv2.ServiceArgs(
            location="l",
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                service_account=DEPLOYER_EMAIL,
                containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(image=SERVER_IMAGE)],
            ),
        ),
    ),
    (
        "cloudrun-public-serving",
        guardrail.CLOUD_RUN_V2_SERVICE,
        lambda: gcp.cloudrunv2.ServiceArgs(
            location="l", invoker_iam_disabled=True, template=gcp.cloudrunv2.ServiceTemplateArgs()
        ),
    ),
    (
        "cloudrun-image-digest",
        guardrail.CLOUD_RUN_V2_JOB,
        lambda: gcp.cloudrunv2.JobArgs(
            location="l",
            template=gcp.cloudrunv2.JobTemplateArgs(
                template=gcp.cloudrunv2.JobTemplateTemplateArgs(
                    containers=[gcp.cloudrunv2.JobTemplateTemplateContainerArgs(image="server:latest")]
                )
            ),
        ),
    ),
    (
        "cloudrun-dedicated-service-account",
        guardrail.CLOUD_RUN_V2_WORKER_POOL,
        lambda: gcp.cloudrunv2.WorkerPoolArgs(
            location="l",
            template=gcp.cloudrunv2.WorkerPoolTemplateArgs(
                containers=[gcp.cloudrunv2.WorkerPoolTemplateContainerArgs(image=SERVER_IMAGE)]
            ),
        ),
    ),
    (
        "no-workload-as-ci-identity",
        guardrail.CLOUD_RUN_SERVICE,
        lambda: gcp.cloudrun.ServiceArgs(
            location="l",
            template=gcp.cloudrun.ServiceTemplateArgs(
                spec=gcp.cloudrun.ServiceTemplateSpecArgs(
                    service_account_name=DEPLOYER_EMAIL,
                    containers=[gcp.cloudrun.ServiceTemplateSpecContainerArgs(image=SERVER_IMAGE)],
                )
            ),
        ),
    ),
    (
        "cloudrun-public-serving",
        guardrail.CLOUD_RUN_SERVICE,
        lambda: gcp.cloudrun.ServiceArgs(
            location="l",
            metadata=gcp.cloudrun.ServiceMetadataArgs(annotations={"run.googleapis.com/invoker-iam-disabled": "true"}),
        ),
    ),
    *(
        ("cloudrun-public-serving", token, args)
        for token, args in (
            (
                "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
                lambda: gcp.cloudrunv2.ServiceIamMemberArgs(name="s", role="roles/run.invoker", member="allUsers"),
            ),
            (
                "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
                lambda: gcp.cloudrunv2.ServiceIamBindingArgs(name="s", role="roles/run.invoker", members=["allUsers"]),
            ),
            (
                "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
                lambda: gcp.cloudrunv2.ServiceIamPolicyArgs(name="s", policy_data=RUN_PUBLIC),
            ),
            (
                "gcp:cloudrun/iamMember:IamMember",
                lambda: gcp.cloudrun.IamMemberArgs(
                    service="s", role="roles/run.invoker", member="allAuthenticatedUsers"
                ),
            ),
            (
                "gcp:cloudrun/iamBinding:IamBinding",
                lambda: gcp.cloudrun.IamBindingArgs(service="s", role="roles/run.invoker", members=["allUsers"]),
            ),
            (
                "gcp:cloudrun/iamPolicy:IamPolicy",
                lambda: gcp.cloudrun.IamPolicyArgs(service="s", policy_data=RUN_PUBLIC),
            ),
        )
    ),
]


@pytest.mark.parametrize("policy_name, resource_type, bad", BAD, ids=[f"{p} [{t}]" for p, t, _ in BAD])
def test_a_bad_resource_declared_through_the_sdk_is_stopped(policy_name, resource_type, bad):
    assert violations(POLICIES[policy_name], resource_type, sdk_inputs(bad()))


def test_every_type_the_pack_checks_is_rendered_or_declared_here(examples):
    checked = (
        {guardrail.SERVICE_ACCOUNT_KEY, guardrail.HMAC_KEY, guardrail.FIREWALL, guardrail.WORKBENCH_INSTANCE}
        | guardrail.HIERARCHY_IAM
        | guardrail.SERVICE_ACCOUNT_IAM
        | guardrail.BUCKET_IAM
        | guardrail.CLOUD_RUN_SERVICE_IAM
        | guardrail.VM_TYPES
        | guardrail.FIREWALL_POLICY_RULES
        | guardrail.FIREWALL_POLICIES_WITH_RULES
        | guardrail.CLOUD_RUN_TYPES
    )
    rendered = {r.type for rendered in examples.values() for r in custom_resources(rendered)}
    assert checked - rendered - {resource_type for _, resource_type, _ in BAD} == set()
