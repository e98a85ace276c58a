"""The policy pack: the declared stack passes every policy, and each policy stops a bad resource.

Policies get resources as the engine sends them: the camelCase inputs tools.render records under
the mocks. Each case takes a rendered resource's inputs (or a resource of another shape built
from them, such as an InstanceTemplate from the instance) and changes one property: a negative
case must make the policy fire, an allowed case must not. Every branch of a policy has a case.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import guardrail
import pytest
from google.protobuf import json_format, struct_pb2

import policies
from policies import POLICIES, violations
from stack import iam
from tools.render import ROOT, Rendered, render
from tools.snapshot import EXAMPLES

DELETE = object()

# Inputs for types no example declares (a service account key must never be): the shape they would have.
FALLBACK_INPUTS: dict[str, dict[str, Any]] = {
    guardrail.SERVICE_ACCOUNT_KEY: {
        "serviceAccountId": "projects/mlops-course-123/serviceAccounts/deployer-dev@mlops-course-123.iam.gserviceaccount.com",
    },
}


@dataclass(eq=False)
class Base:
    """A resource a case changes: the rendered inputs of `source` (default: its own type) in
    `example` (default: the first example declaring it), reshaped by `derive` into `type`, and
    checked under the policy `config`. Unchanged, it passes the policy the case checks."""

    label: str
    type: str
    source: str = ""
    example: str = ""
    derive: Callable[[dict[str, Any]], dict[str, Any]] = lambda inputs: inputs
    config: dict[str, Any] = field(default_factory=dict)


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


def as_binding(member: dict[str, Any]) -> dict[str, Any]:
    """The IAMBinding (`members`, a list) that grants an IAMMember's role to its member."""
    binding = {key: value for key, value in member.items() if key != "member"}
    binding["members"] = [member["member"]]
    return binding


def policy_data(*bindings: tuple[str, str]) -> str:
    """An IAMPolicy's policyData document: one binding for each (role, member)."""
    return json.dumps({"bindings": [{"role": role, "members": [member]} for role, member in bindings]})


def as_policy(member: dict[str, Any]) -> dict[str, Any]:
    """The IAMPolicy whose document holds an IAMMember's grant."""
    return {"project": member["project"], "policyData": policy_data((member["role"], member["member"]))}


def with_changes(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda inputs: functools.reduce(
        lambda acc, change: with_property(acc, *change),
        ((path.replace("__", "."), value) for path, value in changes.items()),
        inputs,
    )


def bucket_acl(**acl: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A legacy ACL resource on the rendered bucket (the shapes that grant by entity)."""
    return lambda bucket: {"bucket": bucket["name"], **acl}


INSTANCE_TYPE = "gcp:compute/instance:Instance"
TEMPLATE_TYPE = "gcp:compute/instanceTemplate:InstanceTemplate"
PROJECT_MEMBER_TYPE = "gcp:projects/iAMMember:IAMMember"
OWNER_ENTITY = "project-owners-123456789012"

INSTANCE = Base("instance", INSTANCE_TYPE)
TEMPLATE = Base("template", TEMPLATE_TYPE, source=INSTANCE_TYPE, derive=as_template)
INSTANCE_GPU_EXEMPTION_ON = Base("instance, GPU exemption on", INSTANCE_TYPE, config={"secureBootExemptForGpus": True})
INSTANCE_EXTERNAL_IP_ALLOWED = Base("instance, external IP allowed", INSTANCE_TYPE, config={"allowExternalIp": True})
GPU_INSTANCE = Base("GPU instance", INSTANCE_TYPE, example="dev-full")  # secure boot off: exempt
GPU_INSTANCE_NOT_EXEMPT = Base(
    "GPU instance, no exemption",
    INSTANCE_TYPE,
    example="dev-full",
    derive=with_changes(shieldedInstanceConfig__enableSecureBoot=True),
    config={"secureBootExemptForGpus": False},
)
PROJECT_MEMBER = Base("project member", PROJECT_MEMBER_TYPE)
PROJECT_USER_MEMBER = Base(
    "project member, a user", PROJECT_MEMBER_TYPE, derive=with_changes(member="user:alice@example.com")
)
PROJECT_BINDING = Base(
    "project binding", "gcp:projects/iAMBinding:IAMBinding", source=PROJECT_MEMBER_TYPE, derive=as_binding
)
PROJECT_POLICY = Base(
    "project policy", "gcp:projects/iAMPolicy:IAMPolicy", source=PROJECT_MEMBER_TYPE, derive=as_policy
)
BUCKET = Base("bucket", guardrail.BUCKET)
BUCKET_MEMBER = Base("bucket member", "gcp:storage/bucketIAMMember:BucketIAMMember")
BUCKET_BINDING = Base(
    "bucket binding", "gcp:storage/bucketIAMBinding:BucketIAMBinding", source=BUCKET_MEMBER.type, derive=as_binding
)
BUCKET_ACCESS_CONTROL = Base(
    "bucket access control",
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    source=guardrail.BUCKET,
    derive=bucket_acl(role="OWNER", entity=OWNER_ENTITY),
)
DEFAULT_OBJECT_ACCESS_CONTROL = Base(
    "default object access control",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    source=guardrail.BUCKET,
    derive=bucket_acl(role="OWNER", entity=OWNER_ENTITY),
)
BUCKET_ACL = Base(
    "bucket ACL",
    "gcp:storage/bucketACL:BucketACL",
    source=guardrail.BUCKET,
    derive=bucket_acl(roleEntities=[f"OWNER:{OWNER_ENTITY}"]),
)
DEFAULT_OBJECT_ACL = Base(
    "default object ACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
    source=guardrail.BUCKET,
    derive=bucket_acl(roleEntities=[f"OWNER:{OWNER_ENTITY}"]),
)
REPOSITORY_MEMBER = Base("repository member", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
SERVICE_ACCOUNT_KEY = Base("key", guardrail.SERVICE_ACCOUNT_KEY)
FIREWALL = Base("firewall", guardrail.FIREWALL)
FIREWALL_NO_DIRECTION = Base("firewall, direction unset", guardrail.FIREWALL, derive=with_changes(direction=DELETE))
FIREWALL_BY_TAG = Base(
    "firewall, source tags", guardrail.FIREWALL, derive=with_changes(sourceRanges=DELETE, sourceTags=["bastion"])
)
FIREWALL_BY_SERVICE_ACCOUNT = Base(
    "firewall, source service accounts",
    guardrail.FIREWALL,
    derive=with_changes(
        sourceRanges=DELETE, sourceServiceAccounts=["bastion@mlops-course-123.iam.gserviceaccount.com"]
    ),
)
FIREWALL_EGRESS = Base(
    "firewall, egress",
    guardrail.FIREWALL,
    derive=with_changes(sourceRanges=DELETE, direction="EGRESS", destinationRanges=["10.0.0.0/8"]),
)
FIREWALL_DENY = Base(
    "firewall, deny rule",
    guardrail.FIREWALL,
    derive=lambda rule: {("denies" if k == "allows" else k): v for k, v in rule.items()},
)
PROVIDER = Base("provider", guardrail.WORKLOAD_IDENTITY_PROVIDER)
PROVIDER_OTHER_ISSUER = Base(
    "provider, other issuer",
    guardrail.WORKLOAD_IDENTITY_PROVIDER,
    derive=with_changes(oidc__issuerUri="https://gitlab.com"),
)
UNLISTED_LABELED = Base(
    "unlisted type with labels",
    "gcp:bigquery/dataset:Dataset",
    source=guardrail.BUCKET,
    derive=lambda bucket: {"project": bucket["project"], "labels": bucket["labels"]},
)
JOB = Base("job", guardrail.VERTEX_CUSTOM_JOB)
JOB_TWO_POOLS = Base("job, two pools", guardrail.VERTEX_CUSTOM_JOB, example="dev-full")
JOB_CAMEL = Base(
    "job, jobSpec",
    guardrail.VERTEX_CUSTOM_JOB,
    derive=lambda job: {("jobSpec" if k == "job_spec" else k): v for k, v in job.items()},
)

DEFAULT_COMPUTE_SA = "123456789012-compute@developer.gserviceaccount.com"
TRAINER = "europe-west1-docker.pkg.dev/mlops-course-123/mlops/trainer"
A_SERVICE_ACCOUNT = "serviceAccount:trainer-dev@mlops-course-123.iam.gserviceaccount.com"

# (policy, resource, property path, bad value): the one change that makes the policy fire.
NEGATIVE_CASES = [
    ("no-service-account-keys", SERVICE_ACCOUNT_KEY, "keyAlgorithm", "KEY_ALG_RSA_2048"),
    # Basic roles, for anyone; admin roles (any case), for service accounts; member, binding or policy.
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/owner"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/editor"),
    ("no-basic-or-admin-project-roles", PROJECT_USER_MEMBER, "role", "roles/viewer"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/storage.admin"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountAdmin"),
    ("no-basic-or-admin-project-roles", PROJECT_BINDING, "role", "roles/owner"),
    ("no-basic-or-admin-project-roles", PROJECT_BINDING, "role", "roles/iam.serviceAccountAdmin"),
    (
        "no-basic-or-admin-project-roles",
        PROJECT_POLICY,
        "policyData",
        policy_data(("roles/iam.serviceAccountAdmin", A_SERVICE_ACCOUNT)),
    ),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountTokenCreator"),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountUser"),
    ("no-project-impersonation-roles", PROJECT_BINDING, "role", "roles/iam.serviceAccountTokenCreator"),
    ("no-project-impersonation-roles", PROJECT_BINDING, "role", "roles/iam.serviceAccountUser"),
    (
        "no-project-impersonation-roles",
        PROJECT_POLICY,
        "policyData",
        policy_data(("roles/iam.serviceAccountUser", A_SERVICE_ACCOUNT)),
    ),
    # Public principals in every shape a grant takes: member, members, entity, roleEntities, policyData.
    ("no-public-members", BUCKET_MEMBER, "member", "allUsers"),
    ("no-public-members", REPOSITORY_MEMBER, "member", "allAuthenticatedUsers"),
    ("no-public-members", BUCKET_BINDING, "members", [A_SERVICE_ACCOUNT, "allUsers"]),
    ("no-public-members", PROJECT_BINDING, "members", ["allAuthenticatedUsers"]),
    ("no-public-members", BUCKET_ACCESS_CONTROL, "entity", "allUsers"),
    ("no-public-members", DEFAULT_OBJECT_ACCESS_CONTROL, "entity", "allAuthenticatedUsers"),
    ("no-public-members", BUCKET_ACL, "roleEntities", [f"OWNER:{OWNER_ENTITY}", "READER:allUsers"]),
    ("no-public-members", DEFAULT_OBJECT_ACL, "roleEntities", ["READER:allAuthenticatedUsers"]),
    ("no-public-members", PROJECT_POLICY, "policyData", policy_data(("roles/viewer", "allUsers"))),
    ("bucket-uniform-access", BUCKET, "uniformBucketLevelAccess", False),
    ("bucket-uniform-access", BUCKET, "uniformBucketLevelAccess", DELETE),
    ("bucket-public-access-prevention", BUCKET, "publicAccessPrevention", "inherited"),
    ("bucket-public-access-prevention", BUCKET, "publicAccessPrevention", DELETE),
    ("bucket-versioning", BUCKET, "versioning.enabled", False),
    ("bucket-versioning", BUCKET, "versioning", DELETE),
    # Secure boot: off or unset, on a CPU VM whatever the exemption, on a GPU VM without it;
    # vTPM and integrity monitoring: never off, GPU or not.
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableSecureBoot", DELETE),
    ("vm-shielded", INSTANCE_GPU_EXEMPTION_ON, "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-shielded", GPU_INSTANCE, "guestAccelerators", DELETE),
    ("vm-shielded", GPU_INSTANCE, "guestAccelerators", []),
    ("vm-shielded", GPU_INSTANCE_NOT_EXEMPT, "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableVtpm", False),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableIntegrityMonitoring", False),
    ("vm-shielded", GPU_INSTANCE, "shieldedInstanceConfig.enableVtpm", False),
    ("vm-shielded", GPU_INSTANCE, "shieldedInstanceConfig.enableIntegrityMonitoring", False),
    ("vm-shielded", TEMPLATE, "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", "FALSE"),
    ("vm-os-login", INSTANCE, "metadata", DELETE),
    ("vm-os-login", TEMPLATE, "metadata.enable-oslogin", DELETE),
    ("vm-block-project-ssh-keys", INSTANCE, "metadata.block-project-ssh-keys", DELETE),
    ("vm-block-project-ssh-keys", INSTANCE, "metadata.block-project-ssh-keys", "FALSE"),
    ("vm-block-project-ssh-keys", TEMPLATE, "metadata.block-project-ssh-keys", DELETE),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", "TRUE"),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", " true "),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", "1"),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", True),
    ("vm-no-serial-port", TEMPLATE, "metadata.serial-port-enable", "TRUE"),
    ("vm-no-ip-forwarding", INSTANCE, "canIpForward", True),
    ("vm-no-ip-forwarding", TEMPLATE, "canIpForward", True),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount.email", DEFAULT_COMPUTE_SA),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount.email", "default"),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount", DELETE),
    ("vm-dedicated-service-account", TEMPLATE, "serviceAccount.email", DEFAULT_COMPUTE_SA),
    ("vm-no-external-ip", INSTANCE, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", INSTANCE, "networkInterfaces.0.ipv6AccessConfigs", [{}]),
    ("vm-no-external-ip", TEMPLATE, "networkInterfaces.0.accessConfigs", [{}]),
    # World: 0.0.0.0/0, ::/0, or no source at all; an unset direction is ingress.
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["::/0"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", DELETE),
    ("firewall-no-world-ingress", FIREWALL_NO_DIRECTION, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL_BY_TAG, "sourceTags", DELETE),
    ("firewall-no-world-ingress", FIREWALL_BY_SERVICE_ACCOUNT, "sourceServiceAccounts", DELETE),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", DELETE),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", ""),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", "  \n "),
    ("workload-identity-provider-condition", PROVIDER_OTHER_ISSUER, "attributeCondition", " "),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.repository_owner == 'octo-org'",
    ),
    ("labels-required", BUCKET, "labels", DELETE),
    ("labels-required", BUCKET, "labels", {}),
    ("labels-required", BUCKET, "labels.managed-by", DELETE),
    ("labels-required", INSTANCE, "labels.managed-by", DELETE),
    ("labels-required", JOB, "labels", DELETE),
    ("labels-required", UNLISTED_LABELED, "labels.managed-by", DELETE),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", DELETE),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", DEFAULT_COMPUTE_SA),
    ("vertex-job-dedicated-service-account", JOB, "job_spec.serviceAccount", "default"),
    ("vertex-job-dedicated-service-account", JOB_CAMEL, "jobSpec.serviceAccount", DEFAULT_COMPUTE_SA),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:latest"),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:v1.2.0"),
    ("vertex-job-image-digest", JOB, "job_spec.workerPoolSpecs.0.containerSpec.imageUri", TRAINER),
    (
        "vertex-job-image-digest",
        JOB,
        "job_spec.workerPoolSpecs.0.containerSpec.imageUri",
        f"{TRAINER}@sha256:{'a' * 12}",
    ),
    (
        "vertex-job-image-digest",
        JOB_TWO_POOLS,
        "job_spec.workerPoolSpecs.1.containerSpec.imageUri",
        f"{TRAINER}:latest",
    ),
    ("vertex-job-image-digest", JOB_CAMEL, "jobSpec.workerPoolSpecs.0.containerSpec.imageUri", f"{TRAINER}:latest"),
]

# The same, for what a policy deliberately lets through: the change must stay allowed.
ALLOWED_CASES = [
    ("no-basic-or-admin-project-roles", PROJECT_USER_MEMBER, "role", "roles/storage.admin"),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableVtpm", DELETE),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableIntegrityMonitoring", DELETE),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", "true"),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", True),
    ("vm-no-external-ip", INSTANCE_EXTERNAL_IP_ALLOWED, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", INSTANCE_EXTERNAL_IP_ALLOWED, "networkInterfaces.0.ipv6AccessConfigs", [{}]),
    ("firewall-no-world-ingress", FIREWALL_EGRESS, "destinationRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL_DENY, "sourceRanges", ["0.0.0.0/0"]),
    ("workload-identity-provider-condition", PROVIDER, "attributeCondition", "assertion.repository_id == '123456789'"),
    (
        "workload-identity-provider-condition",
        PROVIDER,
        "attributeCondition",
        "assertion.sub == 'repo:octo-org/mlops-course:ref:refs/heads/main'",
    ),
    (
        "workload-identity-provider-condition",
        PROVIDER_OTHER_ISSUER,
        "attributeCondition",
        "assertion.project_path == 'octo-org/mlops-course'",
    ),
]


def case_id(case: tuple[str, Base, str, Any]) -> str:
    policy_name, base, path, value = case
    shown = "<deleted>" if value is DELETE else repr(value)
    return f"{policy_name} [{base.label}] {path}={shown[:60]}"


@pytest.fixture(scope="module")
def examples() -> dict[str, Rendered]:
    return {name: render(overrides) for name, overrides in EXAMPLES.items()}


def custom_resources(rendered: Rendered):
    return sorted((r for r in rendered.resources if r.custom), key=lambda r: r.urn)


def base_inputs(examples: dict[str, Rendered], resource_type: str, example: str = "") -> dict[str, Any]:
    for rendered in [examples[example]] if example else examples.values():
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


def changed(examples: dict[str, Rendered], base: Base, policy_name: str, path: str, value: Any) -> list[str]:
    """What the policy reports on the base resource after the one change; the base alone must pass."""
    policy = POLICIES[policy_name]
    good = base.derive(base_inputs(examples, base.source or base.type, base.example))
    if policy_name != "no-service-account-keys":  # a key is bad as such
        assert violations(policy, base.type, good, base.config) == [], "the unchanged resource must pass"
    return violations(policy, base.type, with_property(copy.deepcopy(good), path, value), base.config)


@pytest.mark.parametrize("policy_name, base, path, value", NEGATIVE_CASES, ids=[case_id(c) for c in NEGATIVE_CASES])
def test_each_policy_stops_a_bad_resource(examples, policy_name, base, path, value):
    assert changed(examples, base, policy_name, path, value), f"{policy_name} let {path}={value!r} through"


@pytest.mark.parametrize("policy_name, base, path, value", ALLOWED_CASES, ids=[case_id(c) for c in ALLOWED_CASES])
def test_each_policy_lets_an_allowed_change_through(examples, policy_name, base, path, value):
    assert changed(examples, base, policy_name, path, value) == []


def test_the_cases_are_distinct():
    keys = [
        (policy_name, base.label, path, "<deleted>" if value is DELETE else repr(value))
        for policy_name, base, path, value in NEGATIVE_CASES + ALLOWED_CASES
    ]
    assert len(keys) == len(set(keys))


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
    assert guardrail.BASIC_ROLES == iam.BASIC_ROLES
    assert guardrail.IMPERSONATION_ROLES == iam.IMPERSONATION_ROLES


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
