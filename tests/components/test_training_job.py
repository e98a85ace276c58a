"""The training job as the stack declares it: the course's run, mapped from the configuration,
wired to the stack's image or package, identity and bucket."""

import json

import pytest

from components.training_job import job_spec, run_name
from providers.vertex_job import JobInputs
from stack.config import load_settings
from tests.discovery import validate
from tools.render import TEST_PROJECT, render

JOB = "pulumi-python:dynamic/vertex:CustomJob"
IMAGE = "europe-west1-docker.pkg.dev/p/mlops/trainer@sha256:" + "a" * 64
PACKAGE = "gs://bucket/packages/trainer-0123456789ab.tar.gz"
EXECUTOR = "europe-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest"
TRAINER_SA = f"trainer-dev@{TEST_PROJECT}.iam.gserviceaccount.com"
GCP = {"project": TEST_PROJECT, "region": "europe-west1", "zone": "europe-west1-b"}


def training(**values):
    raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    return load_settings(raw.get, GCP.get, "dev").training


def create_body(spec: dict) -> dict:
    inputs = JobInputs(
        project=TEST_PROJECT,
        region="europe-west1",
        display_name="trainer-dev-x",
        job_spec=spec,
        labels={"stack": "dev"},
    )
    return inputs.request_body("token")


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"trainingScaleTier": "BASIC_GPU"},
        {"trainingScaleTier": "STANDARD_1"},
        {"trainingSpot": True, "trainingReplicaCount": 2, "trainingMachineType": "n1-standard-8"},
    ],
)
@pytest.mark.parametrize(
    "code", [{"container_image": IMAGE}, {"package_uri": PACKAGE, "executor_image": EXECUTOR, "python_module": "t.m"}]
)
def test_every_job_spec_is_a_valid_vertex_request(values, code):
    spec = job_spec(training(**values), TRAINER_SA, "gs://bucket/jobs/run", **code)
    assert validate("aiplatform.v1", "GoogleCloudAiplatformV1CustomJob", create_body(spec)) == []


def test_basic_tier_is_the_courses_single_machine_run():
    spec = job_spec(training(), TRAINER_SA, "gs://bucket/jobs/run", container_image=IMAGE)
    (pool,) = spec["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-standard-4"} and pool["replicaCount"] == "1"
    assert pool["containerSpec"]["imageUri"] == IMAGE
    assert pool["containerSpec"]["args"] == [
        "--train-files",
        "gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_train.csv",
        "--eval-files",
        "gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_eval.csv",
        "--job-dir",
        "gs://bucket/jobs/run",
    ]
    assert spec["serviceAccount"] == TRAINER_SA
    assert spec["baseOutputDirectory"] == {"outputUriPrefix": "gs://bucket/jobs/run"}
    assert spec["scheduling"] == {"timeout": "7200s", "strategy": "STANDARD", "restartJobOnWorkerRestart": False}


def test_basic_gpu_tier_adds_a_t4():
    (pool,) = job_spec(training(trainingScaleTier="BASIC_GPU"), TRAINER_SA, "gs://b/j", container_image=IMAGE)[
        "workerPoolSpecs"
    ]
    assert pool["machineSpec"] == {
        "machineType": "n1-standard-8",
        "acceleratorType": "NVIDIA_TESLA_T4",
        "acceleratorCount": 1,
    }


def test_several_replicas_become_a_chief_and_workers_that_restart_together():
    spec = job_spec(training(trainingReplicaCount=4, trainingSpot=True), TRAINER_SA, "gs://b/j", container_image=IMAGE)
    chief, workers = spec["workerPoolSpecs"]
    assert (chief["replicaCount"], workers["replicaCount"]) == ("1", "3")
    assert chief["containerSpec"] == workers["containerSpec"]
    assert spec["scheduling"]["restartJobOnWorkerRestart"] is True
    assert spec["scheduling"]["strategy"] == "SPOT"


def test_package_mode_runs_the_module_on_the_prebuilt_image():
    (pool,) = job_spec(
        training(), TRAINER_SA, "gs://b/j", package_uri=PACKAGE, executor_image=EXECUTOR, python_module="trainer.task"
    )["workerPoolSpecs"]
    spec = pool["pythonPackageSpec"]
    assert (spec["packageUris"], spec["executorImageUri"], spec["pythonModule"]) == (
        [PACKAGE],
        EXECUTOR,
        "trainer.task",
    )


def _name(settings, image=IMAGE):
    return run_name("dev", job_spec(settings, TRAINER_SA, "gs://BUCKET/jobs/RUN", container_image=image))


def test_run_name_changes_with_what_the_job_runs_only():
    base = _name(training())
    assert base == _name(training()) and base.startswith("trainer-dev-")
    assert base != _name(training(), IMAGE.replace("a" * 64, "b" * 64))
    assert base != _name(training(trainingArgs={"numEpochs": 3}))
    assert base != _name(training(trainingScaleTier="BASIC_GPU"))
    # How `pulumi up` waits, or a package-mode setting, is no reason for a new run.
    assert base == _name(training(trainingWaitFor="running"))
    assert base == _name(
        training(trainingExecutorImage="us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest")
    )


def test_wait_for_changes_keep_the_run_in_the_stack():
    default, waiting = render(), render({"trainingWaitFor": "succeeded"})
    job, waiting_job = _job(default), _job(waiting)
    assert job.inputs["display_name"] == waiting_job.inputs["display_name"]
    assert job.inputs["job_spec"] == waiting_job.inputs["job_spec"]
    assert waiting_job.inputs["wait_for"] == "succeeded"


def _job(stack):
    (job,) = stack.of_type(JOB)
    return job


def test_the_stack_submits_the_image_by_digest_as_the_trainer(dev_stack):
    job = _job(dev_stack)
    spec = job.inputs["job_spec"]
    (pool,) = spec["workerPoolSpecs"]
    image = pool["containerSpec"]["imageUri"]
    assert "@sha256:" in image and image == dev_stack.outputs["image"]
    assert spec["serviceAccount"] == TRAINER_SA
    output = spec["baseOutputDirectory"]["outputUriPrefix"]
    assert output == f"gs://{TEST_PROJECT}-dev-mlops/jobs/{job.inputs['display_name']}"
    assert job.inputs["project"] == TEST_PROJECT and job.inputs["region"] == "europe-west1"
    assert job.inputs["wait_for"] == "submitted"
    assert job.inputs["labels"]["stack"] == "dev" and job.inputs["labels"]["managed-by"] == "pulumi"
    assert "__provider" in job.raw_inputs


def test_the_job_waits_for_its_api_and_grants(dev_stack):
    job = _job(dev_stack)
    waits_for = {dev_stack.by_urn(urn).name for urn in dev_stack.upstream(job)}
    assert "aiplatform" in waits_for
    assert {"bucket-trainer-read", "bucket-trainer-write"} <= waits_for, "the job must be able to write its outputs"
    with_ci = render({"githubRepository": "o/r"})
    job = _job(with_ci)
    assert "trainer-actas-deployer" in {with_ci.by_urn(urn).name for urn in with_ci.upstream(job)}
    assert "repository-trainer-reader" in waits_for, "the first image pull must not fail with a 403"


def test_package_mode_submits_the_uploaded_package():
    stack = render({"trainingMode": "package"})
    (pool,) = _job(stack).inputs["job_spec"]["workerPoolSpecs"]
    spec = pool["pythonPackageSpec"]
    assert spec["packageUris"] == [stack.outputs["package_uri"]]
    assert spec["packageUris"][0].startswith(f"gs://{TEST_PROJECT}-dev-mlops/packages/")
    assert spec["executorImageUri"].startswith("europe-docker.pkg.dev/vertex-ai/training/")


def test_configuration_reaches_the_job():
    stack = render(
        {
            "trainingScaleTier": "BASIC_GPU",
            "trainingReplicaCount": 2,
            "trainingWaitFor": "running",
            "trainingTimeout": "3h",
            "trainingArgs": {"numEpochs": 3, "batchSize": 256},
        }
    )
    job = _job(stack)
    chief, worker = job.inputs["job_spec"]["workerPoolSpecs"]
    assert chief["machineSpec"]["acceleratorType"] == "NVIDIA_TESLA_T4" and worker["replicaCount"] == "1"
    assert job.inputs["job_spec"]["scheduling"]["timeout"] == "10800s"
    assert job.inputs["wait_for"] == "running"
    args = chief["containerSpec"]["args"]
    assert args[args.index("--num-epochs") + 1] == "3" and args[args.index("--batch-size") + 1] == "256"


def test_cmek_encrypts_the_job_after_vertex_may_use_the_key():
    stack = render({"encryptionKey": "create"})
    job = _job(stack)
    assert job.inputs["encryption_key"].endswith("/cryptoKeys/data")
    vertex_grant = stack.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "key-aiplatform")
    assert vertex_grant.inputs["member"].endswith("@gcp-sa-aiplatform.iam.gserviceaccount.com")
    assert stack.depends_on(job, vertex_grant)


def test_training_disabled_declares_no_job():
    stack = render({"trainingEnabled": False})
    assert not stack.of_type(JOB) and "training_job" not in stack.outputs


def test_outputs_give_the_courses_describe_and_stream_logs(dev_stack):
    outputs = dev_stack.outputs["training_job"]
    where = f"--region=europe-west1 --project={TEST_PROJECT}"
    assert outputs["describe_command"] == f"gcloud ai custom-jobs describe 4242 {where}"
    assert outputs["stream_logs_command"] == f"gcloud ai custom-jobs stream-logs 4242 {where}"
    assert outputs["name"].endswith("/customJobs/4242") and outputs["state"] == "JOB_STATE_PENDING"
    assert outputs["console_url"].startswith("https://console.cloud.google.com/vertex-ai/locations/europe-west1/")
    job = _job(dev_stack)
    assert outputs["model_dir"] == job.inputs["job_spec"]["baseOutputDirectory"]["outputUriPrefix"] + "/model"


@pytest.mark.parametrize("wait_for", ["submitted", "running", "succeeded"])
def test_pulumi_up_waits_as_long_as_the_job_may_run(wait_for):
    """A 2-hour job must not be cancelled after 20 minutes because `pulumi up` stopped waiting."""
    from components.training_job import WAIT_MARGIN_SECONDS

    job = _job(render({"trainingWaitFor": wait_for, "trainingTimeout": "3h"}))
    assert job.inputs["wait_for"] == wait_for
    assert job.inputs["wait_timeout_seconds"] == 3 * 3600 + WAIT_MARGIN_SECONDS
    assert job.inputs["job_spec"]["scheduling"]["timeout"] == f"{3 * 3600}s"


def test_your_own_trainer_runs_its_module_with_its_arguments_verbatim(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "mnist-trainer"\nversion = "1.0"\n[tool.hatch.build.targets.wheel]\npackages = ["mnist"]\n'
    )
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "__init__.py").write_text("")
    (tmp_path / "mnist" / "train.py").write_text("print('training')\n")
    stack = render({"trainerSource": str(tmp_path), "trainerModule": "mnist.train", "trainingMode": "package",
                    "trainingArgs": ["--epochs", "2"]})  # fmt: skip
    (pool,) = _job(stack).inputs["job_spec"]["workerPoolSpecs"]
    spec = pool["pythonPackageSpec"]
    assert spec["pythonModule"] == "mnist.train" and spec["args"] == ["--epochs", "2"]
    assert spec["packageUris"][0].endswith("/mnist_trainer-1.0.tar.gz")


def test_the_package_check_speaks_the_trainers_language():
    """The stack sets, and the trainer reads, the same two variables (training/trainer/task.py)."""
    import sys

    from components import training_job
    from stack.schema import PROJECT_DIR

    sys.path.insert(0, str(PROJECT_DIR / "training"))
    try:
        from trainer import task
    finally:
        sys.path.remove(str(PROJECT_DIR / "training"))
    assert (training_job.PACKAGE_URI_ENV, training_job.PACKAGE_SHA256_ENV) == (
        task.PACKAGE_URI_ENV,
        task.PACKAGE_SHA256_ENV,
    )
