"""Platform facts: values that Google owns and may change or retire, each with where it was read.

Data, not logic. Configuration validation and defaults read from here; nothing else in the stack
spells out an image family, an executor image, a machine shape or a GPU limit. Every entry names
the page (or discovery document) it comes from and the day it was read: re-check them when they
are old, and `make doctor` checks the ones that can be checked against the live platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Source:
    url: str
    read_on: date
    note: str = ""


READ_ON = date(2026, 12, 1)

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# --- Deep Learning VM images -------------------------------------------------------------------

DEEP_LEARNING_IMAGES_PROJECT = "deeplearning-platform-release"
DL_VM_IMAGES = Source(
    "https://docs.cloud.google.com/deep-learning-vm/docs/images",
    READ_ON,
    "page last updated 2026-04-10: only CUDA families are listed; 'All CPU-based images have been deprecated' and "
    "'Debian images have all been deprecated'; pytorch-latest-cpu is not listed (and does not start, "
    "github.com/SkafteNicki/dtu_mlops/issues/531). The page does not say whether CUDA images run on VMs "
    "without a GPU; they ship the NVIDIA 580 driver, so no driver install is asked for on such VMs.",
)


@dataclass(frozen=True)
class VmImageFamily:
    name: str
    framework: str
    os: str
    python: str
    end_of_availability: date
    source: Source = DL_VM_IMAGES


DL_VM_FAMILIES: tuple[VmImageFamily, ...] = (
    VmImageFamily("pytorch-2-9-cu129-ubuntu-2204-nvidia-580", "PyTorch 2.9, CUDA 12.9", "Ubuntu 22.04", "3.12",
                  date(2028, 8, 4)),
    VmImageFamily("pytorch-2-9-cu129-ubuntu-2404-nvidia-580", "PyTorch 2.9, CUDA 12.9", "Ubuntu 24.04", "3.12",
                  date(2028, 8, 4)),
    VmImageFamily("common-cu129-ubuntu-2204-nvidia-580", "none (CUDA 12.9)", "Ubuntu 22.04", "3.12", date(2028, 8, 4)),
    VmImageFamily("common-cu129-ubuntu-2404-nvidia-580", "none (CUDA 12.9)", "Ubuntu 24.04", "3.12", date(2028, 8, 4)),
)  # fmt: skip


def vm_image_family(name: str) -> VmImageFamily | None:
    return next((family for family in DL_VM_FAMILIES if family.name == name), None)


def current_vm_families(today: date) -> list[str]:
    return [family.name for family in DL_VM_FAMILIES if family.end_of_availability > today]


def parse_vm_image(image: str) -> tuple[str, str, str]:
    """`vmImage` as (project, "family" or "image", name): a bare name is a Deep Learning VM family,
    `projects/P/global/images/family/F` a family of P, `projects/P/global/images/I` one image."""
    if not image.startswith("projects/"):
        return DEEP_LEARNING_IMAGES_PROJECT, "family", image
    parts = image.split("/")
    return parts[1], ("family" if parts[-2] == "family" else "image"), parts[-1]


# --- Vertex AI prebuilt training containers ---------------------------------------------------

PREBUILT_TRAINING = Source(
    "https://docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/training/pre-built-containers",
    READ_ON,
    "newest PyTorch rows are 2.4; no PyTorch row is within its availability any more (2.4: end of availability "
    "2026-07-24; 2.2 CPU: 2026-10-23). aiplatform.v1 PythonPackageSpec.executorImageUri: 'You must use an image "
    "from this list'; the page: 'Using image names without the latest tag isn't supported'.",
)
EXECUTOR_REGISTRIES = {"us": "us-docker.pkg.dev", "europe": "europe-docker.pkg.dev", "asia": "asia-docker.pkg.dev"}


@dataclass(frozen=True)
class ExecutorImage:
    name: str
    torch: str
    python: str
    gpu: bool
    end_of_availability: date
    source: Source = PREBUILT_TRAINING

    def uri(self, region: str) -> str:
        continent = region.split("-")[0]
        multi_region = {"europe": "europe", "asia": "asia", "australia": "asia", "me": "europe"}.get(continent, "us")
        return f"{EXECUTOR_REGISTRIES[multi_region]}/vertex-ai/training/{self.name}:latest"


# Newest first within each device. CPU PyTorch images are called pytorch-xla; there is no pytorch-cpu.
EXECUTOR_IMAGES: tuple[ExecutorImage, ...] = (
    ExecutorImage("pytorch-xla.2-4.py310", "2.4", "3.10", gpu=False, end_of_availability=date(2026, 7, 24)),
    ExecutorImage("pytorch-gpu.2-4.py310", "2.4", "3.10", gpu=True, end_of_availability=date(2026, 7, 24)),
    ExecutorImage("pytorch-xla.2-3.py310", "2.3", "3.10", gpu=False, end_of_availability=date(2026, 4, 24)),
    ExecutorImage("pytorch-gpu.2-3.py310", "2.3", "3.10", gpu=True, end_of_availability=date(2026, 4, 24)),
    ExecutorImage("pytorch-xla.2-2.py310", "2.2", "3.10", gpu=False, end_of_availability=date(2026, 10, 23)),
)


def executor_image(gpu: bool) -> ExecutorImage:
    """The newest prebuilt PyTorch training image for the device, available or not (the caller warns)."""
    return next(image for image in EXECUTOR_IMAGES if image.gpu == gpu)


def executor_image_of(uri: str) -> ExecutorImage | None:
    """The catalog entry of a prebuilt executor image URI (any registry), or None for other images."""
    name = uri.rsplit("/", 1)[-1].split(":", 1)[0]
    return next((image for image in EXECUTOR_IMAGES if image.name == name), None)


# --- AI Platform scale tiers ------------------------------------------------------------------

SCALE_TIER_SOURCE = Source(
    "googleapiclient discovery document ml.v1.json (GoogleCloudMlV1__TrainingInput.scaleTier), and "
    "https://cloud.google.com/ai-platform/training/docs/deprecations",
    READ_ON,
    "AI Platform Training was shut down on 2025-01-31; its own machine table could not be retrieved. BASIC is "
    "'a single worker instance', BASIC_GPU 'a single worker instance with a GPU', STANDARD_1 'many workers and a "
    "few parameter servers', PREMIUM_1 'a large number of workers'. The Vertex AI shapes below are this stack's "
    "equivalents (BASIC ~ n1-standard-4, BASIC_GPU ~ n1-standard-8 + 1 T4, as the project's field notes have them).",
)


@dataclass(frozen=True)
class ScaleTier:
    """What one of AI Platform's old `--scale-tier` names means on Vertex AI."""

    machine_type: str
    replica_count: int = 1
    gpu_type: str = ""
    gpu_count: int = 0


# Parameter servers have no PyTorch equivalent: the distributed tiers become a chief plus workers (DDP).
SCALE_TIERS: dict[str, ScaleTier | None] = {
    "BASIC": ScaleTier("n1-standard-4"),
    "BASIC_GPU": ScaleTier("n1-standard-8", gpu_type="NVIDIA_TESLA_T4", gpu_count=1),
    "STANDARD_1": ScaleTier("n1-highcpu-8", replica_count=5),
    "PREMIUM_1": ScaleTier("n1-highcpu-16", replica_count=20),
    "CUSTOM": None,
}

# --- GPUs -------------------------------------------------------------------------------------

GPU_TABLE = Source(
    "https://docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/training/configure-compute",
    READ_ON,
    "'To use GPUs, you must use an A2, N1, or G2 machine type'; 'you can use 2 or 4 NVIDIA_TESLA_T4 GPUs on a VM, "
    "but not 3'; 'NVIDIA P100 GPUs reach end of support on September 15, 2026'. Enum names from aiplatform.v1 "
    "MachineSpec.acceleratorType (K80 deprecated). Compute Engine attaches GPUs only to N1 (machine-resource page, "
    "2026-05-08): at most 4 T4/P4/P100 and 8 V100 per VM.",
)


CUDA_CAPABILITIES = Source(
    "https://developer.nvidia.com/cuda-gpus",
    READ_ON,
    "Compute capability: Tesla P4 6.1, P100 6.0, V100 7.0, T4 7.5, A100 8.0, L4 8.9, H100 9.0.",
)


@dataclass(frozen=True)
class GpuType:
    vertex_name: str  # aiplatform.v1 MachineSpec.acceleratorType
    compute_name: str | None  # Compute Engine accelerator type, where it attaches to an N1 VM
    machine_family: str
    counts: tuple[int, ...]  # how many one VM may have
    capability: float  # CUDA compute capability (CUDA_CAPABILITIES)
    end_of_support: date | None = None
    source: Source = GPU_TABLE


GPU_TYPES: tuple[GpuType, ...] = (
    GpuType("NVIDIA_TESLA_T4", "nvidia-tesla-t4", "n1", (1, 2, 4), 7.5),
    GpuType("NVIDIA_TESLA_P4", "nvidia-tesla-p4", "n1", (1, 2, 4), 6.1),
    GpuType("NVIDIA_TESLA_V100", "nvidia-tesla-v100", "n1", (1, 2, 4, 8), 7.0),
    GpuType("NVIDIA_TESLA_P100", "nvidia-tesla-p100", "n1", (1, 2, 4), 6.0, end_of_support=date(2026, 9, 15)),
    GpuType("NVIDIA_TESLA_A100", None, "a2", (1, 2, 4, 8, 16), 8.0),
    GpuType("NVIDIA_A100_80GB", None, "a2", (1, 2, 4, 8), 8.0),
    GpuType("NVIDIA_L4", None, "g2", (1, 2, 4, 8), 8.9),
    GpuType("NVIDIA_H100_80GB", None, "a3", (1, 2, 4, 8), 9.0),
)

# --- PyTorch's CUDA wheels (the stack's trainer image for GPU training) ---------------------------

TORCH_CUDA_WHEELS = Source(
    "https://github.com/pytorch/pytorch/blob/main/RELEASE.md#pytorch-cuda-support-matrix",
    READ_ON,
    "pytorch/pytorch#172352 (2026-01, the matrix from 2.10/2.11 on): CUDA 12.8 builds support Turing (7.5), "
    "Ampere (8.0, 8.6), Hopper (9.0), Blackwell; Maxwell and Pascal were dropped in 2.8 and Volta (7.0) from "
    "the 2.11 CUDA 12.8 builds. Ada (8.9) runs the 8.6 kernels (same major capability).",
)
TORCH_CUDA_INDEX_URL = "https://download.pytorch.org/whl/cu128"
TORCH_CUDA_MIN_CAPABILITY = 7.5


def gpu_by_vertex_name(name: str) -> GpuType | None:
    return next((gpu for gpu in GPU_TYPES if gpu.vertex_name == name), None)


def gpu_by_compute_name(name: str) -> GpuType | None:
    return next((gpu for gpu in GPU_TYPES if gpu.compute_name == name), None)


# --- regions and networking -------------------------------------------------------------------

# Vertex AI's locational endpoints (aiplatform.v1.json `endpoints`, revision 20261106): where the job can run.
VERTEX_REGIONS_SOURCE = Source("googleapiclient discovery document aiplatform.v1.json (endpoints)", READ_ON)
VERTEX_REGIONS = frozenset({
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "asia-southeast3",
    "australia-southeast1", "australia-southeast2", "europe-central2", "europe-north1", "europe-north2",
    "europe-southwest1", "europe-west1", "europe-west10", "europe-west12", "europe-west15", "europe-west2",
    "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9", "me-central1",
    "me-central2", "me-west1", "northamerica-northeast1", "northamerica-northeast2", "southamerica-east1",
    "southamerica-west1", "us-central1", "us-central2", "us-east1", "us-east4", "us-east5", "us-east7",
    "us-south1", "us-west1", "us-west2", "us-west3", "us-west4", "us-west8",
})  # fmt: skip

IAP_SOURCE = Source(
    "https://cloud.google.com/iap/docs/using-tcp-forwarding",
    READ_ON,
    "'allows ingress traffic from the IP range 35.235.240.0/20. This range contains all IP addresses that IAP "
    "uses for TCP forwarding.'",
)
# Where Identity-Aware Proxy's TCP forwarding (`gcloud compute ssh --tunnel-through-iap`) comes from.
IAP_TCP_FORWARDING_RANGE = "35.235.240.0/20"

# --- Cloud Run --------------------------------------------------------------------------------

CLOUD_RUN_LIMITS = Source(
    "https://cloud.google.com/run/docs/configuring/services/cpu, .../memory-limits, run.v2.json",
    READ_ON,
    "CPU '1', '2', '4', '6', '8'; 1 CPU takes up to 4 GiB, 2 CPU up to 8 GiB; with resources.limits set, cpuIdle "
    "must be set true to keep CPU (and billing) to request time; startup probes: period and initial delay at most "
    "240 s; SIGTERM 10 s before the instance stops.",
)
CLOUD_RUN_CPU_MEMORY_LIMITS_GIB = {"1": 4, "2": 8, "4": 16, "6": 24, "8": 32}
# The stack's bound on servingMin/MaxInstances: Cloud Run's default maximum (run.v2 RevisionScaling.maxInstanceCount:
# "When unspecified, the field is set to the server default value of 100"). Cloud Run itself allows more, up to the
# region's CPU and memory quota (https://cloud.google.com/run/docs/configuring/max-instances-limits).
CLOUD_RUN_MAX_INSTANCES = 100
# run.v2 services.create serviceId: "must begin with letter, and cannot end with hyphen; must contain fewer than 50
# characters".
CLOUD_RUN_SERVICE_NAME_LIMIT = 49
