"""Checks of the images the stack starts from: the VM's image family and package mode's executor image."""

from __future__ import annotations

import re
from datetime import date

from providers.google_errors import GoogleApiError
from stack import catalog
from stack.config import Settings
from tools.doctor.common import ask_google, client_of, only_when
from tools.doctor.context import Context
from tools.doctor.endpoints import GOOGLE_REGISTRY_HOST
from tools.doctor.google_http import MANIFEST_TYPES, short
from tools.doctor.report import Result, fail, ok, warn

IMAGE_REFERENCE = re.compile(r"^(?P<host>[^/]+)/(?P<path>[^:@]+)(?:(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?)$")


def _other_family_fix(context: Context, image: str) -> str:
    source = catalog.DL_VM_IMAGES.url
    others = [family for family in catalog.current_vm_families(date.today()) if family != image]
    if not others:
        return f"pick a current family from {source}, then pulumi config set vmImage FAMILY --stack {context.stack}"
    listed = f"current families in stack/catalog.py: {', '.join(others)}; Google's list: {source}"
    return f"pulumi config set vmImage {others[0]} --stack {context.stack} ({listed})"


def _image_url(context: Context, image: str) -> tuple[str, str]:
    """The compute.v1 URL that resolves `vmImage`, and how to name it in messages."""
    project, kind, name = catalog.parse_vm_image(image)
    url = f"{context.endpoints.compute}/compute/v1/projects/{project}/global/images/"
    url += f"family/{name}" if kind == "family" else name
    described = image if image.startswith("projects/") else f"family {name} in {project}"
    return url, described


@only_when("VM image", lambda settings: settings.vm.enabled, "vmEnabled is false")
def check_vm_image(context: Context, settings: Settings, name: str) -> Result:
    image = settings.vm.image
    url, described = _image_url(context, image)

    def known(error: GoogleApiError) -> Result:
        if error.is_not_found:
            return fail(name, f"vmImage {image!r}: {described} was not found (or all its images are deprecated)",
                        _other_family_fix(context, image))  # fmt: skip
        return warn(name, f"could not tell whether vmImage {image!r} resolves ({short(error)})")

    found = ask_google(context, name, "Compute Engine", lambda: client_of(context).get(url), known=known)
    if isinstance(found, Result):
        return found
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


@only_when("executor image", lambda settings: settings.builds_package,
           "only trainingMode package runs on a prebuilt image")  # fmt: skip
def check_executor_image(context: Context, settings: Settings, name: str) -> Result:
    uri = settings.training.executor_image
    reference = IMAGE_REFERENCE.match(uri)
    if not reference:
        return fail(name, f"trainingExecutorImage {uri!r} is not an image reference",
                    f"pulumi config set trainingExecutorImage HOST/PATH:TAG --stack {context.stack}")  # fmt: skip
    if not GOOGLE_REGISTRY_HOST.match(reference["host"]):
        # Vertex AI runs package mode only on Google's prebuilt images; and the token must not go elsewhere.
        return fail(name, f"trainingExecutorImage {uri}: not a Google prebuilt training image (not checked)",
                    f"pulumi config set trainingExecutorImage IMAGE --stack {context.stack} with an image from "
                    f"{catalog.PREBUILT_TRAINING.url}, or trainingMode container")  # fmt: skip
    tag = reference["digest"] or reference["tag"] or "latest"
    url = f"{context.endpoints.registry_for(reference['host'])}/v2/{reference['path']}/manifests/{tag}"
    status = ask_google(
        context, name, reference["host"], lambda: client_of(context).head(url, {"Accept": MANIFEST_TYPES})
    )
    if isinstance(status, Result):
        return status
    if status == 404:
        return fail(
            name,
            f"trainingExecutorImage {uri} does not exist",
            f"pulumi config set trainingExecutorImage IMAGE --stack {context.stack} with an image from "
            f"{catalog.PREBUILT_TRAINING.url}, or trainingMode container",
        )
    if status != 200:
        return warn(name, f"could not tell whether {uri} exists (HTTP {status} from the registry)")
    entry = catalog.executor_image_of(uri)
    if entry is not None and entry.end_of_availability <= date.today():
        return warn(name, f"{uri} exists, but Google's end of availability for it was {entry.end_of_availability}: "
                          "Vertex AI may refuse new jobs with it",
                    f"pulumi config set trainingMode container --stack {context.stack}")  # fmt: skip
    return ok(name, f"{uri} exists")
