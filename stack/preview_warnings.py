"""Warnings `pulumi preview` and `pulumi up` print (`pulumi.warn`): configured (or default) platform values
that Google has retired or is retiring, and settings that need a step outside the stack.

Each names the key and what to do. Platform facts come from `stack.catalog`; `make doctor` checks
them against the live platform where it can.
"""

from __future__ import annotations

from datetime import date, timedelta

from stack import catalog, naming
from stack.config import Settings

# How long before a retirement date the stack starts to warn.
SOON = timedelta(days=90)


def of(settings: Settings, today: date | None = None) -> list[str]:
    today = today or date.today()
    warnings = []
    if settings.builds_package:
        warnings += _executor_image(settings.training.executor_image, settings.region, today)
    if settings.vm.enabled:
        warnings += _vm_image(settings.vm.image, today)
        gpu = catalog.gpu_by_compute_name(settings.vm.gpu_type) if settings.vm.gpu_type else None
        warnings += _gpu(gpu, f"vmGpuType {settings.vm.gpu_type}", today)
    if settings.training.enabled:
        gpu = catalog.gpu_by_vertex_name(settings.training.gpu_type) if settings.training.gpu_type else None
        warnings += _gpu(gpu, f"trainingGpuType {settings.training.gpu_type}", today)
    if settings.serving.enabled:
        warnings += _serving_model(settings)
    elif settings.serving.off_because:
        warnings.append(f"servingEnabled: serving is off: {settings.serving.off_because} (servingEnabled false "
                        "says so and silences this)")  # fmt: skip
    return warnings


def _executor_image(uri: str, region: str, today: date) -> list[str]:
    image = catalog.executor_image_of(uri)
    if image is None or image.end_of_availability > today:
        return []
    newer = [candidate for candidate in catalog.EXECUTOR_IMAGES
             if candidate.gpu == image.gpu and candidate.end_of_availability > today]  # fmt: skip
    instead = (
        f"use trainingExecutorImage {newer[0].uri(region)}"
        if newer
        else "Google lists no PyTorch prebuilt training image that is still available: use trainingMode "
        "container (the default), which runs the trainer's own image"
    )
    return [
        f"trainingExecutorImage {uri}: Google's end of availability for this prebuilt image was "
        f"{image.end_of_availability} ({image.source.url}, read {image.source.read_on}); Vertex AI may refuse "
        f"new jobs with it. {instead}."
    ]


def _vm_image(image: str, today: date) -> list[str]:
    if image.startswith("projects/"):
        return []
    family = catalog.vm_image_family(image)
    current = ", ".join(catalog.current_vm_families(today)) or f"see {catalog.DL_VM_IMAGES.url}"
    if family is None:
        return [
            f"vmImage {image}: not among the Deep Learning VM families this stack knows ({current}; "
            f"{catalog.DL_VM_IMAGES.url}). The image lookup stops the run if the family does not exist."
        ]
    if family.end_of_availability - today <= SOON:
        return [
            f"vmImage {image}: Google's end of availability for this family is {family.end_of_availability}; "
            f"current families: {current}"
        ]
    return []


def _gpu(gpu: catalog.GpuType | None, setting: str, today: date) -> list[str]:
    if gpu is None or gpu.end_of_support is None or gpu.end_of_support - today > SOON:
        return []
    return [f"{setting}: Google's end of support is {gpu.end_of_support} ({gpu.source.url})"]


def _serving_model(settings: Settings) -> list[str]:
    """A model in another bucket: the stack grants reads of its own bucket only."""
    uri, location = settings.serving.model_uri, settings.serving.model_location
    if location is None or location[0] == settings.bucket.name:
        return []
    bucket = location[0]
    account = f"{naming.service_account_id(settings.stack, 'server')}@{settings.project}.iam.gserviceaccount.com"
    return [
        f"servingModelUri {uri}: the model server may read only this stack's bucket; let it read gs://{bucket}: "
        f"gcloud storage buckets add-iam-policy-binding gs://{bucket} --member serviceAccount:{account} "
        "--role roles/storage.objectViewer"
    ]
