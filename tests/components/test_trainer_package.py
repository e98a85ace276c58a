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
    assert package_stack.outputs["executor_image"].endswith("/pytorch-xla.2-4.py310:latest")
    component = package_stack.by_urn(upload.parent)
    assert component.type == "gcp-mlops:training:TrainerPackage"


def test_package_mode_builds_an_image_only_for_serving(package_stack):
    assert package_stack.of_type(IMAGE), "the model server runs the trainer image"
    unserved = render({"trainingMode": "package", "servingEnabled": False})
    assert unserved.of_type(IMAGE) == [] and "image" not in unserved.outputs
    assert unserved.of_type("gcp:artifactregistry/repository:Repository")


def test_the_job_checks_the_package_it_runs(package_stack):
    """The stack tells the trainer the uploaded package's sha256 (training/trainer/task.py checks it)."""
    sdist = build_sdist(PROJECT_DIR / "training", BUILD_CACHE)
    job = package_stack.one("pulumi-python:dynamic/vertex:CustomJob")
    env = {e["name"]: e["value"] for e in job.inputs["job_spec"]["workerPoolSpecs"][0]["pythonPackageSpec"]["env"]}
    assert env == {"TRAINER_PACKAGE_URI": package_stack.outputs["package_uri"], "TRAINER_PACKAGE_SHA256": sdist.sha256}
