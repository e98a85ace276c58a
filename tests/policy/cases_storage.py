"""Cases for the Cloud Storage policies: bucket settings, and prefix conditions on write grants."""

from __future__ import annotations

import guardrail

from tests.policy.resources import (
    A_SERVICE_ACCOUNT,
    DELETE,
    Base,
    Case,
    as_binding,
    as_policy,
    policy_data,
    with_changes,
)

BUCKET_MEMBER_TYPE = "gcp:storage/bucketIAMMember:BucketIAMMember"
OBJECTS = "projects/_/buckets/mlops-course-123-dev-mlops/objects"
PREFIX_TEST = f'resource.name.startsWith("{OBJECTS}/data/")'
PREFIX_CONDITION = {"title": "objects under data/", "expression": PREFIX_TEST}
# The rendered grant, made a prefix-scoped writer whatever the stack grants today.
scoped_writer = with_changes(role="roles/storage.objectUser", condition=PREFIX_CONDITION)

BUCKET = Base("bucket", guardrail.BUCKET)
SCOPED_WRITER = Base("bucket member, prefix condition", BUCKET_MEMBER_TYPE, derive=scoped_writer)
SCOPED_WRITERS = Base(
    "bucket binding, prefix condition",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    source=BUCKET_MEMBER_TYPE,
    derive=lambda member: as_binding(scoped_writer(member)),
)
SCOPED_WRITER_POLICY = Base(
    "bucket policy, prefix condition",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
    source=BUCKET_MEMBER_TYPE,
    derive=lambda member: as_policy(scoped_writer(member)),
)
READER = Base(
    "bucket member, a reader",
    BUCKET_MEMBER_TYPE,
    derive=with_changes(role="roles/storage.objectViewer", condition=DELETE),
)
UNSCOPED_WRITER_ALLOWED = Base(
    "bucket member, prefix conditions not required",
    BUCKET_MEMBER_TYPE,
    derive=scoped_writer,
    config={"requirePrefixConditionsForBucketWrites": False},
)

NEGATIVE_CASES: list[Case] = [
    ("bucket-uniform-access", BUCKET, "uniformBucketLevelAccess", False),
    ("bucket-uniform-access", BUCKET, "uniformBucketLevelAccess", DELETE),
    ("bucket-public-access-prevention", BUCKET, "publicAccessPrevention", "inherited"),
    ("bucket-public-access-prevention", BUCKET, "publicAccessPrevention", DELETE),
    ("bucket-versioning", BUCKET, "versioning.enabled", False),
    ("bucket-versioning", BUCKET, "versioning", DELETE),
    # A write role without a condition, or with one that does not hold every alternative to a prefix.
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition", DELETE),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", ""),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", f"true || {PREFIX_TEST}"),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", f"!{PREFIX_TEST}"),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", f"{PREFIX_TEST} == false"),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", f"{PREFIX_TEST} ? false : true"),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        'resource.name.startsWith("projects/_/buckets/mlops-course-123-dev-mlops/")',
    ),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        f'resource.name.startsWith("{OBJECTS}/")',
    ),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        f'resource.type == "storage.googleapis.com/Bucket" || {PREFIX_TEST}',
    ),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITERS, "condition", DELETE),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER_POLICY,
        "policyData",
        policy_data(("roles/storage.objectCreator", A_SERVICE_ACCOUNT)),
    ),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.objectAdmin"),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.objectUser"),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.objectCreator"),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.admin"),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.legacyBucketWriter"),
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.legacyObjectOwner"),
]

ALLOWED_CASES: list[Case] = [
    ("bucket-writes-prefix-conditioned", READER, "role", "roles/storage.legacyBucketReader"),
    ("bucket-writes-prefix-conditioned", UNSCOPED_WRITER_ALLOWED, "condition", DELETE),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        f'{PREFIX_TEST} || resource.name.startsWith("{OBJECTS}/models/")',
    ),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        f"resource.name.startsWith('{OBJECTS}/data/')",
    ),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER,
        "condition.expression",
        f'resource.type == "storage.googleapis.com/Object" && {PREFIX_TEST}',
    ),
    ("bucket-writes-prefix-conditioned", SCOPED_WRITER, "condition.expression", f"({PREFIX_TEST}) || ({PREFIX_TEST})"),
    (
        "bucket-writes-prefix-conditioned",
        SCOPED_WRITER_POLICY,
        "policyData",
        policy_data(("roles/storage.objectViewer", A_SERVICE_ACCOUNT)),
    ),
]
