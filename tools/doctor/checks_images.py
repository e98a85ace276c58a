"""Checks of the images the stack starts from: the VM's image family and package mode's executor image."""

from __future__ import annotations

import re
from datetime import date

from providers.google_errors import GoogleApiError
from stack import catalog
from tools.doctor.context import Context
from tools.doctor.google_http import MANIFEST_TYPES, GoogleClient, Unreachable, short
from tools.doctor.report import Result, fail, ok, skip, warn

IMAGE_PATH = re.compile(r"^projects/(?P<project>[^/]+)/global/images/(?:family/(?P<family>[^/]+)|(?P<image>[^/]+))$")
IMAGE_REFERENCE = re.compile(r"^(?P<host>[^/]+)/(?P<path>[^:@]+)(?:(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?)$")


# stack.catalog grows as the platform changes: use what it has, else Google's own pages.
IMAGES_PAGE = getattr(
    getattr(catalog, "DL_VM_IMAGES", None), "url", "https://cloud.google.com/deep-learning-vm/docs/images"
)
EXECUTORS_PAGE = getattr(
    getattr(catalog, "PREBUILT_TRAINING", None),
    "url",
    "https://cloud.google.com/vertex-ai/docs/training/pre-built-containers",
)


def _client(context: Context) -> GoogleClient:
    assert context.client is not None
    return context.client


def current_families(today: date | None = None) -> list[str]:
    """The Deep Learning VM families stack.catalog knows that Google still makes available."""
    today = today or date.today()
    families = getattr(catalog, "DL_VM_FAMILIES", ())
    return [family.name for family in families if getattr(family, "end_of_availability", today) > today]


def _other_family_fix(context: Context, image: str) -> str:
    source = IMAGES_PAGE
    others = [family for family in current_families() if family != image]
    if not others:
        return f"pick a current family from {source}, then pulumi config set vmImage FAMILY --stack {context.stack}"
    listed = f"current families in stack/catalog.py: {', '.join(others)}; Google's list: {source}"
    return f"pulumi config set vmImage {others[0]} --stack {context.stack} ({listed})"


def _image_url(context: Context, image: str) -> tuple[str, str]:
    """The compute.v1 URL that resolves `vmImage`, and how to name it in messages."""
    compute = f"{context.endpoints.compute}/compute/v1/projects"
    path = IMAGE_PATH.match(image)
    if path and path["family"]:
        return f"{compute}/{path['project']}/global/images/family/{path['family']}", image
    if path:
        return f"{compute}/{path['project']}/global/images/{path['image']}", image
    project = catalog.DEEP_LEARNING_IMAGES_PROJECT
    return f"{compute}/{project}/global/images/family/{image}", f"family {image} in {project}"


def check_vm_image(context: Context) -> Result:
    name = "VM image"
    settings = context.settings
    assert settings is not None
    if not settings.vm.enabled:
        return skip(name, "not needed: vmEnabled is false")
    image = settings.vm.image
    url, described = _image_url(context, image)
    try:
        found = _client(context).get(url)
    except GoogleApiError as error:
        if error.is_not_found:
            return fail(name, f"vmImage {image!r}: {described} was not found (or all its images are deprecated)",
                        _other_family_fix(context, image))  # fmt: skip
        return warn(name, f"could not tell whether vmImage {image!r} resolves ({short(error)})")
    except Unreachable as error:
        return warn(name, f"could not reach Compute Engine: {error}")
    state = (found.get("deprecated") or {}).get("state", "")
    resolved = f"vmImage {image!r} -> {found.get('name', '?')}"
    if state in ("OBSOLETE", "DELETED"):
        return fail(name, f"{resolved} is {state}", f"pulumi config set vmImage FAMILY --stack {context.stack}")
    disk = int(found.get("diskSizeGb") or 0)
    if disk > settings.vm.disk_size_gb:
        return fail(name, f"{resolved} needs a {disk} GB disk; vmDiskSizeGb is {settings.vm.disk_size_gb}",
                    f"pulumi config set vmDiskSizeGb {disk} --stack {context.stack}")  # fmt: skip
    if state == "DEPRECATED":
        return warn(name, f"{resolved} is DEPRECATED", f"pulumi config set vmImage FAMILY --stack {context.stack}")
    return ok(name, f"{resolved} ({disk} GB)")


def check_executor_image(context: Context) -> Result:
    name = "executor image"
    settings = context.settings
    assert settings is not None
    if not settings.builds_package:
        return skip(name, "not needed: only trainingMode package runs on a prebuilt image")
    uri = settings.training.executor_image
    reference = IMAGE_REFERENCE.match(uri)
    if not reference:
        return fail(name, f"trainingExecutorImage {uri!r} is not an image reference",
                    f"pulumi config set trainingExecutorImage HOST/PATH:TAG --stack {context.stack}")  # fmt: skip
    tag = reference["digest"] or reference["tag"] or "latest"
    url = f"{context.endpoints.registry_for(reference['host'])}/v2/{reference['path']}/manifests/{tag}"
    try:
        status = _client(context).head(url, {"Accept": MANIFEST_TYPES})
    except Unreachable as error:
        return warn(name, f"could not reach {reference['host']}: {error}")
    if status == 404:
        return fail(
            name,
            f"trainingExecutorImage {uri} does not exist",
            f"pulumi config set trainingExecutorImage IMAGE --stack {context.stack} with an image from "
            f"{EXECUTORS_PAGE}, or trainingMode container",
        )
    if status != 200:
        return warn(name, f"could not tell whether {uri} exists (HTTP {status} from the registry)")
    entry = catalog.executor_image_of(uri) if hasattr(catalog, "executor_image_of") else None
    if entry is not None and entry.end_of_availability <= date.today():
        return warn(name, f"{uri} exists, but Google's end of availability for it was {entry.end_of_availability}: "
                          "Vertex AI may refuse new jobs with it",
                    f"pulumi config set trainingMode container --stack {context.stack}")  # fmt: skip
    return ok(name, f"{uri} exists")
