"""The policy pack: the declared stack passes every policy, and each policy stops a bad resource.

Policies get resources as the engine sends them: the camelCase inputs the harness records under
the mocks. Each negative case copies a rendered resource's inputs and breaks one property.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2

from components import iam
from policy import policies
from policy.policies import POLICIES, violations
from tests.harness import ROOT, Rendered, render
from tools.snapshot import EXAMPLES

DELETE = object()
IMAGE = "europe-west1-docker.pkg.dev/mlops-course-123/mlops/trainer@sha256:" + "a" * 64

# Inputs for types no example declares (yet): the shape their components send.
FALLBACK_INPUTS: dict[str, dict[str, Any]] = {
    policies.SERVICE_ACCOUNT_KEY: {
        "serviceAccountId": "projects/mlops-course-123/serviceAccounts/deployer-dev@mlops-course-123.iam.gserviceaccount.com",
    },
    policies.VERTEX_CUSTOM_JOB: {
        "project": "mlops-course-123",
        "region": "europe-west1",
        "display_name": "trainer-dev",
        "labels": {"managed-by": "pulumi", "stack": "dev"},
        "job_spec": {
            "serviceAccount": "trainer-dev@mlops-course-123.iam.gserviceaccount.com",
            "workerPoolSpecs": [{
                "machineSpec": {"machineType": "n1-standard-4"},
                "replicaCount": "1",
                "containerSpec": {"imageUri": IMAGE, "args": ["--num-epochs", "10"]},
            }],
        },
    },
}

# (policy, resource type, property path, bad value): the one property that makes the policy fire.
NEGATIVE_CASES = [
    ("no-service-account-keys", policies.SERVICE_ACCOUNT_KEY, "keyAlgorithm", "KEY_ALG_RSA_2048"),
    ("no-basic-or-admin-project-roles", "gcp:projects/iAMMember:IAMMember", "role", "roles/editor"),
    ("no-basic-or-admin-project-roles", "gcp:projects/iAMMember:IAMMember", "role", "roles/storage.admin"),
    ("no-project-impersonation-roles", "gcp:projects/iAMMember:IAMMember", "role", "roles/iam.serviceAccountTokenCreator"),
    ("no-public-members", "gcp:storage/bucketIAMMember:BucketIAMMember", "member", "allUsers"),
    ("no-public-members", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "member", "allAuthenticatedUsers"),
    ("bucket-uniform-access", policies.BUCKET, "uniformBucketLevelAccess", False),
    ("bucket-public-access-prevention", policies.BUCKET, "publicAccessPrevention", "inherited"),
    ("bucket-versioning", policies.BUCKET, "versioning.enabled", False),
    ("vm-shielded", "gcp:compute/instance:Instance", "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-shielded", "gcp:compute/instance:Instance", "shieldedInstanceConfig.enableVtpm", False),
    ("vm-os-login", "gcp:compute/instance:Instance", "metadata.enable-oslogin", "FALSE"),
    ("vm-block-project-ssh-keys", "gcp:compute/instance:Instance", "metadata.block-project-ssh-keys", DELETE),
    ("vm-no-serial-port", "gcp:compute/instance:Instance", "metadata.serial-port-enable", "TRUE"),
    ("vm-no-ip-forwarding", "gcp:compute/instance:Instance", "canIpForward", True),
    ("vm-dedicated-service-account", "gcp:compute/instance:Instance", "serviceAccount.email",
     "123456789012-compute@developer.gserviceaccount.com"),
    ("vm-no-external-ip", "gcp:compute/instance:Instance", "networkInterfaces.0.accessConfigs", [{}]),
    ("firewall-no-world-ingress", policies.FIREWALL, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", policies.FIREWALL, "sourceRanges", DELETE),
    ("workload-identity-provider-condition", policies.WORKLOAD_IDENTITY_PROVIDER, "attributeCondition", DELETE),
    ("workload-identity-provider-condition", policies.WORKLOAD_IDENTITY_PROVIDER, "attributeCondition",
     "assertion.repository_owner == 'octo-org'"),
    ("labels-required", policies.BUCKET, "labels", DELETE),
    ("labels-required", "gcp:compute/instance:Instance", "labels.managed-by", DELETE),
    ("vertex-job-dedicated-service-account", policies.VERTEX_CUSTOM_JOB, "job_spec.serviceAccount", DELETE),
    ("vertex-job-image-digest", policies.VERTEX_CUSTOM_JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri",
     "europe-west1-docker.pkg.dev/mlops-course-123/mlops/trainer:latest"),
]


@pytest.fixture(scope="module")
def examples() -> dict[str, Rendered]:
    return {name: render(overrides) for name, overrides in EXAMPLES.items()}


def custom_resources(rendered: Rendered):
    return sorted((r for r in rendered.resources if r.custom), key=lambda r: r.urn)


def base_inputs(examples: dict[str, Rendered], resource_type: str) -> dict[str, Any]:
    for rendered in examples.values():
        found = [r for r in custom_resources(rendered) if r.type == resource_type]
        if found:
            return copy.deepcopy(found[0].inputs)
    return copy.deepcopy(FALLBACK_INPUTS[resource_type])


def with_property(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target: Any = inputs
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if value is DELETE:
        target.pop(last, None)
    else:
        target[last] = value
    return inputs


def test_the_pack_holds_mandatory_policies_with_unique_names():
    assert len(POLICIES) == len(policies.GUARDRAILS) >= 19
    assert all(p.enforcement_level.value == "mandatory" for p in POLICIES.values())
    assert {case[0] for case in NEGATIVE_CASES} == set(POLICIES), "every policy needs a negative case"


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_declared_stack_passes_every_policy(examples, example):
    found = {
        f"{policy_name} on {resource.urn}": problems
        for resource in custom_resources(examples[example])
        for policy_name, policy in POLICIES.items()
        if (problems := violations(policy, resource.type, resource.inputs, name=resource.name))
    }
    assert found == {}


@pytest.mark.parametrize("policy_name, resource_type, path, value", NEGATIVE_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in NEGATIVE_CASES])
def test_each_policy_stops_a_bad_resource(examples, policy_name, resource_type, path, value):
    policy = POLICIES[policy_name]
    good = base_inputs(examples, resource_type)
    if policy_name != "no-service-account-keys":  # a key is bad as such
        assert violations(policy, resource_type, good) == [], "the unchanged resource must pass"
    bad = with_property(copy.deepcopy(good), path, value)
    assert violations(policy, resource_type, bad), f"{policy_name} let {path}={value!r} through"


def test_a_public_ip_needs_the_policy_config_too():
    rendered = render({"vmExternalIp": True})
    (instance,) = rendered.of_type("gcp:compute/instance:Instance")
    policy = POLICIES["vm-no-external-ip"]
    assert violations(policy, instance.type, instance.inputs)
    assert violations(policy, instance.type, instance.inputs, {"allowExternalIp": True}) == []


def test_gpu_vms_may_skip_secure_boot_only_while_the_config_exempts_them(examples):
    (instance,) = examples["dev-full"].of_type("gcp:compute/instance:Instance")
    assert instance.inputs["guestAccelerators"], "dev-full declares a GPU workstation"
    policy = POLICIES["vm-shielded"]
    no_secure_boot = with_property(copy.deepcopy(instance.inputs), "shieldedInstanceConfig.enableSecureBoot", False)
    assert violations(policy, instance.type, no_secure_boot) == []
    assert violations(policy, instance.type, no_secure_boot, {"secureBootExemptForGpus": False})
    cpu_only = with_property(copy.deepcopy(no_secure_boot), "guestAccelerators", DELETE)
    assert violations(policy, instance.type, cpu_only)


def test_the_committed_policy_config_names_real_policies_and_allows_no_public_ip():
    config = json.loads((ROOT / "policy" / "config.json").read_text())
    assert set(config) <= set(POLICIES)
    assert config["vm-no-external-ip"]["allowExternalIp"] is False


def test_role_rules_match_the_programs_own_refusals():
    assert policies.BASIC_ROLES == iam.BASIC_ROLES
    assert policies.IMPERSONATION_ROLES == iam.IMPERSONATION_ROLES


def test_every_labelable_type_the_stack_declares_is_known_to_the_labels_policy(examples):
    declared = {r.type for rendered in examples.values() for r in rendered.resources if "labels" in r.inputs}
    assert declared - policies.LABELABLE_TYPES == set(), "add these types to policy/policies.py LABELABLE_TYPES"


def test_an_iam_policy_document_is_read_too():
    document = json.dumps({"bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]},
                                        {"role": "roles/viewer", "members": ["allUsers"]}]})
    props = {"project": "mlops-course-123", "policyData": document}
    assert violations(POLICIES["no-basic-or-admin-project-roles"], "gcp:projects/iAMPolicy:IAMPolicy", props)
    assert violations(POLICIES["no-public-members"], "gcp:projects/iAMPolicy:IAMPolicy", props)


def test_the_pack_serves_its_policies_to_the_engine():
    """Start `policy/__main__.py` as the CLI does and ask it over gRPC, engine-style."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
    from google.protobuf import empty_pb2

    server = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=ROOT / "policy",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": ""})
    try:
        port = int(server.stdout.readline().decode().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == policies.PACK_NAME
            assert {p.name for p in info.policies} == set(POLICIES)
            bucket = struct_pb2.Struct()
            json_format.ParseDict({"name": "b", "uniformBucketLevelAccess": False, "publicAccessPrevention": "enforced",
                                   "versioning": {"enabled": True}, "labels": {"managed-by": "pulumi"}}, bucket)
            response = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(
                type=policies.BUCKET, properties=bucket, urn="urn:pulumi:dev::p::gcp:storage/bucket:Bucket::b",
                name="b"), timeout=30)
            assert [d.policyName for d in response.diagnostics] == ["bucket-uniform-access"]
    finally:
        server.kill()
        server.wait(timeout=10)
