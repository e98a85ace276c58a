"""The trainer as a Python package for Vertex AI (`trainingMode: package`).

The sdist is built while the program runs (also on preview; `artifacts.sdist`) and uploaded as
`gs://BUCKET/packages/<hash>/<name>-<version>.tar.gz`: a code change gives a new object name, so
the object is replaced and the job that uses `package_uri` runs again; unchanged code keeps the
name and nothing happens. Old objects stay noncurrent in the versioned bucket until its
lifecycle rules remove them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from artifacts.context import project_relative
from artifacts.sdist import Sdist, build_sdist
from components.storage import PREFIXES, DataBucket
from stack.schema import BUILD_CACHE, PROJECT_DIR


@dataclass
class TrainerPackageArgs:
    bucket: DataBucket
    source_dir: Path
    # The prebuilt Vertex AI image that installs and runs the package (settings.training.executor_image).
    executor_image: str
    cache_dir: Path = BUILD_CACHE


class TrainerPackage(pulumi.ComponentResource):
    sdist: Sdist
    object: gcp.storage.BucketObject
    package_uri: pulumi.Output[str]
    executor_image: str

    def __init__(self, name: str, args: TrainerPackageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gcp-mlops:training:TrainerPackage", name, None, opts)
        self.sdist = build_sdist(args.source_dir, args.cache_dir)
        self.object_name = f"{PREFIXES['packages']}{self.sdist.short_hash}/{self.sdist.filename}"
        self.object = gcp.storage.BucketObject(
            "sdist",
            bucket=args.bucket.name,
            name=self.object_name,
            source=pulumi.FileAsset(project_relative(self.sdist.path, PROJECT_DIR)),
            content_type="application/gzip",
            metadata={"sha256": self.sdist.sha256},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.package_uri = pulumi.Output.concat("gs://", self.object.bucket, "/", self.object.name)
        self.executor_image = args.executor_image
        self.register_outputs(
            {
                "package_uri": self.package_uri,
                "sha256": self.sdist.sha256,
                "executor_image": self.executor_image,
            }
        )
