"""The workstation and its network, rendered from the real program under the suite's mocks."""

import pytest

from stack.config import ConfigError
from tools.render import TEST_PROJECT, TEST_PROJECT_NUMBER, Declared, Rendered, render, render_failure

INSTANCE = "gcp:compute/instance:Instance"
FIREWALL = "gcp:compute/firewall:Firewall"
RESOURCE_POLICY = "gcp:compute/resourcePolicy:ResourcePolicy"
POLICY_ATTACHMENT = "gcp:compute/resourcePolicyAttachment:ResourcePolicyAttachment"
INSTANCE_IAM_MEMBER = "gcp:compute/instanceIAMMember:InstanceIAMMember"
WORKSTATION = "gcp-mlops:compute:Workstation"
NETWORK = "gcp-mlops:network:Network"
SERVICE = "gcp:projects/service:Service"
NETWORK_TYPES = {
    "gcp:compute/network:Network",
    "gcp:compute/subnetwork:Subnetwork",
    FIREWALL,
    "gcp:compute/router:Router",
    "gcp:compute/routerNat:RouterNat",
}

IAP_RANGE = "35.235.240.0/20"
COMPUTE_AGENT = f"serviceAccount:service-{TEST_PROJECT_NUMBER}@compute-system.iam.gserviceaccount.com"
GPU_CONFIG = {"vmMachineType": "n1-standard-4", "vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 1}
WORKSTATION_OUTPUTS = (
    "workstation_name",
    "workstation_zone",
    "workstation_internal_ip",
    "workstation_ssh_command",
    "workstation_data_commands",
)


def compute_resources(rendered: Rendered) -> list[Declared]:
    return [r for r in rendered.resources if r.type.startswith("gcp:compute/")]


def instance_of(rendered: Rendered) -> Declared:
    return rendered.one(INSTANCE)


@pytest.fixture(scope="module")
def gpu_stack() -> Rendered:
    return render(GPU_CONFIG)


@pytest.fixture(scope="module")
def spot_stack() -> Rendered:
    return render({"vmSpot": True})


# --- the instance -------------------------------------------------------------------------


def test_default_machine_is_an_e2_medium_in_the_configured_zone(dev_stack):
    instance = instance_of(dev_stack)
    assert instance.inputs["machineType"] == "e2-medium"
    assert instance.inputs["zone"] == "europe-west1-b"
    assert instance.inputs["project"] == TEST_PROJECT
    assert instance.inputs["allowStoppingForUpdate"] is True
    assert instance.inputs["deletionProtection"] is False


def test_zone_and_machine_type_follow_the_config():
    instance = instance_of(
        render({"gcp:zone": "europe-west1-c", "vmMachineType": "e2-standard-8", "vmDeletionProtection": True})
    )
    assert (instance.inputs["zone"], instance.inputs["machineType"]) == ("europe-west1-c", "e2-standard-8")
    assert instance.inputs["deletionProtection"] is True


def test_boot_disk_is_a_balanced_disk_from_a_deep_learning_image_family(dev_stack):
    params = instance_of(dev_stack).inputs["bootDisk"]["initializeParams"]
    assert params == {
        "image": "projects/deeplearning-platform-release/global/images/family/pytorch-2-9-cu129-ubuntu-2204-nvidia-580",
        "size": 100,
        "type": "pd-balanced",
    }


def test_a_full_image_path_and_disk_size_are_used_as_given():
    image = "projects/deeplearning-platform-release/global/images/family/pytorch-2-4-cu121"
    params = instance_of(render({"vmImage": image, "vmDiskSizeGb": 200})).inputs["bootDisk"]["initializeParams"]
    assert (params["image"], params["size"]) == (image, 200)


def test_boot_disk_uses_google_managed_encryption_without_a_key(dev_stack):
    assert "kmsKeySelfLink" not in instance_of(dev_stack).inputs["bootDisk"]


def test_boot_disk_is_encrypted_with_the_stacks_key_once_the_agents_may_use_it():
    key = "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"
    rendered = render({"encryptionKey": key})
    instance = instance_of(rendered)
    assert instance.inputs["bootDisk"]["kmsKeySelfLink"] == key
    compute_agent_grant = rendered.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "key-compute")
    assert rendered.depends_on(instance, compute_agent_grant)


def test_no_public_ip_by_default(dev_stack):
    (interface,) = instance_of(dev_stack).inputs["networkInterfaces"]
    assert not interface.get("accessConfigs")


def test_external_ip_only_when_asked_for():
    (interface,) = instance_of(render({"vmExternalIp": True})).inputs["networkInterfaces"]
    assert len(interface["accessConfigs"]) == 1


def test_instance_sits_in_the_dedicated_subnet_with_the_ssh_tag(dev_stack):
    instance = instance_of(dev_stack)
    subnet = dev_stack.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.urn in instance.property_dependencies["networkInterfaces"]
    firewall = dev_stack.one(FIREWALL)
    assert instance.inputs["tags"] == firewall.inputs["targetTags"]
    # First boot fetches packages (and drivers) through Cloud NAT: the instance waits for it.
    assert dev_stack.depends_on(instance, dev_stack.one("gcp:compute/routerNat:RouterNat"))


def test_hardening_metadata(dev_stack):
    metadata = instance_of(dev_stack).inputs["metadata"]
    assert metadata == {"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "serial-port-enable": "FALSE"}


def test_shielded_vm_without_ip_forwarding(dev_stack):
    instance = instance_of(dev_stack)
    assert instance.inputs["shieldedInstanceConfig"] == {
        "enableSecureBoot": True,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }
    assert instance.inputs["canIpForward"] is False


def test_runs_as_the_workstation_service_account_not_the_default_one(dev_stack):
    account = dev_stack.one("gcp:serviceaccount/account:Account", "workstation")
    service_account = instance_of(dev_stack).inputs["serviceAccount"]
    assert service_account["email"] == account.outputs["email"]
    assert "-compute@developer" not in service_account["email"]
    assert service_account["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]


def test_standard_vm_by_default(dev_stack):
    scheduling = instance_of(dev_stack).inputs["scheduling"]
    assert scheduling["provisioningModel"] == "STANDARD"
    assert scheduling["automaticRestart"] is True and not scheduling.get("preemptible")
    assert scheduling["onHostMaintenance"] == "MIGRATE", "a CPU VM live-migrates instead of stopping"
    assert "guestAccelerators" not in instance_of(dev_stack).inputs


def test_gpu_variant_attaches_the_accelerator_and_asks_for_the_driver(gpu_stack):
    instance = instance_of(gpu_stack)
    assert instance.inputs["machineType"] == "n1-standard-4"
    assert instance.inputs["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 1}]
    assert instance.inputs["scheduling"]["onHostMaintenance"] == "TERMINATE"
    assert instance.inputs["metadata"]["install-nvidia-driver"] == "True"
    assert instance.inputs["metadata"]["enable-oslogin"] == "TRUE"
    # Secure Boot would refuse the unsigned driver the image builds; the rest of Shielded VM stays.
    assert instance.inputs["shieldedInstanceConfig"] == {
        "enableSecureBoot": False,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }


def test_spot_variant_stops_instead_of_deleting(spot_stack):
    scheduling = instance_of(spot_stack).inputs["scheduling"]
    assert scheduling == {
        "provisioningModel": "SPOT",
        "preemptible": True,
        "automaticRestart": False,
        "instanceTerminationAction": "STOP",
        "onHostMaintenance": "TERMINATE",
    }


# --- the network --------------------------------------------------------------------------


def test_dedicated_vpc_and_subnet_with_private_google_access(dev_stack):
    vpc = dev_stack.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = dev_stack.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["region"] == "europe-west1"
    assert vpc.urn in subnet.property_dependencies["network"]


def test_ssh_is_open_to_identity_aware_proxy_only(dev_stack):
    firewall = dev_stack.one(FIREWALL)
    assert firewall.inputs["direction"] == "INGRESS"
    assert firewall.inputs["sourceRanges"] == [IAP_RANGE]
    assert firewall.inputs["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    assert firewall.inputs["targetTags"]
    assert firewall.inputs["logConfig"]["metadata"]


@pytest.mark.parametrize("config", [{}, {"vmExternalIp": True}, GPU_CONFIG])
def test_nothing_is_open_to_the_internet(config):
    for resource in render(config).resources:
        assert "0.0.0.0/0" not in repr(resource.inputs), f"{resource.type} {resource.name}"


def test_cloud_nat_on_a_router_in_the_vpc(dev_stack):
    vpc = dev_stack.one("gcp:compute/network:Network")
    router = dev_stack.one("gcp:compute/router:Router")
    nat = dev_stack.one("gcp:compute/routerNat:RouterNat")
    assert vpc.urn in router.property_dependencies["network"]
    assert router.urn in nat.property_dependencies["router"]
    assert nat.inputs["region"] == router.inputs["region"] == "europe-west1"
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    subnet = dev_stack.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet.urn in nat.property_dependencies["subnetworks"]


# --- the schedule -------------------------------------------------------------------------


def test_default_schedule_stops_the_vm_in_the_evening(dev_stack):
    policy = dev_stack.one(RESOURCE_POLICY).inputs
    assert policy["region"] == "europe-west1"
    assert policy["instanceSchedulePolicy"] == {
        "timeZone": "Europe/Copenhagen",
        "vmStopSchedule": {"schedule": "0 19 * * *"},
    }


def test_start_schedule_and_time_zone_follow_the_config():
    rendered = render(
        {"vmStartSchedule": "0 8 * * 1-5", "vmStopSchedule": "30 18 * * 1-5", "vmTimeZone": "America/New_York"}
    )
    assert rendered.one(RESOURCE_POLICY).inputs["instanceSchedulePolicy"] == {
        "timeZone": "America/New_York",
        "vmStartSchedule": {"schedule": "0 8 * * 1-5"},
        "vmStopSchedule": {"schedule": "30 18 * * 1-5"},
    }


def test_schedule_is_attached_to_the_instance_after_the_service_agent_may_use_it(dev_stack):
    instance, policy = instance_of(dev_stack), dev_stack.one(RESOURCE_POLICY)
    attachment = dev_stack.one(POLICY_ATTACHMENT)
    member = dev_stack.one(INSTANCE_IAM_MEMBER)
    assert policy.urn in attachment.property_dependencies["name"]
    assert attachment.inputs["name"] == policy.inputs["name"]
    assert instance.urn in attachment.property_dependencies["instance"]
    assert attachment.inputs["instance"] == instance.inputs["name"]
    assert attachment.inputs["zone"] == instance.inputs["zone"]
    # Compute Engine refuses the attachment until the service agent holds the role.
    assert dev_stack.depends_on(attachment, member)
    # The attachment owns the instance's resourcePolicies: the instance must not undo it on `up`.
    assert "resourcePolicies" in instance.ignore_changes
    assert len(policy.inputs["name"]) <= 63


def test_long_stack_names_keep_the_schedule_name_valid():
    policy = render(stack_name="feature-branch-with-a-rather-long-name-for-testing-limits").one(RESOURCE_POLICY)
    assert len(policy.inputs["name"]) <= 63 and policy.inputs["name"].startswith("workstation-schedule-")


def test_service_agent_may_start_and_stop_this_instance_only(dev_stack):
    instance = instance_of(dev_stack)
    member = dev_stack.one(INSTANCE_IAM_MEMBER)
    assert member.inputs["role"] == "roles/compute.instanceAdmin.v1"
    assert member.inputs["member"] == COMPUTE_AGENT
    assert member.inputs["instanceName"] == instance.inputs["name"]
    assert instance.urn in member.property_dependencies["instanceName"]
    assert member.inputs["zone"] == instance.inputs["zone"]
    project_members = dev_stack.of_type("gcp:projects/iAMMember:IAMMember")
    assert all(m.inputs["member"] != COMPUTE_AGENT for m in project_members)


def test_people_are_granted_nothing(dev_stack):
    user_roles = {"roles/iap.tunnelResourceAccessor", "roles/compute.osLogin", "roles/compute.osAdminLogin"}
    granted = {r.inputs.get("role") for r in dev_stack.resources if r.type.endswith("IAMMember")}
    assert not granted & user_roles
    assert {m.inputs["member"] for m in dev_stack.of_type(INSTANCE_IAM_MEMBER)} == {COMPUTE_AGENT}


def test_no_schedule_when_both_schedules_are_empty():
    rendered = render({"vmStopSchedule": "", "vmStartSchedule": ""})
    assert instance_of(rendered)
    for type_ in (RESOURCE_POLICY, POLICY_ATTACHMENT, INSTANCE_IAM_MEMBER):
        assert rendered.of_type(type_) == [], type_


# --- structure ----------------------------------------------------------------------------


def test_every_compute_resource_waits_for_the_compute_api(dev_stack):
    compute_api = dev_stack.one(SERVICE, "compute")
    resources = compute_resources(dev_stack)
    assert len(resources) == 9
    for resource in resources:
        assert dev_stack.depends_on(resource, compute_api), f"{resource.type} {resource.name}"


def test_iap_firewall_waits_for_the_iap_api(dev_stack):
    assert dev_stack.depends_on(dev_stack.one(FIREWALL), dev_stack.one(SERVICE, "iap"))


def test_children_are_parented_to_their_component(dev_stack):
    workstation, network = dev_stack.one(WORKSTATION), dev_stack.one(NETWORK)
    for resource in compute_resources(dev_stack):
        expected = network if resource.type in NETWORK_TYPES else workstation
        assert resource.parent == expected.urn, f"{resource.type} {resource.name}"


def test_vm_disabled_declares_no_compute_resources_and_no_vm_outputs():
    rendered = render({"vmEnabled": False})
    assert compute_resources(rendered) == []
    assert not rendered.of_type(WORKSTATION) and not rendered.of_type(NETWORK)
    assert not [name for name in rendered.outputs if name.startswith("workstation")]
    assert rendered.outputs["bucket_name"]


# --- outputs ------------------------------------------------------------------------------


def test_outputs_name_zone_ip_and_the_iap_ssh_command(dev_stack):
    outputs = dev_stack.outputs
    assert set(WORKSTATION_OUTPUTS) <= set(outputs)
    assert outputs["workstation_name"] == instance_of(dev_stack).inputs["name"] == "workstation-dev"
    assert outputs["workstation_zone"] == "europe-west1-b"
    assert outputs["workstation_internal_ip"] == "10.10.0.2"
    assert outputs["workstation_ssh_command"] == (
        f"gcloud compute ssh workstation-dev --zone europe-west1-b --project {TEST_PROJECT} --tunnel-through-iap"
    )


def test_outputs_say_how_to_mount_and_sync_the_data_bucket(dev_stack):
    bucket = dev_stack.outputs["bucket_name"]
    commands = dev_stack.outputs["workstation_data_commands"]
    assert commands["mount"] == f"mkdir -p ~/data && gcsfuse --implicit-dirs --only-dir data {bucket} ~/data"
    assert commands["download"] == f"gcloud storage rsync gs://{bucket}/data ./data --recursive"
    assert commands["upload"] == f"gcloud storage rsync ./data gs://{bucket}/data --recursive"


# --- configuration errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "config, key, words",
    [
        ({"vmStopSchedule": "every evening"}, "vmStopSchedule", "unix-cron"),
        ({"vmStartSchedule": "0 25 * * *"}, "vmStartSchedule", "unix-cron"),
        ({"vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 1}, "vmGpuType", "attaches only to n1-* machine types"),
        ({"gcp:zone": "us-central1-a"}, "gcp:zone", "europe-west1"),
    ],
)
def test_bad_vm_configuration_fails_naming_the_key(config, key, words):
    with pytest.raises(ConfigError) as raised:
        render(config)
    matching = [problem for problem in raised.value.problems if problem.startswith(key)]
    assert matching, raised.value.problems
    assert words in matching[0]
    assert key in str(raised.value)


# --- the image: a current family, checked before the instance is created -------------------------


def test_the_default_image_is_a_family_google_lists_today():
    from stack import catalog, schema

    family = catalog.vm_image_family(schema.default("vmImage"))
    assert family is not None, "Pulumi.yaml's vmImage must be one of stack/catalog.py DL_VM_FAMILIES"
    assert family.framework.startswith("PyTorch") and family.source.url.startswith("https://")


def test_a_retired_image_family_stops_the_run_naming_vm_image():
    error = render_failure({"vmImage": "pytorch-latest-cpu"}, missing_images={"pytorch-latest-cpu"})
    assert error.startswith("ConfigError: The stack configuration has 1 problem(s)")
    assert "vmImage 'pytorch-latest-cpu': Compute Engine has no such image" in error
    assert "pytorch-2-9-cu129-ubuntu-2204-nvidia-580" in error, "the error lists the current families"
    assert render_failure({"vmImage": "pytorch-2-9-cu129-ubuntu-2404-nvidia-580"}) == ""


def test_the_image_is_looked_up_after_the_compute_api_and_the_instance_waits_for_it(dev_stack):
    instance = instance_of(dev_stack)
    compute = dev_stack.one(SERVICE, "compute")
    assert compute.urn in instance.property_dependencies["bootDisk"]


def test_a_disk_smaller_than_the_image_is_named():
    # Compute Engine refuses a boot disk smaller than its image: say so at preview, naming the key.
    error = render_failure({}, image_disk_gb=120)
    assert "vmDiskSizeGb 100: the image 'pytorch-2-9-cu129-ubuntu-2204-nvidia-580' needs at least 120 GB" in error
    assert render_failure({"vmDiskSizeGb": 150}, image_disk_gb=120) == ""


def test_gpu_workstations_ask_for_the_driver_and_cpu_ones_do_not(dev_stack, gpu_stack):
    assert "install-nvidia-driver" not in instance_of(dev_stack).inputs["metadata"]
    assert instance_of(gpu_stack).inputs["metadata"]["install-nvidia-driver"] == "True"


def test_the_subnet_keeps_sampled_flow_logs(dev_stack):
    subnet = dev_stack.one("gcp:compute/subnetwork:Subnetwork").inputs
    assert subnet["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_MIN",
        "flowSampling": 0.5,
        "metadata": "EXCLUDE_ALL_METADATA",
    }
