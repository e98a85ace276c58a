"""The Vertex AI training job's settings: machine shape, timing, the trainer's code and arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from providers.vertex_job import WAIT_FOR_CHOICES
from stack import catalog, schema
from stack.config.reader import MACHINE_TYPE, Reader, duration_seconds

TRAINING_MODES = ("container", "package")
# The taxi trainer's flags that `trainingArgs` may set; anything not given is the trainer's own default.
TRAINING_FLAGS = {
    "trainFiles": "--train-files",
    "evalFiles": "--eval-files",
    "numEpochs": "--num-epochs",
    "batchSize": "--batch-size",
    "learningRate": "--learning-rate",
}
CONTAINER_IMAGE = re.compile(r"^[a-z0-9.-]+(:\d+)?/[^\s]+$")


@dataclass(frozen=True)
class TrainingSettings:
    enabled: bool
    mode: str
    machine_type: str
    replica_count: int
    gpu_type: str
    gpu_count: int
    spot: bool
    timeout_seconds: int
    wait_for: str
    executor_image: str
    # The trainer's command-line arguments (`python -m trainer.task …`).
    args: tuple[str, ...]


def read_training(read: Reader, region: str) -> TrainingSettings:
    mode = read.value("trainingMode")
    read.check(mode in TRAINING_MODES, "trainingMode", mode, f"one of {', '.join(TRAINING_MODES)}")
    wait_for = read.value("trainingWaitFor")
    read.check(wait_for in WAIT_FOR_CHOICES, "trainingWaitFor", wait_for, f"one of {', '.join(WAIT_FOR_CHOICES)}")

    tier_name = read.value("trainingScaleTier").upper()
    tier = catalog.SCALE_TIERS.get(tier_name)
    read.check(
        tier_name in catalog.SCALE_TIERS,
        "trainingScaleTier",
        tier_name,
        f"one of {', '.join(catalog.SCALE_TIERS)} (BASIC_TPU has no PyTorch equivalent here)",
    )
    machine_type = read.value("trainingMachineType") or (tier.machine_type if tier else "")
    replica_count = read.value("trainingReplicaCount") or (tier.replica_count if tier else 1)
    gpu_type = read.value("trainingGpuType") or (tier.gpu_type if tier else "")
    gpu_count = read.value("trainingGpuCount") or (tier.gpu_count if tier else 0)
    if tier_name == "CUSTOM" or machine_type:
        read.check(
            bool(MACHINE_TYPE.match(machine_type)),
            "trainingMachineType",
            machine_type,
            "a machine type such as n1-standard-4 (required with trainingScaleTier CUSTOM)",
        )
    read.check(1 <= replica_count <= 100, "trainingReplicaCount", replica_count, "between 1 and 100")
    if gpu_type or gpu_count:
        family = catalog.TRAINING_GPU_FAMILIES.get(gpu_type)
        if read.check(
            family is not None, "trainingGpuType", gpu_type, f"one of {', '.join(catalog.TRAINING_GPU_FAMILIES)}"
        ):
            read.check(
                machine_type.startswith(f"{family}-"),
                "trainingGpuType",
                gpu_type,
                f"runs on {family}-* machine types; trainingMachineType {machine_type!r} cannot take it",
            )
        read.check(
            gpu_count in catalog.TRAINING_GPU_COUNTS,
            "trainingGpuCount",
            gpu_count,
            f"one of {', '.join(map(str, catalog.TRAINING_GPU_COUNTS))} when trainingGpuType is set",
        )

    timeout_text = read.value("trainingTimeout")
    timeout = duration_seconds(timeout_text)
    read.check(
        timeout is not None and timeout >= 60,
        "trainingTimeout",
        timeout_text,
        "a duration of at least one minute such as 90m, 2h, 1d12h or 7200s",
    )

    executor_image = read.value("trainingExecutorImage") or catalog.executor_image(region, gpu=bool(gpu_type))
    read.check(
        bool(CONTAINER_IMAGE.match(executor_image)),
        "trainingExecutorImage",
        executor_image,
        "a container image reference such as europe-docker.pkg.dev/vertex-ai/training/…",
    )

    return TrainingSettings(
        enabled=read.value("trainingEnabled"),
        mode=mode,
        machine_type=machine_type,
        replica_count=replica_count,
        gpu_type=gpu_type,
        gpu_count=gpu_count,
        spot=read.value("trainingSpot"),
        timeout_seconds=timeout or 0,
        wait_for=wait_for,
        executor_image=executor_image,
        args=_training_args(read),
    )


def _training_args(read: Reader) -> tuple[str, ...]:
    given = read.value("trainingArgs")
    unknown = sorted(set(given) - set(TRAINING_FLAGS))
    read.check(
        not unknown,
        "trainingArgs",
        given,
        f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TRAINING_FLAGS)}",
    )
    merged = {**schema.default("trainingArgs"), **given}

    def files(name: str) -> list[str]:
        value = merged[name]
        paths = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
        read.check(
            bool(paths) and all(isinstance(p, str) and p.strip() for p in paths),
            f"trainingArgs.{name}",
            value,
            "a path or a non-empty list of paths (gs://… or /gcs/…)",
        )
        return [str(p) for p in paths]

    def number(name: str, whole: bool, ok: Callable[[float], bool], rule: str) -> list[str]:
        if name not in merged:
            return []
        value = merged[name]
        good = isinstance(value, (int, float)) and not isinstance(value, bool) and ok(value)
        good = good and (not whole or float(value).is_integer())
        read.check(good, f"trainingArgs.{name}", value, rule)
        return [str(int(value)) if whole else repr(float(value))] if good else []

    flags = ["--train-files", *files("trainFiles"), "--eval-files", *files("evalFiles")]
    for name, whole in (("numEpochs", True), ("batchSize", True)):
        values = number(name, whole, lambda v: v >= 1, "a whole number of at least 1")
        flags += [TRAINING_FLAGS[name], *values] if values else []
    learning_rate = number("learningRate", False, lambda v: 0 < v <= 10, "a number greater than 0 and at most 10")
    flags += [TRAINING_FLAGS["learningRate"], *learning_rate] if learning_rate else []
    return tuple(flags)
