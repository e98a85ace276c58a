"""The stack's configuration: `pulumi.Config` in, one frozen and validated `Settings` out.

Every key of `Pulumi.yaml`'s `config:` schema is read here and nowhere else. Schema defaults
are applied by the Pulumi CLI, not by the SDK, so every default is repeated in `DEFAULTS`
and the program works with `gcp:project` alone. All problems are collected and reported
together in one `ConfigError`, each naming the key, the value and the rule it breaks.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from croniter import croniter

from components import naming

# Public sample data of the course's command (Google's PyTorch structured-data sample).
COURSE_TRAIN_FILES = ("gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_train.csv",)
COURSE_EVAL_FILES = ("gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_eval.csv",)

DEFAULT_VM_IMAGE_FAMILY = "pytorch-latest-cpu"
EXECUTOR_IMAGE = "{multi_region}-docker.pkg.dev/vertex-ai/training/pytorch-{device}.2-4.py310:latest"


def default_executor_image(region: str, gpu: bool = False) -> str:
    """Vertex AI's prebuilt PyTorch image (CPU or GPU) from the multi-region nearest `region`."""
    continent = region.split("-")[0]
    multi_region = {"europe": "europe", "asia": "asia", "australia": "asia", "me": "europe"}.get(continent, "us")
    return EXECUTOR_IMAGE.format(multi_region=multi_region, device="gpu" if gpu else "cpu")

# Project keys and their defaults; Pulumi.yaml declares the same keys (a test keeps them equal).
DEFAULTS: dict[str, Any] = {
    "bucketName": "",
    "bucketLocation": "",
    "destroyData": False,
    "vmEnabled": True,
    "vmMachineType": "e2-medium",
    "vmImage": DEFAULT_VM_IMAGE_FAMILY,
    "vmDiskSizeGb": 100,
    "vmExternalIp": False,
    "vmSpot": False,
    "vmGpuType": "",
    "vmGpuCount": 0,
    "vmStopSchedule": "0 19 * * *",
    "vmStartSchedule": "",
    "vmTimeZone": "Europe/Copenhagen",
    "vmDeletionProtection": False,
    "repositoryId": "mlops",
    "imageKeepCount": 5,
    "trainingEnabled": True,
    "trainingMode": "container",
    "trainingScaleTier": "BASIC",
    "trainingMachineType": "",
    "trainingReplicaCount": 0,
    "trainingGpuType": "",
    "trainingGpuCount": 0,
    "trainingSpot": False,
    "trainingTimeout": "2h",
    "trainingWaitFor": "submitted",
    "trainingExecutorImage": "",
    "trainingArgs": {},
    "githubRepository": "",
    "githubRepositoryId": "",
    "githubDeployRef": "refs/heads/main",
    "encryptionKey": "",
    "labels": {},
}

TRAINING_ARGS_DEFAULTS: dict[str, Any] = {
    "trainFiles": list(COURSE_TRAIN_FILES),
    "evalFiles": list(COURSE_EVAL_FILES),
    "numEpochs": 10,
    "batchSize": 100,
    "learningRate": 0.001,
}

TRAINING_MODES = ("container", "package")
WAIT_FOR = ("submitted", "running", "succeeded")


@dataclass(frozen=True)
class ScaleTier:
    """What one of AI Platform's old `--scale-tier` names means on Vertex AI."""

    machine_type: str
    replica_count: int = 1
    gpu_type: str = ""
    gpu_count: int = 0


# AI Platform Training's scale tiers and their documented machine shapes. Parameter servers
# have no PyTorch equivalent: the distributed tiers become a chief plus workers (DDP).
SCALE_TIERS: dict[str, Optional[ScaleTier]] = {
    "BASIC": ScaleTier("n1-standard-4"),
    "BASIC_GPU": ScaleTier("n1-standard-8", gpu_type="NVIDIA_TESLA_T4", gpu_count=1),
    "STANDARD_1": ScaleTier("n1-highcpu-8", replica_count=5),
    "PREMIUM_1": ScaleTier("n1-highcpu-16", replica_count=20),
    "CUSTOM": None,
}

# Compute Engine accelerators that attach to N1 machine types (accelerator-optimized families
# such as a2, a3 and g2 come with their GPUs built in).
VM_GPU_TYPES = ("nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p100", "nvidia-tesla-p4")
VM_GPU_COUNTS = (1, 2, 4, 8)

# Vertex AI accelerator enum values and the machine family each one runs on.
TRAINING_GPU_FAMILIES: dict[str, str] = {
    "NVIDIA_TESLA_T4": "n1",
    "NVIDIA_TESLA_V100": "n1",
    "NVIDIA_TESLA_P100": "n1",
    "NVIDIA_TESLA_P4": "n1",
    "NVIDIA_TESLA_A100": "a2",
    "NVIDIA_A100_80GB": "a2",
    "NVIDIA_L4": "g2",
    "NVIDIA_H100_80GB": "a3",
}

KMS_KEY_NAME = re.compile(r"^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$")
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
GIT_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$")
REPOSITORY_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
LOCATION = re.compile(r"^[a-z]+(?:-[a-z]+[0-9]*)*$|^[A-Z0-9-]+$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Labels the stack sets itself (components/labels.py, per-resource purpose/run, the job's create
# token) and pulumi-gcp's goog-pulumi-provisioned: 64 per resource is Google's limit.
RESERVED_LABELS = frozenset({"stack", "pulumi-project", "managed-by", "purpose", "run", "pulumi_create_token"})
MAX_EXTRA_LABELS = 64 - 6
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """Every problem of a configuration, reported together."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"The stack configuration has {len(self.problems)} problem(s); fix them with "
            f"`pulumi config set KEY VALUE` (project keys) or in Pulumi.<stack>.yaml:\n{lines}"
        )


@dataclass(frozen=True)
class BucketSettings:
    name: str
    location: str
    destroy_data: bool


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


@dataclass(frozen=True)
class RegistrySettings:
    repository_id: str
    image_keep_count: int


@dataclass(frozen=True)
class TrainingArgs:
    train_files: tuple[str, ...]
    eval_files: tuple[str, ...]
    num_epochs: int
    batch_size: int
    learning_rate: float

    def as_flags(self) -> list[str]:
        """The trainer's command-line flags (`python -m trainer.task …`)."""
        return [
            "--train-files", *self.train_files,
            "--eval-files", *self.eval_files,
            "--num-epochs", str(self.num_epochs),
            "--batch-size", str(self.batch_size),
            "--learning-rate", repr(self.learning_rate),
        ]


@dataclass(frozen=True)
class TrainingSettings:
    enabled: bool
    mode: str
    scale_tier: str
    machine_type: str
    replica_count: int
    gpu_type: str
    gpu_count: int
    spot: bool
    timeout_seconds: int
    wait_for: str
    executor_image: str
    args: TrainingArgs


@dataclass(frozen=True)
class GithubSettings:
    repository: str
    repository_id: str
    deploy_ref: str

    @property
    def enabled(self) -> bool:
        return bool(self.repository)


@dataclass(frozen=True)
class Settings:
    project: str
    region: str
    zone: str
    stack: str
    bucket: BucketSettings
    vm: VmSettings
    registry: RegistrySettings
    training: TrainingSettings
    github: GithubSettings
    encryption_key: str
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def uses_cmek(self) -> bool:
        return bool(self.encryption_key)


class _Reader:
    """Reads raw values with their types checked, collecting problems instead of raising."""

    def __init__(self, raw: Callable[[str], Optional[str]], problems: list[str]):
        self._raw = raw
        self.problems = problems

    def value(self, key: str) -> Any:
        text = self._raw(key)
        if text is None:
            return DEFAULTS[key]
        default = DEFAULTS[key]
        if isinstance(default, str):
            return text
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text
        expected = type(default)
        if expected is bool and isinstance(parsed, bool):
            return parsed
        if expected is int and isinstance(parsed, int) and not isinstance(parsed, bool):
            return parsed
        if expected is dict and isinstance(parsed, dict):
            return parsed
        kind = {bool: "true or false", int: "a whole number", dict: "an object (YAML mapping)"}[expected]
        self.problems.append(f"{key} {text!r}: must be {kind}")
        return default

    def check(self, ok: bool, key: str, value: Any, rule: str) -> bool:
        if not ok:
            self.problems.append(f"{key} {value!r}: {rule}")
        return ok


def load_settings(
    project_config: Callable[[str], Optional[str]],
    gcp_config: Callable[[str], Optional[str]],
    stack: str,
) -> Settings:
    """Validate the whole configuration; raise one `ConfigError` listing every problem.

    `project_config` and `gcp_config` return the raw string value of a key (or None), as
    `pulumi.Config(...).get` does; this keeps the module testable without the runtime.
    """
    problems: list[str] = []
    read = _Reader(project_config, problems)

    project = gcp_config("project") or ""
    region = gcp_config("region") or "europe-west1"
    zone = gcp_config("zone") or f"{region}-b"
    if not project:
        problems.append("gcp:project is not set: run `pulumi config set gcp:project YOUR_PROJECT_ID`")
    elif not naming.is_project_id(project):
        problems.append(
            f"gcp:project {project!r}: project IDs are 6-30 lowercase letters, digits and hyphens, "
            "start with a letter and do not end with a hyphen"
        )
    if read.check(bool(REGION.match(region)), "gcp:region", region, "a region looks like europe-west1"):
        read.check(
            zone.startswith(region + "-") and len(zone) == len(region) + 2,
            "gcp:zone", zone, f"the zone must lie in gcp:region {region!r} (e.g. {region}-b)",
        )

    bucket = _bucket_settings(read, project, stack, region)
    vm = _vm_settings(read)
    registry = _registry_settings(read)
    training = _training_settings(read, region)
    github = _github_settings(read)
    encryption_key = _encryption_key(read, region, bucket.location)
    extra_labels = _labels(read)

    if problems:
        raise ConfigError(problems)
    return Settings(
        project=project, region=region, zone=zone, stack=stack, bucket=bucket, vm=vm,
        registry=registry, training=training, github=github, encryption_key=encryption_key,
        extra_labels=extra_labels,
    )


def load_from_pulumi() -> Settings:
    """`load_settings` over the running program's configuration."""
    import pulumi

    return load_settings(pulumi.Config().get, pulumi.Config("gcp").get, pulumi.get_stack())


def _bucket_settings(read: _Reader, project: str, stack: str, region: str) -> BucketSettings:
    name = read.value("bucketName") or naming.default_bucket_name(project or "project", stack)
    problem = naming.bucket_name_problem(name)
    read.check(problem is None, "bucketName", name, problem or "")
    location = read.value("bucketLocation") or region
    read.check(
        bool(LOCATION.match(location)), "bucketLocation", location,
        "use a region (europe-west1), a dual-region (EUR4) or a multi-region (EU)",
    )
    return BucketSettings(name=name, location=location, destroy_data=read.value("destroyData"))


def _vm_settings(read: _Reader) -> VmSettings:
    machine_type = read.value("vmMachineType")
    read.check(bool(MACHINE_TYPE.match(machine_type)), "vmMachineType", machine_type,
               "a Compute Engine machine type such as e2-medium or n1-standard-4")
    image = read.value("vmImage")
    read.check(
        bool(re.match(r"^(projects/[a-z0-9-]+/global/images/(family/)?)?[a-z][a-z0-9-]{0,62}$", image)),
        "vmImage", image,
        "an image family of deeplearning-platform-release (e.g. pytorch-latest-cpu) or a full "
        "path projects/PROJECT/global/images/[family/]NAME",
    )
    disk = read.value("vmDiskSizeGb")
    read.check(50 <= disk <= 65536, "vmDiskSizeGb", disk, "Deep Learning VM images need 50 to 65536 GB")
    gpu_type, gpu_count = read.value("vmGpuType"), read.value("vmGpuCount")
    if gpu_type or gpu_count:
        if read.check(gpu_type in VM_GPU_TYPES, "vmGpuType", gpu_type, f"one of {', '.join(VM_GPU_TYPES)}"):
            read.check(
                machine_type.startswith("n1-"), "vmGpuType", gpu_type,
                f"GPUs attach only to N1 machine types (e.g. n1-standard-4); vmMachineType "
                f"{machine_type!r} cannot take GPUs (a2/a3/g2 types come with their own)",
            )
        read.check(gpu_count in VM_GPU_COUNTS, "vmGpuCount", gpu_count,
                   f"one of {VM_GPU_COUNTS} when vmGpuType is set")
    schedules = {key: read.value(key) for key in ("vmStopSchedule", "vmStartSchedule")}
    for key, expression in schedules.items():
        read.check(not expression or _is_cron(expression), key, expression,
                   "a unix-cron expression with 5 fields, e.g. '0 19 * * *' (empty disables)")
    time_zone = read.value("vmTimeZone")
    read.check(_is_time_zone(time_zone), "vmTimeZone", time_zone, "an IANA time zone such as Europe/Copenhagen")
    return VmSettings(
        enabled=read.value("vmEnabled"), machine_type=machine_type, image=image, disk_size_gb=disk,
        external_ip=read.value("vmExternalIp"), spot=read.value("vmSpot"), gpu_type=gpu_type,
        gpu_count=gpu_count, stop_schedule=schedules["vmStopSchedule"],
        start_schedule=schedules["vmStartSchedule"], time_zone=time_zone,
        deletion_protection=read.value("vmDeletionProtection"),
    )


def _registry_settings(read: _Reader) -> RegistrySettings:
    repository_id = read.value("repositoryId")
    read.check(bool(REPOSITORY_ID.match(repository_id)), "repositoryId", repository_id,
               "1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen")
    keep = read.value("imageKeepCount")
    read.check(1 <= keep <= 1000, "imageKeepCount", keep, "between 1 and 1000")
    return RegistrySettings(repository_id=repository_id, image_keep_count=keep)


def _training_settings(read: _Reader, region: str) -> TrainingSettings:
    mode = read.value("trainingMode")
    read.check(mode in TRAINING_MODES, "trainingMode", mode, f"one of {', '.join(TRAINING_MODES)}")
    wait_for = read.value("trainingWaitFor")
    read.check(wait_for in WAIT_FOR, "trainingWaitFor", wait_for, f"one of {', '.join(WAIT_FOR)}")

    tier_name = read.value("trainingScaleTier").upper()
    tier = SCALE_TIERS.get(tier_name)
    read.check(tier_name in SCALE_TIERS, "trainingScaleTier", tier_name,
               f"one of {', '.join(SCALE_TIERS)} (BASIC_TPU has no PyTorch equivalent here)")
    machine_type = read.value("trainingMachineType") or (tier.machine_type if tier else "")
    replica_count = read.value("trainingReplicaCount") or (tier.replica_count if tier else 1)
    gpu_type = read.value("trainingGpuType") or (tier.gpu_type if tier else "")
    gpu_count = read.value("trainingGpuCount") or (tier.gpu_count if tier else 0)
    if tier_name == "CUSTOM" or machine_type:
        read.check(bool(MACHINE_TYPE.match(machine_type)), "trainingMachineType", machine_type,
                   "a machine type such as n1-standard-4 (required with trainingScaleTier CUSTOM)")
    read.check(1 <= replica_count <= 100, "trainingReplicaCount", replica_count, "between 1 and 100")
    if gpu_type or gpu_count:
        family = TRAINING_GPU_FAMILIES.get(gpu_type)
        if read.check(family is not None, "trainingGpuType", gpu_type,
                      f"one of {', '.join(TRAINING_GPU_FAMILIES)}"):
            read.check(machine_type.startswith(f"{family}-"), "trainingGpuType", gpu_type,
                       f"runs on {family}-* machine types; trainingMachineType {machine_type!r} cannot take it")
        read.check(gpu_count in (1, 2, 4, 8, 16), "trainingGpuCount", gpu_count,
                   "one of 1, 2, 4, 8, 16 when trainingGpuType is set")

    timeout_text = read.value("trainingTimeout")
    timeout = _duration_seconds(timeout_text)
    read.check(timeout is not None and timeout >= 60, "trainingTimeout", timeout_text,
               "a duration of at least one minute such as 90m, 2h, 1d12h or 7200s")

    executor_image = read.value("trainingExecutorImage") or default_executor_image(region, gpu=bool(gpu_type))
    read.check(bool(re.match(r"^[a-z0-9.-]+(:\d+)?/[^\s]+$", executor_image)), "trainingExecutorImage",
               executor_image, "a container image reference such as europe-docker.pkg.dev/vertex-ai/training/…")

    return TrainingSettings(
        enabled=read.value("trainingEnabled"), mode=mode, scale_tier=tier_name, machine_type=machine_type,
        replica_count=replica_count, gpu_type=gpu_type, gpu_count=gpu_count, spot=read.value("trainingSpot"),
        timeout_seconds=timeout or 0, wait_for=wait_for, executor_image=executor_image,
        args=_training_args(read),
    )


def _training_args(read: _Reader) -> TrainingArgs:
    given = read.value("trainingArgs")
    unknown = sorted(set(given) - set(TRAINING_ARGS_DEFAULTS))
    read.check(not unknown, "trainingArgs", given,
               f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TRAINING_ARGS_DEFAULTS)}")
    merged = {**TRAINING_ARGS_DEFAULTS, **given}

    def files(name: str) -> tuple[str, ...]:
        value = merged[name]
        paths = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
        read.check(
            bool(paths) and all(isinstance(p, str) and p.strip() for p in paths),
            f"trainingArgs.{name}", value, "a path or a non-empty list of paths (gs://… or /gcs/…)",
        )
        return tuple(str(p) for p in paths)

    def number(name: str, kind: type, minimum: float) -> Any:
        value = merged[name]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (kind is float or float(value).is_integer()) and value >= minimum
        read.check(ok, f"trainingArgs.{name}", value,
                   f"a {'whole ' if kind is int else ''}number of at least {minimum}")
        return kind(value) if ok else kind(TRAINING_ARGS_DEFAULTS[name])

    learning_rate = merged["learningRate"]
    lr_ok = isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool) and 0 < learning_rate <= 10
    read.check(lr_ok, "trainingArgs.learningRate", learning_rate, "a number greater than 0 and at most 10")
    return TrainingArgs(
        train_files=files("trainFiles"), eval_files=files("evalFiles"),
        num_epochs=number("numEpochs", int, 1), batch_size=number("batchSize", int, 1),
        learning_rate=float(learning_rate) if lr_ok else TRAINING_ARGS_DEFAULTS["learningRate"],
    )


def _github_settings(read: _Reader) -> GithubSettings:
    repository = read.value("githubRepository")
    read.check(not repository or bool(GITHUB_REPOSITORY.match(repository)), "githubRepository", repository,
               "OWNER/NAME of a GitHub repository (empty disables the CI identity)")
    repository_id = read.value("githubRepositoryId")
    read.check(not repository_id or repository_id.isdigit(), "githubRepositoryId", repository_id,
               "the repository's numeric id (gh api repos/OWNER/NAME --jq .id)")
    read.check(not repository_id or bool(repository), "githubRepositoryId", repository_id,
               "only meaningful together with githubRepository")
    deploy_ref = read.value("githubDeployRef")
    read.check(bool(GIT_REF.match(deploy_ref)), "githubDeployRef", deploy_ref,
               "a full git ref such as refs/heads/main or refs/tags/v1")
    return GithubSettings(repository=repository, repository_id=repository_id, deploy_ref=deploy_ref)


def _encryption_key(read: _Reader, region: str, bucket_location: str) -> str:
    key = read.value("encryptionKey")
    if not key:
        return key
    if key != "create":
        match = KMS_KEY_NAME.match(key)
        if not read.check(match is not None, "encryptionKey", key,
                          "empty (Google-managed), 'create', or projects/P/locations/L/keyRings/R/cryptoKeys/K"):
            return key
        read.check(match.group(1) == region, "encryptionKey", key,
                   f"the key must be in gcp:region {region!r}: disks and the repository need a key in their region")
    # A regional key can only encrypt a bucket in the same region.
    read.check(bucket_location.lower() == region, "encryptionKey", key,
               f"with CMEK, bucketLocation must be gcp:region {region!r} (it is {bucket_location!r})")
    return key


def _labels(read: _Reader) -> dict[str, str]:
    labels = read.value("labels")
    clean: dict[str, str] = {}
    for key, value in labels.items():
        if not read.check(bool(LABEL_KEY.match(str(key))), f"labels.{key}", key,
                          "label keys are 1-63 lowercase letters, digits, '_' or '-', starting with a letter"):
            continue
        if read.check(isinstance(value, str) and bool(LABEL_VALUE.match(value)), f"labels.{key}", value,
                      "label values are up to 63 lowercase letters, digits, '_' or '-'"):
            clean[str(key)] = value
    reserved = sorted(key for key in labels if key in RESERVED_LABELS or str(key).startswith("goog"))
    read.check(not reserved, "labels", labels,
               f"{', '.join(map(str, reserved))} are set by the stack (reserved: {', '.join(sorted(RESERVED_LABELS))}, goog*)")
    read.check(len(labels) <= MAX_EXTRA_LABELS, "labels", f"{len(labels)} labels",
               f"at most {MAX_EXTRA_LABELS}: Google Cloud allows 64 per resource and the stack adds up to 6")
    return clean


def _is_cron(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _duration_seconds(text: str) -> Optional[int]:
    match = DURATION.match(text.strip()) if text.strip() else None
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


__all__ = [
    "ConfigError", "Settings", "BucketSettings", "VmSettings", "RegistrySettings", "TrainingSettings",
    "TrainingArgs", "GithubSettings", "load_settings", "load_from_pulumi", "DEFAULTS", "SCALE_TIERS",
]
