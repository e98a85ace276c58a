"""The Vertex AI training job's settings: machine shape, timing, and the trainer's arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from providers.vertex_job import WAIT_FOR_CHOICES
from stack import catalog, schema
from stack.config.gpu import check_gpu
from stack.config.reader import MACHINE_TYPE, Reader, as_number, duration_seconds

TRAINING_MODES = ("container", "package")
# The stack's own trainer's flags that the object form of `trainingArgs` may set; anything not given
# is the trainer's own default (its argparse, the course's command).
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
    # The trainer's command-line arguments; the stack's own trainer also gets `--job-dir`.
    args: tuple[str, ...]
    passes_job_dir: bool


def read_training(read: Reader, region: str, bundled_trainer: bool) -> TrainingSettings:
    enabled = read.value("trainingEnabled")
    mode = read.value("trainingMode")
    read.check(mode in TRAINING_MODES, "trainingMode", mode, f"one of {', '.join(TRAINING_MODES)}")
    wait_for = read.value("trainingWaitFor")
    read.check(wait_for in WAIT_FOR_CHOICES, "trainingWaitFor", wait_for, f"one of {', '.join(WAIT_FOR_CHOICES)}")
    if enabled:
        read.check(
            region in catalog.VERTEX_REGIONS, "gcp:region", region,
            "Vertex AI custom training is not offered there (stack/catalog.py VERTEX_REGIONS); choose another "
            "region or set trainingEnabled false",
        )  # fmt: skip

    tier_name = read.value("trainingScaleTier").upper()
    tier = catalog.SCALE_TIERS.get(tier_name)
    read.check(
        tier_name in catalog.SCALE_TIERS, "trainingScaleTier", tier_name,
        f"one of {', '.join(catalog.SCALE_TIERS)} (BASIC_TPU has no PyTorch equivalent here)",
    )  # fmt: skip
    machine_type = read.value("trainingMachineType") or (tier.machine_type if tier else "")
    if tier_name == "CUSTOM" or machine_type:
        read.check(
            bool(MACHINE_TYPE.match(machine_type)), "trainingMachineType", machine_type,
            "a machine type such as n1-standard-4 (required with trainingScaleTier CUSTOM)",
        )  # fmt: skip
    # Empty (the default) means "the tier's"; a 0 that a stack sets is a mistake, not a request for the default.
    replica_count = read.count("trainingReplicaCount")
    replica_count = replica_count if replica_count is not None else (tier.replica_count if tier else 1)
    read.check(1 <= replica_count <= 100, "trainingReplicaCount", replica_count, "between 1 and 100")
    gpu_type = read.value("trainingGpuType") or (tier.gpu_type if tier else "")
    gpu_count = read.count("trainingGpuCount")
    if gpu_count is None:
        gpu_count = (tier.gpu_count if tier else 0) or (1 if gpu_type else 0)
    check_gpu(read, gpu_type, gpu_count, machine_type, ("trainingGpuType", "trainingGpuCount"), compute_engine=False)
    gpu = catalog.gpu_by_vertex_name(gpu_type) if gpu_type else None
    if enabled and mode == "container" and bundled_trainer and gpu:
        # The stack's trainer image takes PyTorch's CUDA wheels, which have no kernels for older GPUs.
        supported = [g.vertex_name for g in catalog.GPU_TYPES if g.capability >= catalog.TORCH_CUDA_MIN_CAPABILITY]
        read.check(
            gpu.capability >= catalog.TORCH_CUDA_MIN_CAPABILITY, "trainingGpuType", gpu_type,
            f"the trainer image's PyTorch CUDA wheels ({catalog.TORCH_CUDA_INDEX_URL}) run on compute capability "
            f"{catalog.TORCH_CUDA_MIN_CAPABILITY} and newer ({catalog.TORCH_CUDA_WHEELS.url}): use one of "
            f"{', '.join(supported)}",
        )  # fmt: skip

    timeout_text = read.value("trainingTimeout")
    timeout = duration_seconds(timeout_text)
    read.check(
        timeout is not None and timeout >= 60, "trainingTimeout", timeout_text,
        "a duration of at least one minute such as 90m, 2h, 1d12h or 7200s",
    )  # fmt: skip

    executor_image = read.value("trainingExecutorImage") or catalog.executor_image(gpu=bool(gpu_type)).uri(region)
    read.check(
        bool(CONTAINER_IMAGE.match(executor_image)), "trainingExecutorImage", executor_image,
        "a container image reference such as europe-docker.pkg.dev/vertex-ai/training/…",
    )  # fmt: skip
    args, passes_job_dir = _training_args(read, bundled_trainer)
    return TrainingSettings(
        enabled=enabled,
        mode=mode,
        machine_type=machine_type,
        replica_count=replica_count,
        gpu_type=gpu_type,
        gpu_count=gpu_count,
        spot=read.value("trainingSpot"),
        timeout_seconds=timeout or 0,
        wait_for=wait_for,
        executor_image=executor_image,
        args=args,
        passes_job_dir=passes_job_dir,
    )


def _training_args(read: Reader, bundled_trainer: bool) -> tuple[tuple[str, ...], bool]:
    given = read.structured("trainingArgs")
    if isinstance(given, list):
        # `pulumi config set --path 'trainingArgs[1]' 5` stores the number 5: numbers are arguments too.
        read.check(
            all(isinstance(arg, str | int | float) and not isinstance(arg, bool) for arg in given),
            "trainingArgs", given, "a list of strings (or numbers), passed to the trainer verbatim",
        )  # fmt: skip
        return tuple(arg if isinstance(arg, str) else str(arg) for arg in given), False
    if not bundled_trainer:
        # The object form is the taxi trainer's shorthand: nothing taxi-specific goes to another trainer.
        if given != schema.default("trainingArgs"):  # the CLI passes the default object like a set value
            read.check(
                False, "trainingArgs", given,
                "with your own trainerSource, give the trainer's arguments as a list of strings (passed verbatim)",
            )  # fmt: skip
        return (), False
    if not read.check(isinstance(given, dict), "trainingArgs", given, "an object of flags or a list of strings"):
        return (), True
    return _taxi_flags(read, given), True


def _taxi_flags(read: Reader, given: dict[str, Any]) -> tuple[str, ...]:
    unknown = sorted(set(given) - set(TRAINING_FLAGS))
    read.check(
        not unknown, "trainingArgs", given,
        f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TRAINING_FLAGS)}",
    )  # fmt: skip
    merged = {**schema.default("trainingArgs"), **given}

    def files(name: str) -> list[str]:
        value = merged[name]
        paths = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
        read.check(
            bool(paths) and all(isinstance(p, str) and p.strip() for p in paths), f"trainingArgs.{name}", value,
            "a path or a non-empty list of paths (gs://… or /gcs/…)",
        )  # fmt: skip
        return [str(p) for p in paths]

    def number(name: str, whole: bool, ok: Callable[[float], bool], rule: str) -> list[str]:
        if name not in merged:
            return []
        value = as_number(merged[name])
        good = value is not None and ok(value) and (not whole or float(value).is_integer())
        read.check(good, f"trainingArgs.{name}", merged[name], rule)
        return [TRAINING_FLAGS[name], str(int(value)) if whole else repr(float(value))] if good else []

    return (
        "--train-files", *files("trainFiles"), "--eval-files", *files("evalFiles"),
        *number("numEpochs", True, lambda v: v >= 1, "a whole number of at least 1"),
        *number("batchSize", True, lambda v: v >= 1, "a whole number of at least 1"),
        *number("learningRate", False, lambda v: 0 < v <= 10, "a number greater than 0 and at most 10"),
    )  # fmt: skip
