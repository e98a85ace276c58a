"""Package mode: the trainer sdist uploaded to the bucket, named by its hash (components/trainer_package.py)."""

import pytest

from artifacts.context import project_relative
from artifacts.sdist import build_sdist
from stack.schema import BUILD_CACHE, PROJECT_DIR
from tools.render import render

BUCKET_OBJECT = "gcp:storage/bucketObject:BucketObject"
IMAGE = "docker:index/image:Image"


@pytest.fixture(scope="module")
def package_stack():
    return render({"trainingMode": "package"})


def test_package_mode_uploads_the_sdist_named_by_its_hash(package_stack):
    sdist = build_sdist(PROJECT_DIR / "training", BUILD_CACHE)
    upload = package_stack.one(BUCKET_OBJECT)
    assert upload.inputs["name"] == f"packages/{sdist.short_hash}/trainer-0.1.0.tar.gz"
    assert upload.inputs["bucket"] == package_stack.outputs["bucket_name"]
    assert upload.inputs["source"]["path"] == project_relative(sdist.path, PROJECT_DIR)
    assert (PROJECT_DIR / upload.inputs["source"]["path"]).read_bytes() == sdist.path.read_bytes()
    assert upload.inputs["metadata"] == {"sha256": sdist.sha256}
    assert package_stack.outputs["package_uri"] == (
        f"gs://{package_stack.outputs['bucket_name']}/packages/{sdist.short_hash}/trainer-0.1.0.tar.gz"
    )
    assert package_stack.outputs["executor_image"].endswith("/pytorch-cpu.2-4.py310:latest")
    component = package_stack.by_urn(upload.parent)
    assert component.type == "gcp-mlops:training:TrainerPackage"


def test_package_mode_builds_no_image(package_stack):
    assert package_stack.of_type(IMAGE) == []
    assert "image" not in package_stack.outputs
    assert package_stack.of_type("gcp:artifactregistry/repository:Repository")


def test_container_mode_uploads_no_package(dev_stack):
    assert not [o for o in dev_stack.of_type(BUCKET_OBJECT) if o.inputs["name"].startswith("packages/")]
    assert "package_uri" not in dev_stack.outputs
