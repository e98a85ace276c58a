"""Warnings about configured (or default) platform values that Google has retired or is retiring.

`pulumi preview` and `pulumi up` print them (`pulumi.warn`); each names the key and what to use
instead. The facts come from `stack.catalog`, and `make doctor` checks them against the live
platform where it can.
"""

from __future__ import annotations

from datetime import date, timedelta

from stack import catalog
from stack.config import Settings

# How long before a retirement date the stack starts to warn.
SOON = timedelta(days=90)


def of(settings: Settings, today: date | None = None) -> list[str]:
    today = today or date.today()
    warnings = []
    if settings.builds_package:
        warnings += _executor_image(settings.training.executor_image, today)
    if settings.vm.enabled:
        warnings += _vm_image(settings.vm.image, today)
    return warnings


def _executor_image(uri: str, today: date) -> list[str]:
    image = catalog.executor_image_of(uri)
    if image is None or image.end_of_availability > today:
        return []
    newer = [candidate for candidate in catalog.EXECUTOR_IMAGES
             if candidate.gpu == image.gpu and candidate.end_of_availability > today]  # fmt: skip
    instead = (
        f"use trainingExecutorImage {newer[0].uri('us-central1')} (or its europe-/asia- twin)"
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
    current = [f.name for f in catalog.DL_VM_FAMILIES if f.end_of_availability > today]
    if family is None:
        return [
            f"vmImage {image}: not among the Deep Learning VM families this stack knows ({', '.join(current)}; "
            f"{catalog.DL_VM_IMAGES.url}). The image lookup stops the run if the family does not exist."
        ]
    if family.end_of_availability - today <= SOON:
        return [
            f"vmImage {image}: Google's end of availability for this family is {family.end_of_availability}; "
            f"current families: {', '.join(current) or 'see ' + catalog.DL_VM_IMAGES.url}"
        ]
    return []
