"""Project-wide settings: where the stack runs, the data bucket, the registry, encryption and labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack import naming
from stack.config.reader import Reader

KMS_KEY_NAME = re.compile(r"^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$")
REPOSITORY_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
LOCATION = re.compile(r"^[a-z]+(?:-[a-z]+[0-9]*)*$|^[A-Z0-9-]+$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
# Labels the stack sets itself (stack.labels, per-resource purpose/run, the job's create token) and
# pulumi-gcp's goog-pulumi-provisioned: 64 per resource is Google's limit.
RESERVED_LABELS = frozenset({"stack", "pulumi-project", "managed-by", "purpose", "run", "pulumi_create_token"})
MAX_EXTRA_LABELS = 64 - 6
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class BucketSettings:
    name: str
    location: str
    destroy_data: bool


@dataclass(frozen=True)
class RegistrySettings:
    repository_id: str
    image_keep_count: int


def read_location(read: Reader, gcp_config) -> tuple[str, str]:
    """gcp:region and gcp:zone, the zone inside the region."""
    region = gcp_config("region") or "europe-west1"
    zone = gcp_config("zone") or f"{region}-b"
    if read.check_final(bool(REGION.match(region)), "gcp:region", region, "a region looks like europe-west1"):
        read.check(
            zone.startswith(region + "-") and len(zone) == len(region) + 2,
            "gcp:zone",
            zone,
            f"the zone must lie in gcp:region {region!r} (e.g. {region}-b)",
        )
    return region, zone


def read_project(read: Reader, gcp_config) -> str:
    project = gcp_config("project") or ""
    if not project:
        read.problems.append("gcp:project is not set: run `pulumi config set gcp:project YOUR_PROJECT_ID`")
    elif not naming.is_project_id(project):
        read.problems.append(
            f"gcp:project {project!r}: project IDs are 6-30 lowercase letters, digits and hyphens, "
            "start with a letter and do not end with a hyphen"
        )
    return project


def read_bucket(read: Reader, project: str, stack: str, region: str) -> BucketSettings:
    name = read.value("bucketName") or naming.default_bucket_name(project or "project", stack)
    problem = naming.bucket_name_problem(name)
    read.check(problem is None, "bucketName", name, problem or "")
    location = read.value("bucketLocation") or region
    read.check(
        bool(LOCATION.match(location)),
        "bucketLocation",
        location,
        "use a region (europe-west1), a dual-region (EUR4) or a multi-region (EU)",
    )
    return BucketSettings(name=name, location=location, destroy_data=read.value("destroyData"))


def read_registry(read: Reader) -> RegistrySettings:
    repository_id = read.value("repositoryId")
    read.check(
        bool(REPOSITORY_ID.match(repository_id)),
        "repositoryId",
        repository_id,
        "1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    )
    keep = read.value("imageKeepCount")
    read.check(1 <= keep <= 1000, "imageKeepCount", keep, "between 1 and 1000")
    return RegistrySettings(repository_id=repository_id, image_keep_count=keep)


def read_encryption_key(read: Reader, region: str, bucket_location: str) -> str:
    key = read.value("encryptionKey")
    if not key:
        return key
    if key != "create":
        match = KMS_KEY_NAME.match(key)
        if not read.check(
            match is not None,
            "encryptionKey",
            key,
            "empty (Google-managed), 'create', or projects/P/locations/L/keyRings/R/cryptoKeys/K",
        ):
            return key
        read.check(
            match.group(1) == region,
            "encryptionKey",
            key,
            f"the key must be in gcp:region {region!r}: disks and the repository need a key in their region",
        )
    # A regional key can only encrypt a bucket in the same region.
    read.check(
        bucket_location.lower() == region,
        "encryptionKey",
        key,
        f"with CMEK, bucketLocation must be gcp:region {region!r} (it is {bucket_location!r})",
    )
    return key


def read_labels(read: Reader) -> dict[str, str]:
    labels = read.value("labels")
    clean: dict[str, str] = {}
    for key, value in labels.items():
        if not read.check(
            bool(LABEL_KEY.match(str(key))),
            f"labels.{key}",
            key,
            "label keys are 1-63 lowercase letters, digits, '_' or '-', starting with a letter",
        ):
            continue
        if read.check(
            isinstance(value, str) and bool(LABEL_VALUE.match(value)),
            f"labels.{key}",
            value,
            "label values are up to 63 lowercase letters, digits, '_' or '-'",
        ):
            clean[str(key)] = value
    reserved = sorted(key for key in labels if key in RESERVED_LABELS or str(key).startswith("goog"))
    read.check(
        not reserved,
        "labels",
        labels,
        f"label(s) {', '.join(map(str, reserved))}: set by the stack (reserved: {', '.join(sorted(RESERVED_LABELS))}, "
        "goog*)",
    )
    read.check(
        len(labels) <= MAX_EXTRA_LABELS,
        "labels",
        f"{len(labels)} labels",
        f"at most {MAX_EXTRA_LABELS}: Google Cloud allows 64 per resource and the stack adds up to 6",
    )
    return clean
