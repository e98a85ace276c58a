"""Platform facts: values that Google owns and may change or retire.

Data, not logic. Configuration validation and defaults read from here; nothing else in the
stack spells out an image family, an executor image, a machine shape or a GPU limit.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# --- Deep Learning VM images ------------------------------------------------------------------

DEEP_LEARNING_IMAGES_PROJECT = "deeplearning-platform-release"

# --- Vertex AI prebuilt training containers ---------------------------------------------------

EXECUTOR_IMAGE = "{multi_region}-docker.pkg.dev/vertex-ai/training/pytorch-{device}.2-4.py310:latest"


def executor_image(region: str, gpu: bool = False) -> str:
    """Vertex AI's prebuilt PyTorch image (CPU or GPU) from the multi-region nearest `region`."""
    continent = region.split("-")[0]
    multi_region = {"europe": "europe", "asia": "asia", "australia": "asia", "me": "europe"}.get(continent, "us")
    return EXECUTOR_IMAGE.format(multi_region=multi_region, device="gpu" if gpu else "cpu")


# --- AI Platform scale tiers ------------------------------------------------------------------


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
TRAINING_GPU_COUNTS = (1, 2, 4, 8, 16)

# --- networking -------------------------------------------------------------------------------

# Where Identity-Aware Proxy's TCP forwarding (`gcloud compute ssh --tunnel-through-iap`) comes from.
IAP_TCP_FORWARDING_RANGE = "35.235.240.0/20"
