"""The workstation: a hardened Deep Learning VM reached over IAP, stopped on a schedule.

Hardening follows CIS GCP 4.x: OS Login, no project-wide SSH keys, no serial port, no IP
forwarding, Shielded VM, a dedicated service account, no public IP unless asked for.
Nothing is granted to people here: users need roles/iap.tunnelResourceAccessor,
roles/compute.osLogin and roles/iam.serviceAccountUser on the workstation's service account
(see `USER_ROLES`), given by whoever administers the project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from components.network import Network
from components.storage import PREFIXES
from stack import catalog, iam, naming
from stack.config import ConfigError, VmSettings

BOOT_DISK_TYPE = "pd-balanced"
SCHEDULER_ROLE = "roles/compute.instanceAdmin.v1"

# What a person needs to use the workstation; documented, never granted by the stack.
USER_ROLES = ("roles/iap.tunnelResourceAccessor", "roles/compute.osLogin", "roles/iam.serviceAccountUser")

HARDENED_METADATA = {
    "enable-oslogin": "TRUE",
    "block-project-ssh-keys": "TRUE",
    "serial-port-enable": "FALSE",
}
# Deep Learning VM images install the NVIDIA driver on first boot when this is set.
GPU_DRIVER_METADATA = {"install-nvidia-driver": "True"}


def image_path(image: str) -> str:
    """The boot disk's image: `projects/P/global/images/family/F` or `projects/P/global/images/I`."""
    project, kind, name = catalog.parse_vm_image(image)
    return f"projects/{project}/global/images/{'family/' if kind == 'family' else ''}{name}"


def checked_image(vm: VmSettings, apis: ProjectApis) -> pulumi.Output[str]:
    """The boot image path, resolved only after a lookup has found the image (and its size fits the disk).

    Google retires image families: without this, a retired `vmImage` fails only when the instance is
    created, after everything else. The lookup runs once the Compute Engine API is enabled (it needs the
    API), so from the second `pulumi preview` on, and on every `pulumi up` before the instance, a
    missing image stops the run with an error that names the key. The instance keeps the family path
    (not the resolved image): a new image in the family must not replace the workstation.
    """
    project, kind, name = catalog.parse_vm_image(vm.image)

    async def lookup(_: object) -> str:
        try:
            found = await pulumi.runtime.invoke_async(
                "gcp:compute/getImage:getImage", {"family" if kind == "family" else "name": name, "project": project}
            )
        except Exception as error:
            reason = str(error).splitlines()[0][:300]
            if "was not found" not in reason and "notFound" not in reason:
                raise ConfigError([f"vmImage {vm.image!r}: the image could not be looked up: {reason}"]) from None
            current = ", ".join(catalog.current_vm_families(date.today()))
            raise ConfigError([
                f"vmImage {vm.image!r}: Compute Engine has no such image ({reason}). "
                f"Current Deep Learning VM families: {current} (stack/catalog.py; {catalog.DL_VM_IMAGES.url})"
            ]) from None  # fmt: skip
        image_size = int(found.get("diskSizeGb") or 0)
        if image_size > vm.disk_size_gb:
            raise ConfigError(
                [f"vmDiskSizeGb {vm.disk_size_gb}: the image {vm.image!r} needs at least {image_size} GB"]
            )
        return image_path(vm.image)

    return apis.needed_by("compute")[0].id.apply(lookup)


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def scheduling(vm: VmSettings) -> gcp.compute.InstanceSchedulingArgs:
    if vm.spot:
        # A Spot VM that stops (keeping its disk) instead of being deleted on preemption.
        return gcp.compute.InstanceSchedulingArgs(
            provisioning_model="SPOT",
            preemptible=True,
            automatic_restart=False,
            instance_termination_action="STOP",
            on_host_maintenance="TERMINATE",
        )
    return gcp.compute.InstanceSchedulingArgs(
        provisioning_model="STANDARD",
        automatic_restart=True,
        # VMs with GPUs cannot live-migrate.
        on_host_maintenance="TERMINATE" if vm.gpu_type else "MIGRATE",
    )


def schedule_policy(vm: VmSettings) -> gcp.compute.ResourcePolicyInstanceSchedulePolicyArgs | None:
    if not vm.has_schedule:
        return None

    return gcp.compute.ResourcePolicyInstanceSchedulePolicyArgs(
        time_zone=vm.time_zone,
        vm_start_schedule=gcp.compute.ResourcePolicyInstanceSchedulePolicyVmStartScheduleArgs(
            schedule=vm.start_schedule
        )
        if vm.start_schedule
        else None,
        vm_stop_schedule=gcp.compute.ResourcePolicyInstanceSchedulePolicyVmStopScheduleArgs(schedule=vm.stop_schedule)
        if vm.stop_schedule
        else None,
    )


@dataclass
class WorkstationArgs:
    project: str
    zone: str
    stack: str
    settings: VmSettings
    network: Network
    service_account_email: pulumi.Input[str]
    data_bucket_name: pulumi.Input[str]
    apis: ProjectApis
    kms_key_name: pulumi.Input[str] | None = None
    # Grants the instance needs before it is created (the deployer's actAs on the workstation account).
    waits_for: Sequence[pulumi.Resource] = field(default_factory=list)


class Workstation(pulumi.ComponentResource):
    instance: gcp.compute.Instance
    schedule: gcp.compute.ResourcePolicy | None
    instance_name: pulumi.Output[str]
    zone: pulumi.Output[str]
    internal_ip: pulumi.Output[str]
    ssh_command: pulumi.Output[str]
    data_commands: pulumi.Output[dict]

    def __init__(self, name: str, args: WorkstationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:compute:Workstation", name, None, opts)
        vm = args.settings
        instance_name = naming.resource_id(args.stack, "workstation")
        has_gpu = bool(vm.gpu_type)

        def child_opts(*depends_on: pulumi.Resource, **options) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self, depends_on=[*args.apis.needed_by("compute"), *depends_on], **options
            )

        self.instance = gcp.compute.Instance(
            "instance",
            project=args.project,
            zone=args.zone,
            name=instance_name,
            machine_type=vm.machine_type,
            boot_disk=gcp.compute.InstanceBootDiskArgs(
                initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                    image=checked_image(vm, args.apis), size=vm.disk_size_gb, type=BOOT_DISK_TYPE
                ),
                kms_key_self_link=args.kms_key_name,
            ),
            network_interfaces=[
                gcp.compute.InstanceNetworkInterfaceArgs(
                    subnetwork=args.network.subnet.id,
                    # An empty access config is what asks Compute Engine for an ephemeral public IP.
                    access_configs=[gcp.compute.InstanceNetworkInterfaceAccessConfigArgs()] if vm.external_ip else None,
                )
            ],
            tags=[args.network.ssh_tag],
            metadata={**HARDENED_METADATA, **(GPU_DRIVER_METADATA if has_gpu else {})},
            can_ip_forward=False,
            service_account=gcp.compute.InstanceServiceAccountArgs(
                email=args.service_account_email, scopes=[catalog.CLOUD_PLATFORM_SCOPE]
            ),
            shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(
                # The NVIDIA driver the DL images build on first boot is unsigned: Secure Boot
                # would refuse to load it, so GPU workstations keep vTPM and integrity monitoring only.
                enable_secure_boot=not has_gpu,
                enable_vtpm=True,
                enable_integrity_monitoring=True,
            ),
            guest_accelerators=[gcp.compute.InstanceGuestAcceleratorArgs(type=vm.gpu_type, count=vm.gpu_count)]
            if has_gpu
            else None,
            scheduling=scheduling(vm),
            allow_stopping_for_update=True,
            deletion_protection=vm.deletion_protection,
            labels={"purpose": "workstation"},
            # First boot fetches packages (and GPU drivers) through Cloud NAT. The schedule is
            # attached by a ResourcePolicyAttachment (below), not through this resource.
            opts=child_opts(args.network.nat, *args.waits_for, ignore_changes=["resourcePolicies"]),
        )

        self.schedule = None
        self.scheduler_access: dict[str, pulumi.CustomResource] = {}
        policy = schedule_policy(vm)
        if policy is not None:
            self.schedule = gcp.compute.ResourcePolicy(
                "schedule",
                project=args.project,
                region=region_of(args.zone),
                name=naming.resource_id(args.stack, "workstation-schedule"),
                description="Starts and stops the workstation so that it does not run all night",
                instance_schedule_policy=policy,
                opts=child_opts(),
            )
            # The Compute Engine service agent starts and stops the VM: it may do so on this
            # instance only. Compute Engine checks that grant when the policy is attached, so
            # the policy cannot be set on the instance at creation (error 412): the grant needs
            # the instance, and the attachment waits for the grant.
            self.scheduler_access = iam.bind(
                "instance",
                {"compute-service-agent": iam.Grant(SCHEDULER_ROLE, args.apis.compute_agent_member(args.project))},
                lambda member_name, grant, member_opts: gcp.compute.InstanceIAMMember(
                    member_name,
                    project=args.project,
                    zone=args.zone,
                    instance_name=self.instance.name,
                    role=grant.role,
                    member=grant.member,
                    opts=member_opts,
                ),
                child_opts(),
            )
            self.schedule_attachment = gcp.compute.ResourcePolicyAttachment(
                "schedule-attachment",
                project=args.project,
                zone=args.zone,
                instance=self.instance.name,
                name=self.schedule.name,
                opts=child_opts(*self.scheduler_access.values()),
            )

        self.instance_name = self.instance.name
        self.zone = self.instance.zone
        self.internal_ip = self.instance.network_interfaces.apply(lambda nics: nics[0].network_ip)
        self.ssh_command = pulumi.Output.all(self.instance.name, self.instance.zone).apply(
            lambda name_zone: (
                f"gcloud compute ssh {name_zone[0]} --zone {name_zone[1]} --project {args.project} --tunnel-through-iap"
            )
        )
        data_prefix = PREFIXES["data"].rstrip("/")
        self.data_commands = pulumi.Output.from_input(args.data_bucket_name).apply(
            lambda bucket: {
                "mount": f"mkdir -p ~/{data_prefix} && "
                f"gcsfuse --implicit-dirs --only-dir {data_prefix} {bucket} ~/{data_prefix}",
                "download": f"gcloud storage rsync gs://{bucket}/{data_prefix} ./{data_prefix} --recursive",
                "upload": f"gcloud storage rsync ./{data_prefix} gs://{bucket}/{data_prefix} --recursive",
            }
        )
        self.register_outputs(
            {
                "instance_name": self.instance_name,
                "zone": self.zone,
                "internal_ip": self.internal_ip,
                "ssh_command": self.ssh_command,
                "data_commands": self.data_commands,
                "schedule": self.schedule.name if self.schedule else None,
                "user_roles": list(USER_ROLES),
            }
        )
