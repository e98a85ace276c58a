"""Cases for the VM policies, on every VM-shaped type."""

from __future__ import annotations

import guardrail

from tests.policy.resources import (
    DEFAULT_COMPUTE_SA,
    DELETE,
    Base,
    Case,
    as_instance_from,
    as_region_template,
    as_template,
    with_changes,
)

INSTANCE = Base("instance", guardrail.INSTANCE)
TEMPLATE = Base("template", guardrail.INSTANCE_TEMPLATE, source=guardrail.INSTANCE, derive=as_template)
REGION_TEMPLATE = Base(
    "regional template", guardrail.REGION_INSTANCE_TEMPLATE, source=guardrail.INSTANCE, derive=as_region_template
)
FROM_TEMPLATE = Base(
    "instance from a template",
    "gcp:compute/instanceFromTemplate:InstanceFromTemplate",
    source=guardrail.INSTANCE,
    derive=as_instance_from(
        "sourceInstanceTemplate", "projects/mlops-course-123/global/instanceTemplates/workstation-dev"
    ),
)
FROM_MACHINE_IMAGE = Base(
    "instance from a machine image",
    "gcp:compute/instanceFromMachineImage:InstanceFromMachineImage",
    source=guardrail.INSTANCE,
    derive=as_instance_from("sourceMachineImage", "projects/mlops-course-123/global/machineImages/workstation"),
)
WORKBENCH = Base("Workbench instance", guardrail.WORKBENCH_INSTANCE)
INSTANCE_GPU_EXEMPTION_ON = Base(
    "instance, GPU exemption on", guardrail.INSTANCE, config={"secureBootExemptForGpus": True}
)
INSTANCE_EXTERNAL_IP_ALLOWED = Base(
    "instance, external IP allowed", guardrail.INSTANCE, config={"allowExternalIp": True}
)
WORKBENCH_EXTERNAL_IP_ALLOWED = Base(
    "Workbench instance, external IP allowed", guardrail.WORKBENCH_INSTANCE, config={"allowExternalIp": True}
)
GPU_INSTANCE = Base("GPU instance", guardrail.INSTANCE, example="dev-full")  # secure boot off: exempt
GPU_INSTANCE_NOT_EXEMPT = Base(
    "GPU instance, no exemption",
    guardrail.INSTANCE,
    example="dev-full",
    derive=with_changes(shieldedInstanceConfig__enableSecureBoot=True),
    config={"secureBootExemptForGpus": False},
)

NEGATIVE_CASES: list[Case] = [
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
    ("vm-shielded", REGION_TEMPLATE, "shieldedInstanceConfig.enableSecureBoot", False),
    ("vm-shielded", FROM_TEMPLATE, "shieldedInstanceConfig", DELETE),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", "FALSE"),
    ("vm-os-login", INSTANCE, "metadata", DELETE),
    ("vm-os-login", TEMPLATE, "metadata.enable-oslogin", DELETE),
    ("vm-os-login", REGION_TEMPLATE, "metadata.enable-oslogin", DELETE),
    ("vm-os-login", FROM_TEMPLATE, "metadata", DELETE),
    ("vm-os-login", FROM_MACHINE_IMAGE, "metadata.enable-oslogin", "FALSE"),
    ("vm-block-project-ssh-keys", INSTANCE, "metadata.block-project-ssh-keys", DELETE),
    ("vm-block-project-ssh-keys", INSTANCE, "metadata.block-project-ssh-keys", "FALSE"),
    ("vm-block-project-ssh-keys", TEMPLATE, "metadata.block-project-ssh-keys", DELETE),
    ("vm-block-project-ssh-keys", REGION_TEMPLATE, "metadata.block-project-ssh-keys", DELETE),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", "TRUE"),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", " true "),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", "1"),
    ("vm-no-serial-port", INSTANCE, "metadata.serial-port-enable", True),
    ("vm-no-serial-port", TEMPLATE, "metadata.serial-port-enable", "TRUE"),
    ("vm-no-serial-port", REGION_TEMPLATE, "metadata.serial-port-enable", "TRUE"),
    ("vm-no-ip-forwarding", INSTANCE, "canIpForward", True),
    ("vm-no-ip-forwarding", TEMPLATE, "canIpForward", True),
    ("vm-no-ip-forwarding", REGION_TEMPLATE, "canIpForward", True),
    ("vm-no-ip-forwarding", FROM_MACHINE_IMAGE, "canIpForward", True),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount.email", DEFAULT_COMPUTE_SA),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount.email", "default"),
    ("vm-dedicated-service-account", INSTANCE, "serviceAccount", DELETE),
    ("vm-dedicated-service-account", TEMPLATE, "serviceAccount.email", DEFAULT_COMPUTE_SA),
    ("vm-dedicated-service-account", REGION_TEMPLATE, "serviceAccount.email", DEFAULT_COMPUTE_SA),
    ("vm-dedicated-service-account", FROM_TEMPLATE, "serviceAccount", DELETE),
    ("vm-no-external-ip", INSTANCE, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", INSTANCE, "networkInterfaces.0.ipv6AccessConfigs", [{}]),
    ("vm-no-external-ip", TEMPLATE, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", REGION_TEMPLATE, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", REGION_TEMPLATE, "networkInterfaces.0.ipv6AccessConfigs", [{}]),
    ("vm-no-external-ip", FROM_TEMPLATE, "networkInterfaces.0.accessConfigs", [{"natIp": "34.1.2.3"}]),
    ("vm-no-external-ip", FROM_MACHINE_IMAGE, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", WORKBENCH, "gceSetup.disablePublicIp", False),
    ("vm-no-external-ip", WORKBENCH, "gceSetup.disablePublicIp", DELETE),
    ("vm-no-external-ip", WORKBENCH, "gceSetup.networkInterfaces", [{"accessConfigs": [{"externalIp": "34.1.2.3"}]}]),
]

ALLOWED_CASES: list[Case] = [
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableVtpm", DELETE),
    ("vm-shielded", INSTANCE, "shieldedInstanceConfig.enableIntegrityMonitoring", DELETE),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", "true"),
    ("vm-os-login", INSTANCE, "metadata.enable-oslogin", True),
    ("vm-no-external-ip", INSTANCE_EXTERNAL_IP_ALLOWED, "networkInterfaces.0.accessConfigs", [{}]),
    ("vm-no-external-ip", INSTANCE_EXTERNAL_IP_ALLOWED, "networkInterfaces.0.ipv6AccessConfigs", [{}]),
    ("vm-no-external-ip", WORKBENCH_EXTERNAL_IP_ALLOWED, "gceSetup.disablePublicIp", False),
    ("vm-no-external-ip", WORKBENCH, "gceSetup.networkInterfaces", [{"network": "vpc-id"}]),
]
