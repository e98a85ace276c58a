"""The workstation VM's settings."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from croniter import croniter

from stack import catalog, schema
from stack.config.gpu import check_gpu
from stack.config.reader import MACHINE_TYPE, Reader

VM_IMAGE = re.compile(r"^(projects/[a-z0-9-]+/global/images/(family/)?)?[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class VmSettings:
    enabled: bool
    machine_type: str
    image: str
    disk_size_gb: int
    external_ip: bool
    spot: bool
    gpu_type: str
    gpu_count: int
    stop_schedule: str
    start_schedule: str
    time_zone: str
    deletion_protection: bool

    @property
    def has_schedule(self) -> bool:
        return bool(self.stop_schedule or self.start_schedule)


def read_vm(read: Reader) -> VmSettings:
    machine_type = read.value("vmMachineType")
    read.check(
        bool(MACHINE_TYPE.match(machine_type)),
        "vmMachineType",
        machine_type,
        "a Compute Engine machine type such as e2-medium or n1-standard-4",
    )
    image = read.value("vmImage")
    read.check(
        bool(VM_IMAGE.match(image)),
        "vmImage",
        image,
        f"an image family of {catalog.DEEP_LEARNING_IMAGES_PROJECT} (e.g. {schema.default('vmImage')}) "
        "or a full path projects/PROJECT/global/images/[family/]NAME",
    )
    disk = read.value("vmDiskSizeGb")
    read.check(50 <= disk <= 65536, "vmDiskSizeGb", disk, "Deep Learning VM images need 50 to 65536 GB")
    gpu_type, gpu_count = read.value("vmGpuType"), read.value("vmGpuCount")
    check_gpu(read, gpu_type, gpu_count, machine_type, ("vmGpuType", "vmGpuCount"), compute_engine=True)
    schedules = {key: read.value(key) for key in ("vmStopSchedule", "vmStartSchedule")}
    for key, expression in schedules.items():
        read.check(
            not expression or _is_cron(expression),
            key,
            expression,
            "a unix-cron expression with 5 fields, e.g. '0 19 * * *' (empty disables)",
        )
    time_zone = read.value("vmTimeZone")
    read.check(_is_time_zone(time_zone), "vmTimeZone", time_zone, "an IANA time zone such as Europe/Copenhagen")
    return VmSettings(
        enabled=read.value("vmEnabled"),
        machine_type=machine_type,
        image=image,
        disk_size_gb=disk,
        external_ip=read.value("vmExternalIp"),
        spot=read.value("vmSpot"),
        gpu_type=gpu_type,
        gpu_count=gpu_count,
        stop_schedule=schedules["vmStopSchedule"],
        start_schedule=schedules["vmStartSchedule"],
        time_zone=time_zone,
        deletion_protection=read.value("vmDeletionProtection"),
    )


def _is_cron(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
