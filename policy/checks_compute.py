"""Compute Engine rules for every VM-shaped type (instances, templates, instances from a template or a
machine image; Workbench instances for the public IP)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from guardrail import WORKBENCH_INSTANCE, Config, Props, is_default_compute_account, is_true
from pack_config import setting


def vm_shielded(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    shielded = props.get("shieldedInstanceConfig") or {}
    # The NVIDIA driver that Deep Learning VM images build on first boot is unsigned, and Secure
    # Boot refuses to load it: GPU VMs are exempt from secure boot only, unless the config says not.
    gpu_exempt = bool(props.get("guestAccelerators")) and setting(config, "secureBootExemptForGpus") is not False
    if shielded.get("enableSecureBoot") is not True and not gpu_exempt:
        yield "shieldedInstanceConfig.enableSecureBoot must be true (CIS 4.8)"
    # vTPM and integrity monitoring are on unless switched off.
    for key in ("enableVtpm", "enableIntegrityMonitoring"):
        if shielded.get(key) is False:
            yield f"shieldedInstanceConfig.{key} must not be false (CIS 4.8)"


def _metadata(props: Props) -> Mapping[str, Any]:
    return props.get("metadata") or {}


def vm_os_login(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not is_true(_metadata(props).get("enable-oslogin")):
        yield "metadata enable-oslogin must be TRUE: SSH access through IAM (CIS 4.4)"


def vm_block_project_ssh_keys(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if not is_true(_metadata(props).get("block-project-ssh-keys")):
        yield "metadata block-project-ssh-keys must be TRUE (CIS 4.3)"


def vm_no_serial_port(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if is_true(_metadata(props).get("serial-port-enable")):
        yield "metadata serial-port-enable must not be set: no interactive serial console (CIS 4.5)"


def vm_no_ip_forwarding(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if props.get("canIpForward") is True:
        yield "canIpForward must be false (CIS 4.6)"


def vm_own_service_account(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    email = (props.get("serviceAccount") or {}).get("email")
    if is_default_compute_account(email):
        yield (
            f"runs as {email or 'the default compute service account'}: give the VM a dedicated "
            "service account (CIS 4.1, 4.2)"
        )


EXTERNAL_IP_ADVICE = "SSH goes through IAP. Allow it with the policy config allowExternalIp (CIS 4.9)"


def vm_no_external_ip(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if setting(config, "allowExternalIp") is True:
        return
    if resource_type == WORKBENCH_INSTANCE:
        setup = props.get("gceSetup") or {}
        if setup.get("disablePublicIp") is not True:
            yield f"gceSetup.disablePublicIp is not true: the instance gets a public IP; {EXTERNAL_IP_ADVICE}"
        interfaces = setup.get("networkInterfaces") or []
        prefix = "gceSetup.networkInterfaces"
    else:
        interfaces = props.get("networkInterfaces") or []
        prefix = "networkInterfaces"
    for index, interface in enumerate(interfaces):
        if interface.get("accessConfigs") or interface.get("ipv6AccessConfigs"):
            yield f"{prefix}[{index}] has an access config (a public IP); {EXTERNAL_IP_ADVICE}"
