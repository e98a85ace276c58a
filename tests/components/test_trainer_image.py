"""The trainer image, built by Docker or by Cloud Build (components/trainer_image.py)."""

import io
import re
import tarfile

import pytest

from artifacts.context import context_archive, context_files, image_tag
from stack.schema import BUILD_CACHE, PROJECT_DIR
from tools.render import TEST_PROJECT, Rendered, render

IMAGE = "docker:index/image:Image"
BUILD = "pulumi-python:dynamic/cloudbuild:Build"
OBJECT = "gcp:storage/bucketObject:BucketObject"
REGISTRY_URL = f"europe-west1-docker.pkg.dev/{TEST_PROJECT}/mlops"


@pytest.fixture(scope="module")
def cloud_build() -> Rendered:
    return render({"imageBuilder": "cloudbuild"})


def test_cloud_build_mode_declares_no_docker_image(cloud_build):
    assert cloud_build.of_type(IMAGE) == []
    (build,) = cloud_build.of_type(BUILD)
    assert build.inputs["image"] == f"{REGISTRY_URL}/trainer:{image_tag(PROJECT_DIR / 'training')}"


def test_the_uploaded_context_is_the_hashed_context(cloud_build):
    tag = image_tag(PROJECT_DIR / "training")
    (context,) = [o for o in cloud_build.of_type(OBJECT) if o.inputs["name"].startswith("builds/")]
    assert context.inputs["name"] == f"builds/trainer-{tag}.tar.gz"
    uploaded = (PROJECT_DIR / context.inputs["source"]["path"]).read_bytes()
    assert uploaded == context_archive(PROJECT_DIR / "training")
    assert (PROJECT_DIR / context.inputs["source"]["path"]).is_relative_to(BUILD_CACHE)
    with tarfile.open(fileobj=io.BytesIO(uploaded)) as archive:
        assert sorted(archive.getnames()) == context_files(PROJECT_DIR / "training")
    (build,) = cloud_build.of_type(BUILD)
    assert (build.inputs["source_bucket"], build.inputs["source_object"]) == (
        f"{TEST_PROJECT}-dev-mlops",
        context.inputs["name"],
    )


def test_the_build_runs_as_the_builder_within_its_timeout(cloud_build):
    (build,) = cloud_build.of_type(BUILD)
    assert build.inputs["service_account"] == f"builder-dev@{TEST_PROJECT}.iam.gserviceaccount.com"
    assert build.inputs["timeout_seconds"] == 30 * 60
    assert build.inputs["wait_timeout_seconds"] > build.inputs["timeout_seconds"]
    upstream = {cloud_build.by_urn(urn).name for urn in cloud_build.upstream(build)}
    # The builder writes its own logs (CLOUD_LOGGING_ONLY): the build waits for that grant too.
    assert {
        "cloudbuild",
        "repository-builder-writer",
        "bucket-builder-read",
        "project-builder-logging-logwriter",
    } <= upstream


def test_the_job_and_the_service_run_the_digest_the_build_reports(cloud_build):
    (build,) = cloud_build.of_type(BUILD)
    digest_ref = build.outputs["image_digest_ref"]
    assert re.fullmatch(rf"{re.escape(REGISTRY_URL)}/trainer@sha256:[0-9a-f]{{64}}", digest_ref)
    assert cloud_build.outputs["image"] == digest_ref
    job = cloud_build.one("pulumi-python:dynamic/vertex:CustomJob")
    assert job.inputs["job_spec"]["workerPoolSpecs"][0]["containerSpec"]["imageUri"] == digest_ref
    service = cloud_build.one("gcp:cloudrunv2/service:Service")
    assert service.inputs["template"]["containers"][0]["image"] == digest_ref


def test_cloud_build_is_enabled_and_the_builder_may_only_read_build_contexts(cloud_build, dev_stack):
    services = {s.inputs["service"] for s in cloud_build.of_type("gcp:projects/service:Service")}
    assert "cloudbuild.googleapis.com" in services
    assert "cloudbuild.googleapis.com" not in {
        s.inputs["service"] for s in dev_stack.of_type("gcp:projects/service:Service")
    }
    grants = {(m.name, m.inputs["role"]) for m in cloud_build.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
              if "builder-dev" in m.inputs["member"]}  # fmt: skip
    assert grants == {("bucket-builder-read", "roles/storage.objectViewer")}


def test_the_same_context_is_the_same_build(cloud_build):
    again = render({"imageBuilder": "cloudbuild"})
    assert again.one(BUILD).inputs["source_object"] == cloud_build.one(BUILD).inputs["source_object"]


def test_your_own_trainer_is_built_from_its_directory(tmp_path):
    (tmp_path / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY train.py .\nENTRYPOINT ["python", "train.py"]\n')
    (tmp_path / "train.py").write_text("print('training')\n")
    rendered = render({"trainerSource": str(tmp_path), "trainingArgs": ["--epochs", "1"]})
    image = rendered.one(IMAGE).inputs
    assert image["imageName"] == f"{REGISTRY_URL}/trainer:{image_tag(tmp_path)}"
    assert image["build"]["context"] == str(tmp_path) and "args" not in image["build"]
    (pool,) = rendered.one("pulumi-python:dynamic/vertex:CustomJob").inputs["job_spec"]["workerPoolSpecs"]
    assert pool["containerSpec"]["args"] == ["--epochs", "1"], "verbatim: no --job-dir, no taxi flags"


def test_only_the_stacks_own_trainer_gets_the_cuda_build_argument(tmp_path):
    """TORCH_INDEX_URL is the stack's trainer's Dockerfile argument; another Dockerfile decides for itself."""
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    gpu = {"trainingScaleTier": "BASIC_GPU"}
    own = render({**gpu, "trainerSource": str(tmp_path), "trainingArgs": []}).one(IMAGE).inputs
    assert "args" not in own["build"]
    bundled = render(gpu).one(IMAGE).inputs
    assert bundled["build"]["args"] == {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"trainingMode": "package", "trainingScaleTier": "BASIC_GPU"},  # the job runs Google's executor image
        {"trainingEnabled": False, "trainingScaleTier": "BASIC_GPU", "servingModelUri": "gs://models-bucket/run/m"},
    ],
)
def test_an_image_that_only_serves_is_built_for_cpu(overrides):
    """Cloud Run runs the model server on CPU: CUDA wheels would only make the image larger and cold starts slower."""
    image = render(overrides).one(IMAGE).inputs
    assert "args" not in image["build"]
