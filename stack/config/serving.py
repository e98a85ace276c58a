"""The model service's settings: whether the trained model is served, to whom, and at what scale."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack import catalog
from stack.config.reader import Reader

# A directory in a bucket (not the bucket's root): gs://BUCKET/PATH.
GCS_DIRECTORY = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/(?P<path>[^\s/][^\s]*)$")


@dataclass(frozen=True)
class ServingSettings:
    enabled: bool
    public: bool
    min_instances: int
    max_instances: int
    model_uri: str  # empty: the model of the training run the stack declares
    deletion_protection: bool
    off_because: str = ""  # why serving is off although servingEnabled is true

    @property
    def model_location(self) -> tuple[str, str] | None:
        """(bucket, object prefix ending in /) of servingModelUri; None when the stack serves its own run."""
        match = GCS_DIRECTORY.match(self.model_uri)
        return (match["bucket"], match["path"].rstrip("/") + "/") if match else None


def read_serving(read: Reader, training_enabled: bool, bundled_trainer: bool) -> ServingSettings:
    model_uri = read.value("servingModelUri")
    read.check(
        not model_uri or bool(GCS_DIRECTORY.match(model_uri)), "servingModelUri", model_uri,
        "a gs://BUCKET/PATH model directory (empty serves the stack's own training run)",
    )  # fmt: skip
    wanted = read.value("servingEnabled")
    # On by default wherever it can work. The CLI passes the default `true` like a value a stack sets, so
    # where serving cannot work it is off, with the reason (stack.preview_warnings prints it).
    possible = bundled_trainer and (training_enabled or bool(model_uri))
    off_because = ""
    if wanted and not possible:
        off_because = (
            "the model server is part of the stack's own trainer (trainerSource training); serve your own model "
            "yourself"
            if not bundled_trainer
            else "there is no model to serve: enable training or set servingModelUri"
        )
    minimum, maximum = read.value("servingMinInstances"), read.value("servingMaxInstances")
    read.check(
        0 <= minimum <= catalog.CLOUD_RUN_MAX_INSTANCES,
        "servingMinInstances",
        minimum,
        f"between 0 and {catalog.CLOUD_RUN_MAX_INSTANCES}",
    )
    read.check(
        1 <= maximum <= catalog.CLOUD_RUN_MAX_INSTANCES and maximum >= minimum, "servingMaxInstances", maximum,
        f"between 1 and {catalog.CLOUD_RUN_MAX_INSTANCES}, and at least servingMinInstances ({minimum})",
    )  # fmt: skip
    return ServingSettings(
        enabled=bool(wanted and possible),
        off_because=off_because,
        public=read.value("servingPublic"),
        min_instances=minimum,
        max_instances=maximum,
        model_uri=model_uri,
        deletion_protection=read.value("servingDeletionProtection"),
    )
