"""The data bucket: datasets, the DVC remote, models, job outputs, trainer packages and build contexts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.apis import ProjectApis
from stack import iam
from stack.config import BucketSettings, Settings

# Documented layout of the bucket (README "Data bucket"). Write access is granted by prefix.
PREFIXES = {
    "data": "data/",
    "dvc": "dvc/",
    "jobs": "jobs/",
    "packages": "packages/",
    "builds": "builds/",
    "scratch": "scratch/",
}
# DVC keeps every dataset version as a noncurrent object version of its version-aware remote: the
# lifecycle rules that bound noncurrent versions must never reach it.
LIFECYCLE_PREFIXES = tuple(prefix for name, prefix in PREFIXES.items() if name != "dvc")

OBJECT_READER, OBJECT_USER = "roles/storage.objectViewer", "roles/storage.objectUser"


@dataclass(frozen=True)
class BucketAccess:
    """What one account may do in the data bucket: read (everything, or some prefixes) and write some prefixes."""

    reads: tuple[str, ...] | None = ()  # object prefixes; None: the whole bucket
    writes: tuple[str, ...] = ()
    lists: bool = False  # with prefix-limited reads: list object names anywhere (not read them)


def served_model_prefix(settings: Settings) -> str:
    """What the server reads: the stack's runs (`jobs/`), or the servingModelUri directory when it lies in
    this bucket (a model elsewhere needs a grant there: stack.preview_warnings says which)."""
    location = settings.serving.model_location
    if location and location[0] == settings.bucket.name:
        return location[1]
    return PREFIXES["jobs"]


def bucket_access(settings: Settings) -> dict[str, BucketAccess]:
    """Who may do what, by account. Every write is limited to its prefixes by an IAM Condition; reads may be
    bucket-wide. Listing is checked against the bucket, not the objects: an account that lists (a trainer
    finding checkpoints, the server probing its model directory) needs a bucket-wide read or `lists`."""
    prefix = PREFIXES
    return {
        "trainer": BucketAccess(reads=None, writes=(prefix["jobs"],)),
        "workstation": BucketAccess(reads=None, writes=(prefix["data"], prefix["dvc"], prefix["scratch"])),
        "server": BucketAccess(reads=(served_model_prefix(settings),), lists=True),
        "builder": BucketAccess(reads=(prefix["builds"],)),
        "deployer": BucketAccess(writes=(prefix["packages"], prefix["builds"])),
        "previewer": BucketAccess(reads=(prefix["packages"], prefix["builds"])),
    }


def bucket_grants(
    bucket: str, members: Mapping[str, pulumi.Input[str]], access: Mapping[str, BucketAccess]
) -> dict[str, iam.Grant]:
    """The grants of `access` (bucket_access) for the accounts in `members`."""
    grants: dict[str, iam.Grant] = {}
    for role, member in members.items():
        reads, writes, lists = access[role].reads, access[role].writes, access[role].lists
        if reads is None:
            grants[f"{role}-read"] = iam.Grant(OBJECT_READER, member)
        elif reads:
            grants[f"{role}-read"] = iam.Grant(OBJECT_READER, member, iam.objects_under(bucket, *reads, listing=lists))
        if writes:
            grants[f"{role}-write"] = iam.Grant(OBJECT_USER, member, iam.objects_under(bucket, *writes))
    return grants


SOFT_DELETE_SECONDS = 7 * 24 * 3600
NONCURRENT_VERSIONS_KEPT = 3
NONCURRENT_DAYS_KEPT = 30


def lifecycle_rules() -> list[gcp.storage.BucketLifecycleRuleArgs]:
    """Delete noncurrent versions beyond the newest NONCURRENT_VERSIONS_KEPT, or older than
    NONCURRENT_DAYS_KEPT days, outside dvc/; live objects never."""

    def delete_when(**condition) -> gcp.storage.BucketLifecycleRuleArgs:
        return gcp.storage.BucketLifecycleRuleArgs(
            action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
            condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                with_state="ARCHIVED", matches_prefixes=list(LIFECYCLE_PREFIXES), **condition
            ),
        )

    return [
        # numNewerVersions counts the live version too (storage.v1: "at least N versions (including the
        # live version) newer than this version"): keeping K noncurrent versions takes N = K + 1.
        delete_when(num_newer_versions=NONCURRENT_VERSIONS_KEPT + 1),
        delete_when(days_since_noncurrent_time=NONCURRENT_DAYS_KEPT),
    ]


@dataclass
class DataBucketArgs:
    project: str
    settings: BucketSettings
    apis: ProjectApis
    kms_key_name: pulumi.Input[str] | None = None
    iam: iam.Grants = field(default_factory=dict)


class DataBucket(pulumi.ComponentResource):
    bucket: gcp.storage.Bucket
    url: pulumi.Output[str]

    def __init__(self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:storage:DataBucket", name, None, opts)
        keep_data = not args.settings.destroy_data
        self.bucket = gcp.storage.Bucket(
            "bucket",
            name=args.settings.name,
            project=args.project,
            location=args.settings.location,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(retention_duration_seconds=SOFT_DELETE_SECONDS),
            lifecycle_rules=lifecycle_rules(),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=args.kms_key_name)
            if args.kms_key_name
            else None,
            # Deleting the bucket deletes the data in it: unless destroyData is set, `pulumi destroy`
            # forgets the bucket and leaves it (and every object) in the project.
            force_destroy=args.settings.destroy_data,
            deletion_policy="DELETE" if args.settings.destroy_data else "ABANDON",
            labels={"purpose": "mlops-data"},
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=keep_data, depends_on=args.apis.needed_by("storage")
            ),
        )
        self.iam_members = iam.bind(
            "bucket",
            args.iam,
            lambda member_name, grant, member_opts: gcp.storage.BucketIAMMember(
                member_name,
                bucket=self.bucket.name,
                role=grant.role,
                member=grant.member,
                condition=gcp.storage.BucketIAMMemberConditionArgs(
                    title=grant.condition.title,
                    expression=grant.condition.expression,
                    description=grant.condition.description,
                )
                if grant.condition
                else None,
                opts=member_opts,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        # Consumers of the bucket (the job, the workstation, uploads) wait for the grants on it.
        self.name = iam.granted(self.bucket.name, self.iam_members.values())
        self.url = iam.granted(self.bucket.url, self.iam_members.values())
        remote = self.url.apply(lambda url: f"{url}/{PREFIXES['dvc'].rstrip('/')}")
        self.dvc_commands = remote.apply(
            lambda r: [
                f"dvc remote add -d remote_storage {r}",
                "dvc remote modify remote_storage version_aware true",
            ]
        )
        self.register_outputs(
            {
                "name": self.name,
                "url": self.url,
                "prefixes": PREFIXES,
                "dvc_commands": self.dvc_commands,
            }
        )
