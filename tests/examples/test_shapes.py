"""examples/shapes: a second trainer, pointed at with trainerSource, in both modes (README "Train your own model")."""

import json
import subprocess
import sys
import tarfile

import pytest

from artifacts.context import image_tag
from stack.schema import PROJECT_DIR
from tools.render import render

SHAPES = PROJECT_DIR / "examples" / "shapes"
JOB = "pulumi-python:dynamic/vertex:CustomJob"
CONFIG = {"trainerSource": "examples/shapes", "trainerModule": "shapes.train", "trainingArgs": ["--epochs", "5"]}


def pool(rendered):
    (spec,) = rendered.one(JOB).inputs["job_spec"]["workerPoolSpecs"]
    return spec


def test_container_mode_builds_the_examples_image_and_runs_its_entrypoint():
    rendered = render(CONFIG)
    image = rendered.one("docker:index/image:Image").inputs
    assert (
        image["build"]["context"] == "examples/shapes" and image["build"]["dockerfile"] == "examples/shapes/Dockerfile"
    )
    assert image["imageName"].endswith(f"/trainer:{image_tag(SHAPES)}")
    assert pool(rendered)["containerSpec"]["args"] == ["--epochs", "5"]
    assert "serving_url" not in rendered.outputs, "the model server belongs to the stack's own trainer"


def test_package_mode_uploads_the_examples_sdist_and_runs_its_module():
    rendered = render({**CONFIG, "trainingMode": "package"})
    spec = pool(rendered)["pythonPackageSpec"]
    assert spec["pythonModule"] == "shapes.train" and spec["args"] == ["--epochs", "5"]
    upload = next(
        o for o in rendered.of_type("gcp:storage/bucketObject:BucketObject") if o.inputs["name"].startswith("packages/")
    )
    assert upload.inputs["name"].endswith("/shapes_trainer-0.1.0.tar.gz")
    with tarfile.open(PROJECT_DIR / upload.inputs["source"]["path"]) as sdist:
        assert "shapes_trainer-0.1.0/shapes/train.py" in sdist.getnames()
    assert not rendered.of_type("docker:index/image:Image"), "no image without serving in package mode"


def test_the_example_trains_and_writes_its_model(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "shapes.train", "--epochs", "2", "--samples", "512", "--model-dir", str(tmp_path / "m")],
        cwd=SHAPES, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    epochs = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["message"] for e in epochs] == ["epoch 1", "epoch 2"] and epochs[-1]["accuracy"] > 0.9
    assert (tmp_path / "m" / "model.pt").is_file()
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["epochs"] == 2


def test_vertex_model_dirs_are_written_through_the_fuse_mount():
    sys.path.insert(0, str(SHAPES))
    try:
        from shapes.train import local_path
    finally:
        sys.path.remove(str(SHAPES))
    assert str(local_path("gs://bucket/jobs/run/model")) == "/gcs/bucket/jobs/run/model"
    assert str(local_path("runs/shapes")) == "runs/shapes"


@pytest.mark.parametrize("mode", ["container", "package"])
def test_the_policy_pack_passes_the_example_stack(mode):
    sys.path.insert(0, str(PROJECT_DIR / "policy"))
    try:
        from policies import POLICIES
        from tests.policy.resources import violations
    finally:
        sys.path.remove(str(PROJECT_DIR / "policy"))

    rendered = render({**CONFIG, "trainingMode": mode})
    found = [(name, r.name, problem) for r in rendered.resources if r.custom
             for name, policy in POLICIES.items() for problem in violations(policy, r.type, r.inputs)]  # fmt: skip
    # Package mode runs Google's prebuilt executor by its required :latest tag; nothing else may be tag-only.
    assert found == []
