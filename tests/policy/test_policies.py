"""The policy pack as a whole: the declared stack passes every policy, the committed settings are
the defaults, the types the pack names exist, and the pack serves its policies to the engine.
The per-policy cases are in test_cases.py."""

from __future__ import annotations

import copy
import importlib
import json
import os
import subprocess
import sys

import guardrail
import pack_config
import pytest
from google.protobuf import json_format, struct_pb2

import policies
from policies import POLICIES
from stack import iam
from tests.policy.resources import DELETE, custom_resources, violations, with_property
from tools.render import ROOT, render
from tools.snapshot import EXAMPLES


def test_the_pack_holds_mandatory_policies_with_unique_names():
    assert len(POLICIES) == len(policies.GUARDRAILS) >= 26
    assert all(p.enforcement_level.value == "mandatory" for p in POLICIES.values())


def policy_config(overrides: dict) -> dict:
    """The pack settings an example needs: what its stack configuration opens, the pack must allow."""
    return {
        "allowExternalIp": bool(overrides.get("vmExternalIp")),
        "allowPublicServing": bool(overrides.get("servingPublic")),
    }


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_declared_stack_passes_every_policy(examples, example):
    config = policy_config(EXAMPLES[example])
    found = {
        f"{policy_name} on {resource.urn}": problems
        for resource in custom_resources(examples[example])
        for policy_name, policy in POLICIES.items()
        if (problems := violations(policy, resource.type, resource.inputs, config, name=resource.name))
    }
    assert found == {}


def test_a_public_ip_needs_the_policy_config_too():
    rendered = render({"vmExternalIp": True})
    (instance,) = rendered.of_type("gcp:compute/instance:Instance")
    policy = POLICIES["vm-no-external-ip"]
    assert violations(policy, instance.type, instance.inputs)
    assert violations(policy, instance.type, instance.inputs, {"allowExternalIp": True}) == []


def test_public_serving_needs_the_policy_config_too():
    rendered = render({"servingPublic": True})
    (invoker,) = rendered.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert invoker.inputs["member"] == "allUsers"
    policy = POLICIES["cloudrun-public-serving"]
    assert violations(policy, invoker.type, invoker.inputs)
    assert violations(policy, invoker.type, invoker.inputs, {"allowPublicServing": True}) == []
    assert violations(POLICIES["no-public-members"], invoker.type, invoker.inputs) == []


def test_gpu_vms_may_skip_secure_boot_only_while_the_config_exempts_them(examples):
    (instance,) = examples["dev-full"].of_type("gcp:compute/instance:Instance")
    assert instance.inputs["guestAccelerators"], "dev-full declares a GPU workstation"
    policy = POLICIES["vm-shielded"]
    no_secure_boot = with_property(copy.deepcopy(instance.inputs), "shieldedInstanceConfig.enableSecureBoot", False)
    assert violations(policy, instance.type, no_secure_boot) == []
    assert violations(policy, instance.type, no_secure_boot, {"secureBootExemptForGpus": False})
    cpu_only = with_property(copy.deepcopy(no_secure_boot), "guestAccelerators", DELETE)
    assert violations(policy, instance.type, cpu_only)


def test_the_committed_policy_config_states_every_setting_at_its_default():
    config = json.loads((ROOT / "policy" / "config.json").read_text())
    schemas = {g.name: g.config_schema.properties for g in policies.GUARDRAILS if g.config_schema is not None}
    assert config == {
        name: {key: setting["default"] for key, setting in properties.items()} for name, properties in schemas.items()
    }
    assert config["vm-no-external-ip"]["allowExternalIp"] is False
    assert config["cloudrun-public-serving"]["allowPublicServing"] is False
    assert sorted(key for properties in schemas.values() for key in properties) == sorted(pack_config.SETTINGS)


def test_every_type_the_pack_names_exists_in_pulumi_gcp():
    named = {
        value
        for constant in vars(guardrail).values()
        for value in ([constant] if isinstance(constant, str) else constant if isinstance(constant, frozenset) else [])
        if isinstance(value, str) and value.startswith("gcp:")
    }
    assert len(named) > 40
    for token in sorted(named):
        module, class_name = token.split(":")[1].split("/")[0], token.split(":")[2]
        resource = getattr(importlib.import_module(f"pulumi_gcp.{module}"), class_name, None)
        assert resource is not None and resource.pulumi_type == token, f"{token} is not a pulumi-gcp resource"


def test_role_rules_match_the_programs_own_refusals():
    assert guardrail.BASIC_ROLES == iam.BASIC_ROLES
    assert guardrail.IMPERSONATION_ROLES == iam.IMPERSONATION_ROLES
    assert guardrail.BROAD_IMPERSONATION_ROLES >= iam.IMPERSONATION_ROLES


def test_every_labelable_type_the_stack_declares_is_known_to_the_labels_policy(examples):
    declared = {r.type for rendered in examples.values() for r in rendered.resources if "labels" in r.inputs}
    assert declared - guardrail.LABELABLE_TYPES == set(), "add these types to policy/guardrail.py LABELABLE_TYPES"


def test_an_iam_policy_document_is_read_too():
    document = json.dumps(
        {
            "bindings": [
                {"role": "roles/owner", "members": ["user:a@example.com"]},
                {"role": "roles/viewer", "members": ["allUsers"]},
            ]
        }
    )
    props = {"project": "mlops-course-123", "policyData": document}
    assert violations(POLICIES["no-basic-or-admin-project-roles"], "gcp:projects/iAMPolicy:IAMPolicy", props)
    assert violations(POLICIES["no-public-members"], "gcp:projects/iAMPolicy:IAMPolicy", props)


def test_the_pack_serves_its_policies_to_the_engine():
    """Start `policy/__main__.py` as the CLI does and ask it over gRPC, engine-style."""
    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    server = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": ""},
    )
    try:
        port = int(server.stdout.readline().decode().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == policies.PACK_NAME
            assert {p.name for p in info.policies} == set(POLICIES)
            bucket = struct_pb2.Struct()
            json_format.ParseDict(
                {
                    "name": "b",
                    "uniformBucketLevelAccess": False,
                    "publicAccessPrevention": "enforced",
                    "versioning": {"enabled": True},
                    "labels": {"managed-by": "pulumi"},
                },
                bucket,
            )
            response = analyzer.Analyze(
                analyzer_pb2.AnalyzeRequest(
                    type=guardrail.BUCKET,
                    properties=bucket,
                    urn="urn:pulumi:dev::p::gcp:storage/bucket:Bucket::b",
                    name="b",
                ),
                timeout=30,
            )
            assert [d.policyName for d in response.diagnostics] == ["bucket-uniform-access"]
    finally:
        server.kill()
        server.wait(timeout=10)
