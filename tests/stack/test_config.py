"""The configuration contract: every key declared, defaults that work with gcp:project alone,
and one error naming every bad key."""

import json
import re
from pathlib import Path

import pytest
import yaml

from stack import naming, schema
from stack.config import ConfigError, load_settings
from tools.render import ROOT, TEST_PROJECT, render

COURSE_TRAIN_FILES = ["gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_train.csv"]
COURSE_EVAL_FILES = ["gs://cloud-samples-data/ai-platform/chicago_taxi/training/small/taxi_trips_eval.csv"]

GCP_DEV = {"project": TEST_PROJECT, "region": "europe-west1", "zone": "europe-west1-b"}
PROJECT = schema.project_name()


def settings_from(project_values: dict, gcp_values: dict = GCP_DEV, stack: str = "dev", cli_defaults: bool = True):
    """Settings as `pulumi up` would load them: unset keys at their defaults, as the CLI passes them."""
    raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in project_values.items()}
    if cli_defaults:
        config = schema.cli_config({f"{PROJECT}:{key}": value for key, value in raw.items()})
        raw = {key.removeprefix(f"{PROJECT}:"): value for key, value in config.items()}
    return load_settings(raw.get, gcp_values.get, stack, set_keys=raw)


def problems_of(project_values: dict, gcp_values: dict = GCP_DEV) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings_from(project_values, gcp_values)
    return raised.value.problems


def test_every_key_is_declared_once_with_a_description_and_a_typed_default():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    for key, spec in declared.items():
        assert spec.get("description"), f"{key} has no description"
        assert "default" in spec, f"{key} has no default"
        if "type" in spec:
            python_type = {"string": str, "integer": int, "boolean": bool, "array": list}[spec["type"]]
            assert isinstance(spec["default"], python_type), key


def test_defaults_come_from_pulumi_yaml_alone(monkeypatch, tmp_path):
    """Change a default in (a copy of) Pulumi.yaml and the program follows: no second copy anywhere."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["config"]["vmMachineType"]["default"] = "e2-standard-2"
    project["config"]["imageKeepCount"]["default"] = 7
    copy = tmp_path / "Pulumi.yaml"
    copy.write_text(yaml.safe_dump(project))
    monkeypatch.setattr(schema, "PROJECT_FILE", copy)
    schema.project.cache_clear()
    schema.keys.cache_clear()
    try:
        settings = settings_from({})
    finally:
        schema.project.cache_clear()
        schema.keys.cache_clear()
    assert settings.vm.machine_type == "e2-standard-2" and settings.registry.image_keep_count == 7


def test_project_name_and_dev_stack_values():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "gcp-mlops" and project["runtime"]["name"] == "python"
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert dev == {"gcp:region": "europe-west1", "gcp:zone": "europe-west1-b"}


def test_defaults_are_the_courses_setup():
    settings = settings_from({})
    assert settings.vm.machine_type == "e2-medium" and settings.vm.enabled and not settings.vm.external_ip
    assert settings.bucket.name == f"{TEST_PROJECT}-dev-mlops" and settings.bucket.location == "europe-west1"
    assert not settings.bucket.destroy_data
    training = settings.training
    assert (training.machine_type, training.replica_count) == ("n1-standard-4", 1)
    # The course's data; epochs, batch size and learning rate are the trainer's own defaults (its argparse).
    assert training.args == ("--train-files", *COURSE_TRAIN_FILES, "--eval-files", *COURSE_EVAL_FILES)
    assert training.executor_image == "europe-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest"
    assert not settings.github.enabled and not settings.uses_cmek
    assert settings.serving.enabled and not settings.serving.public and settings.serving.min_instances == 0
    assert settings.trainer.is_bundled and settings.trainer.image_builder == "docker"
    assert settings.github.environment == "production"


def test_missing_project_is_named():
    assert any(p.startswith("gcp:project is not set") for p in problems_of({}, {"region": "europe-west1"}))


@pytest.mark.parametrize(
    "tier, machine, replicas, gpu",
    [
        ("BASIC", "n1-standard-4", 1, ("", 0)),
        ("basic_gpu", "n1-standard-8", 1, ("NVIDIA_TESLA_T4", 1)),
        ("STANDARD_1", "n1-highcpu-8", 5, ("", 0)),
        ("PREMIUM_1", "n1-highcpu-16", 20, ("", 0)),
    ],
)
def test_scale_tiers_map_to_vertex_machine_shapes(tier, machine, replicas, gpu):
    training = settings_from({"trainingScaleTier": tier}).training
    assert (training.machine_type, training.replica_count, (training.gpu_type, training.gpu_count)) == (
        machine,
        replicas,
        gpu,
    )


def test_gpu_jobs_default_to_the_gpu_executor_image():
    # Google's CPU PyTorch training images are called pytorch-xla; there is no pytorch-cpu image.
    assert "/pytorch-gpu.2-4.py310:latest" in settings_from({"trainingScaleTier": "BASIC_GPU"}).training.executor_image
    assert "/pytorch-xla.2-4.py310:latest" in settings_from({}).training.executor_image
    assert settings_from(
        {}, {**GCP_DEV, "region": "us-central1", "zone": "us-central1-a"}
    ).training.executor_image.startswith("us-docker.pkg.dev/")


def test_explicit_training_keys_override_the_tier():
    training = settings_from(
        {
            "trainingScaleTier": "BASIC_GPU",
            "trainingMachineType": "n1-standard-16",
            "trainingReplicaCount": 3,
            "trainingGpuCount": 2,
        }
    ).training
    assert (training.machine_type, training.replica_count, training.gpu_type, training.gpu_count) == (
        "n1-standard-16",
        3,
        "NVIDIA_TESLA_T4",
        2,
    )


def test_training_args_merge_with_the_course_defaults():
    args = settings_from({"trainingArgs": {"numEpochs": 3, "trainFiles": "gs://b/train.csv"}}).training.args
    assert args == ("--train-files", "gs://b/train.csv", "--eval-files", *COURSE_EVAL_FILES, "--num-epochs", "3")
    args = settings_from({"trainingArgs": {"batchSize": 256, "learningRate": 0.01}}).training.args
    assert args[-4:] == ("--batch-size", "256", "--learning-rate", "0.01")


def test_durations():
    assert settings_from({"trainingTimeout": "1d12h"}).training.timeout_seconds == 36 * 3600
    assert settings_from({"trainingTimeout": "90m"}).training.timeout_seconds == 5400
    assert settings_from({"trainingTimeout": "7200s"}).training.timeout_seconds == 7200


# Each bad value must produce a problem that names the key (and the value).
BAD_VALUES = [
    ({"bucketName": "My_Bucket"}, "bucketName 'My_Bucket'"),
    # Misspelled keys: the Pulumi CLI accepts them, the program must not.
    ({"vmMachinetype": "e2-standard-4"}, "vmMachinetype: unknown configuration key; did you mean vmMachineType?"),
    ({"trainingWaitfor": "succeeded"}, "trainingWaitfor: unknown configuration key; did you mean trainingWaitFor?"),
    ({"trainingEpochs": 3}, "trainingEpochs: unknown configuration key"),
    ({"bucketName": "googlebucket"}, "bucketName 'googlebucket'"),
    ({"bucketName": "192.168.1.1"}, "bucketName '192.168.1.1'"),
    ({"bucketName": "ab"}, "bucketName 'ab'"),
    ({"bucketLocation": "europe west"}, "bucketLocation"),
    ({"destroyData": "yes"}, "destroyData 'yes': must be true or false"),
    ({"vmMachineType": "E2 Medium"}, "vmMachineType"),
    ({"vmImage": "not an image"}, "vmImage"),
    ({"vmDiskSizeGb": 10}, "vmDiskSizeGb 10"),
    ({"vmDiskSizeGb": "ten"}, "vmDiskSizeGb 'ten': must be a whole number"),
    (
        {"vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 1},
        "vmGpuType 'nvidia-tesla-t4': attaches only to n1-* machine types",
    ),
    ({"vmGpuType": "nvidia-h100", "vmGpuCount": 1, "vmMachineType": "n1-standard-4"}, "vmGpuType 'nvidia-h100'"),
    ({"vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 3, "vmMachineType": "n1-standard-4"}, "vmGpuCount 3"),
    ({"vmStopSchedule": "0 25 * * *"}, "vmStopSchedule '0 25 * * *'"),
    ({"vmStartSchedule": "every morning"}, "vmStartSchedule"),
    ({"vmTimeZone": "Mars/Olympus"}, "vmTimeZone 'Mars/Olympus'"),
    ({"repositoryId": "My-Repo"}, "repositoryId 'My-Repo'"),
    ({"imageKeepCount": 0}, "imageKeepCount 0"),
    ({"trainingMode": "notebook"}, "trainingMode 'notebook'"),
    ({"trainingScaleTier": "BASIC_TPU"}, "trainingScaleTier 'BASIC_TPU'"),
    ({"trainingScaleTier": "CUSTOM"}, "trainingMachineType ''"),
    ({"trainingReplicaCount": -1}, "trainingReplicaCount -1"),
    (
        {"trainingGpuType": "NVIDIA_TESLA_T4", "trainingGpuCount": 1, "trainingMachineType": "e2-standard-4"},
        "trainingGpuType 'NVIDIA_TESLA_T4': attaches only to n1-* machine types",
    ),
    ({"trainingGpuType": "NVIDIA_L4", "trainingGpuCount": 1}, "trainingGpuType 'NVIDIA_L4': attaches only to g2-*"),
    ({"trainingTimeout": "soon"}, "trainingTimeout 'soon'"),
    ({"trainingTimeout": "30s"}, "trainingTimeout '30s'"),
    ({"trainingWaitFor": "finished"}, "trainingWaitFor 'finished'"),
    ({"trainingArgs": {"epochs": 3}}, "unknown field(s) epochs"),
    ({"trainingArgs": {"numEpochs": 0}}, "trainingArgs.numEpochs 0"),
    ({"trainingArgs": {"batchSize": 2.5}}, "trainingArgs.batchSize 2.5"),
    ({"trainingArgs": {"learningRate": -1}}, "trainingArgs.learningRate -1"),
    ({"trainingArgs": {"trainFiles": []}}, "trainingArgs.trainFiles []"),
    ({"trainingArgs": "epochs=3"}, "trainingArgs 'epochs=3': an object of flags or a list of strings"),
    ({"githubRepository": "not-a-repo"}, "githubRepository 'not-a-repo'"),
    ({"githubRepository": "o/r", "githubRepositoryId": "abc"}, "githubRepositoryId 'abc'"),
    ({"githubRepositoryId": "123"}, "githubRepositoryId '123': only meaningful together with githubRepository"),
    ({"githubDeployRef": "main"}, "githubDeployRef 'main'"),
    ({"encryptionKey": "my-key"}, "encryptionKey 'my-key'"),
    ({"encryptionKey": "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k"}, "must be in gcp:region"),
    ({"encryptionKey": "create", "bucketLocation": "EU"}, "bucketLocation must be gcp:region"),
    ({"labels": {"Team": "ml"}}, "labels.Team 'Team'"),
    ({"labels": {"team": "ML Team"}}, "labels.team 'ML Team'"),
    ({"labels": {"stack": "prod"}}, "label(s) stack: set by the stack"),
    ({"labels": {"goog-x": "y"}}, "label(s) goog-x: set by the stack"),
    ({"labels": {f"k{i}": "v" for i in range(59)}}, "labels '59 labels': at most 58"),
    ({"bucketName": ".".join(["a" * 60] * 4)}, "bucketName"),
    ({"imageKeepCount": 1001}, "imageKeepCount 1001"),
    ({"trainingReplicaCount": 101}, "trainingReplicaCount 101"),
    ({"vmDiskSizeGb": 70000}, "vmDiskSizeGb 70000"),
    ({"trainingArgs": {"learningRate": 11}}, "trainingArgs.learningRate 11"),
    # A 0 the stack sets is a mistake, not "the tier's count".
    ({"trainingReplicaCount": 0}, "trainingReplicaCount 0: between 1 and 100"),
    (
        {"trainingGpuType": "NVIDIA_TESLA_T4", "trainingGpuCount": 0},
        "trainingGpuCount 0: NVIDIA_TESLA_T4 comes 1, 2, 4",
    ),
    # Per-type attach limits (stack/catalog.py GPU_TYPES).
    (
        {"vmMachineType": "n1-standard-8", "vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 8},
        "vmGpuCount 8: nvidia-tesla-t4 comes 1, 2, 4 to a machine",
    ),
    (
        {"trainingGpuType": "NVIDIA_TESLA_T4", "trainingGpuCount": 8},
        "trainingGpuCount 8: NVIDIA_TESLA_T4 comes 1, 2, 4",
    ),
    (
        {"trainingGpuType": "NVIDIA_TESLA_P100", "trainingGpuCount": 1},
        "trainingGpuType 'NVIDIA_TESLA_P100': end of support",
    ),
    ({"trainingGpuCount": 2}, "trainingGpuCount 2: set trainingGpuType too"),
    (
        {"vmMachineType": "n1-standard-4", "vmGpuType": "nvidia-tesla-p100", "vmGpuCount": 1},
        "vmGpuType 'nvidia-tesla-p100': end of support on 2026-09-15",
    ),
    ({"trainingArgs": {"learningRate": "fast"}}, "trainingArgs.learningRate 'fast'"),
    ({"trainingArgs": ["--epochs", {"n": 3}]}, "trainingArgs ['--epochs', {'n': 3}]: a list of strings"),
    ({"trainingArgs": ["--verbose", True]}, "trainingArgs ['--verbose', True]: a list of strings"),
    ({"trainerSource": "no/such/dir"}, "trainerSource 'no/such/dir': no such directory"),
    ({"trainerModule": "trainer task"}, "trainerModule 'trainer task'"),
    ({"imageBuilder": "kaniko"}, "imageBuilder 'kaniko': one of docker, cloudbuild"),
    ({"imageBuildTimeout": "2d"}, "imageBuildTimeout '2d'"),
    ({"githubEnvironment": "prod env"}, "githubEnvironment 'prod env'"),
    ({"githubRepository": "o/r", "githubOwnerId": "octo"}, "githubOwnerId 'octo'"),
    ({"servingMaxInstances": 0}, "servingMaxInstances 0"),
    ({"servingMinInstances": 4, "servingMaxInstances": 3}, "servingMaxInstances 3: between 1 and 100, and at least"),
    ({"servingModelUri": "/models/x"}, "servingModelUri '/models/x'"),
    ({"servingModelUri": "gs://models-bucket/"}, "servingModelUri 'gs://models-bucket/'"),
    ({"servingModelUri": "gs://models-bucket"}, "servingModelUri 'gs://models-bucket'"),
]


@pytest.mark.parametrize("values, expected", BAD_VALUES, ids=[str(v) for v, _ in BAD_VALUES])
def test_bad_values_are_reported_naming_the_key(values, expected):
    problems = problems_of(values)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "gcp_values, expected",
    [
        ({**GCP_DEV, "zone": "us-central1-a"}, "gcp:zone 'us-central1-a'"),
        ({**GCP_DEV, "region": "europe"}, "gcp:region 'europe'"),
        ({**GCP_DEV, "project": "My Project"}, "gcp:project 'My Project'"),
    ],
)
def test_bad_provider_values_are_named(gcp_values, expected):
    assert any(expected in problem for problem in problems_of({}, gcp_values))


def test_good_values_pass():
    settings = settings_from(
        {
            "bucketName": "my.data.bucket",
            "bucketLocation": "EU",
            "vmMachineType": "n1-standard-4",
            "vmGpuType": "nvidia-tesla-t4",
            "vmGpuCount": 1,
            "vmStopSchedule": "30 18 * * 1-5",
            "vmStartSchedule": "0 8 * * 1-5",
            "vmTimeZone": "UTC",
            "trainingScaleTier": "CUSTOM",
            "trainingMachineType": "g2-standard-8",
            "trainingGpuType": "NVIDIA_L4",
            "trainingGpuCount": 1,
            "githubRepository": "dtu-mlops/course",
            "githubRepositoryId": "123456",
            "labels": {"team": "ml-ops"},
            "encryptionKey": "",
            "trainingMode": "package",
            "trainingWaitFor": "succeeded",
        }
    )
    assert settings.vm.gpu_type == "nvidia-tesla-t4" and settings.training.machine_type == "g2-standard-8"
    assert settings.extra_labels == {"team": "ml-ops"} and settings.github.enabled


def test_one_error_lists_every_bad_key():
    problems = problems_of(
        {"bucketName": "Bad_Name", "vmStopSchedule": "nope", "trainingMode": "x"}, {**GCP_DEV, "zone": "us-east1-b"}
    )
    assert len(problems) == 4
    message = str(ConfigError(problems))
    for key in ("bucketName", "vmStopSchedule", "trainingMode", "gcp:zone"):
        assert key in message


def test_the_program_stops_before_declaring_anything_on_bad_config():
    with pytest.raises(ConfigError) as raised:
        render({"bucketName": "Bad_Name", "trainingWaitFor": "later"})
    assert "bucketName 'Bad_Name'" in str(raised.value) and "trainingWaitFor 'later'" in str(raised.value)


def test_upper_limits_are_accepted():
    settings = settings_from(
        {
            "imageKeepCount": 1000,
            "trainingReplicaCount": 100,
            "vmDiskSizeGb": 65536,
            "labels": {f"k{i}": "v" for i in range(58)},
        }
    )
    assert settings.registry.image_keep_count == 1000 and len(settings.extra_labels) == 58


def test_long_stack_names_still_give_valid_names():
    name = naming.default_bucket_name("a-very-long-project-id-12345", "feature-branch-with-a-long-name-x")
    assert len(name) <= 63 and naming.bucket_name_problem(name) is None
    account = naming.service_account_id("feature-branch-with-a-long-name", "workstation")
    # Service account ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter.
    assert 6 <= len(account) <= 30 and re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account)


def test_numbers_written_as_strings_are_numbers():
    """`pulumi config set --path trainingArgs.learningRate 0.01` stores the string "0.01" (pulumi#18064)."""
    args = settings_from({"trainingArgs": {"learningRate": "0.01", "numEpochs": "3", "batchSize": "64"}}).training.args
    assert args[-6:] == ("--num-epochs", "3", "--batch-size", "64", "--learning-rate", "0.01")
    assert settings_from({"vmGpuCount": "1", "vmGpuType": "nvidia-tesla-t4",
                          "vmMachineType": "n1-standard-4"}).vm.gpu_count == 1  # fmt: skip


def test_a_gpu_type_alone_means_one_gpu():
    training = settings_from({"trainingGpuType": "NVIDIA_TESLA_T4", "trainingMachineType": "n1-standard-8"}).training
    assert (training.gpu_type, training.gpu_count) == ("NVIDIA_TESLA_T4", 1)


def test_a_malformed_region_is_named_once():
    problems = [p for p in problems_of({}, {**GCP_DEV, "region": "europe-west"}) if p.startswith("gcp:region")]
    assert problems == ["gcp:region 'europe-west': a region looks like europe-west1"]


def test_training_needs_a_region_with_vertex_ai():
    problems = problems_of({}, {**GCP_DEV, "region": "mars-north1", "zone": "mars-north1-a"})
    assert any(
        p.startswith("gcp:region 'mars-north1': Vertex AI custom training is not offered there") for p in problems
    )
    settings_from({"trainingEnabled": False, "servingEnabled": False}, {**GCP_DEV, "region": "mars-north1",
                                                                        "zone": "mars-north1-a"})  # fmt: skip


def test_vertex_regions_are_the_discovery_documents_locational_endpoints():
    import googleapiclient

    from stack import catalog

    document = json.loads(
        (Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "aiplatform.v1.json").read_text()
    )
    regional = {endpoint["location"] for endpoint in document["endpoints"]} - {"eu", "us"}
    assert catalog.VERTEX_REGIONS == regional


def test_your_own_trainer_gets_its_arguments_verbatim(tmp_path):
    source = tmp_path / "mnist"
    source.mkdir()
    (source / "Dockerfile").write_text("FROM python:3.11-slim\n")
    settings = settings_from({"trainerSource": str(source), "trainingArgs": ["--epochs", "3", "--lr=0.1"],
                              "trainerModule": "mnist.train"})  # fmt: skip
    assert settings.trainer.source_dir == source and not settings.trainer.is_bundled
    assert settings.training.args == ("--epochs", "3", "--lr=0.1") and not settings.training.passes_job_dir
    numbers = settings_from({"trainerSource": str(source), "trainingArgs": ["--epochs", 3, "--lr", 0.1]})
    assert numbers.training.args == ("--epochs", "3", "--lr", "0.1"), "what `config set --path` stores"
    assert settings.trainer.module == "mnist.train"
    # Nothing taxi-specific reaches another trainer: no default data files, no --job-dir, no model server.
    assert settings_from({"trainerSource": str(source)}).training.args == ()
    assert not settings.serving.enabled


def test_your_own_trainer_needs_what_its_mode_builds(tmp_path):
    source = tmp_path / "mnist"
    source.mkdir()
    assert any("container mode and serving build" in p and "Dockerfile" in p
               for p in problems_of({"trainerSource": str(source)}))  # fmt: skip
    assert any("package mode builds an sdist from" in p and "pyproject.toml" in p
               for p in problems_of({"trainerSource": str(source), "trainingMode": "package"}))  # fmt: skip
    assert any("give the trainer's arguments as a list of strings" in p
               for p in problems_of({"trainerSource": str(source), "trainingArgs": {"numEpochs": 3}}))  # fmt: skip


def test_a_relative_trainer_source_is_relative_to_the_project():
    settings = settings_from({"trainerSource": "./training"})
    assert settings.trainer.source_dir == ROOT / "training" and settings.trainer.is_bundled


def test_serving_follows_training_unless_a_model_is_given():
    # servingEnabled true (the default, which the CLI passes like any value) cannot serve without a model:
    # serving is off, with the reason for the preview's warning.
    for values in ({"trainingEnabled": False}, {"trainingEnabled": False, "servingEnabled": True}):
        serving = settings_from(values).serving
        assert not serving.enabled and serving.off_because.startswith("there is no model to serve")
    served = settings_from({"trainingEnabled": False, "servingModelUri": "gs://models-bucket/run-7/model"}).serving
    assert served.enabled and served.model_uri == "gs://models-bucket/run-7/model"
    assert not settings_from({"servingEnabled": False}).serving.enabled


def test_names_keep_to_googles_character_rules():
    assert naming.slug("Feature/Branch__x") == "feature-branch-x"
    assert naming.label_value("My Stack_1") == "my-stack_1"
    from components.ci_roles import role_id

    assert role_id("deployer", "feature/x-y") == "gcpMlopsDeployer_feature_x_y"
    assert re.fullmatch(r"[a-zA-Z0-9_.]{3,64}", role_id("previewer", "a" * 80))


def test_every_catalog_dependent_default_is_in_the_catalog():
    from stack import catalog

    settings = settings_from({})
    assert catalog.vm_image_family(settings.vm.image) is not None
    assert catalog.executor_image_of(settings.training.executor_image) is not None
    gpu = settings_from({"trainingScaleTier": "BASIC_GPU"}).training
    assert catalog.executor_image_of(gpu.executor_image).gpu and catalog.gpu_by_vertex_name(gpu.gpu_type)
    for tier in catalog.SCALE_TIERS.values():
        if tier and tier.gpu_type:
            assert catalog.gpu_by_vertex_name(tier.gpu_type) is not None
    for entry in (*catalog.DL_VM_FAMILIES, *catalog.EXECUTOR_IMAGES, *catalog.GPU_TYPES):
        assert entry.source.url.startswith("https://") and entry.source.read_on.year >= 2026


def test_a_value_of_the_wrong_type_is_one_problem_not_two():
    problems = problems_of({"vmMachineType": "n1-standard-4", "vmGpuType": "nvidia-tesla-t4", "vmGpuCount": True})
    assert problems == ["vmGpuCount 'true': must be a whole number"], "no second problem about a default never written"
    assert problems_of({"vmDiskSizeGb": "lots"}) == ["vmDiskSizeGb 'lots': must be a whole number"]


def test_config_errors_reach_the_user_without_a_traceback():
    """Pulumi's language host prints a RunError's message alone; any other exception with a traceback."""
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


# --- what `pulumi up` hands the program: every project key, unset ones at their defaults -----------------

CLI_CONFIGS = [
    {},
    {"trainingScaleTier": "BASIC_GPU"},
    {"trainingScaleTier": "STANDARD_1"},
    {"trainingGpuType": "NVIDIA_TESLA_T4", "trainingMachineType": "n1-standard-8"},
    {"trainingEnabled": False},
    {"trainingMode": "package", "githubRepository": "octo/repo", "encryptionKey": "create"},
    {"trainerSource": "examples/shapes", "trainingArgs": ["--epochs", "2"]},
]


def test_the_cli_renders_defaults_as_go_prints_them():
    """pulumi/pulumi workspace.createConfigValue: primitives with %v, structures as JSON."""
    assert schema.cli_rendering("destroyData") == "false" and schema.cli_rendering("vmEnabled") == "true"
    assert schema.cli_rendering("vmDiskSizeGb") == "100" and schema.cli_rendering("vmImage") == schema.default(
        "vmImage"
    )
    assert json.loads(schema.cli_rendering("trainingArgs")) == schema.default("trainingArgs")
    assert schema.cli_rendering("labels") == "{}"
    for key in schema.keys():
        rendering, default = schema.cli_rendering(key), schema.default(key)
        assert (rendering if isinstance(default, str) else json.loads(rendering)) == default, key


@pytest.mark.parametrize("values", CLI_CONFIGS, ids=range(len(CLI_CONFIGS)))
def test_settings_do_not_depend_on_whether_the_cli_filled_in_the_defaults(values):
    assert settings_from(values, cli_defaults=True) == settings_from(values, cli_defaults=False)


def test_the_tiers_counts_apply_unless_a_stack_sets_its_own():
    assert settings_from({"trainingScaleTier": "STANDARD_1"}).training.replica_count == 5
    assert settings_from({"trainingScaleTier": "STANDARD_1", "trainingReplicaCount": 2}).training.replica_count == 2
    # `pulumi config set trainingReplicaCount 3` stores the string "3"; `--path` stores the number.
    assert settings_from({"trainingReplicaCount": "3"}).training.replica_count == 3
    assert settings_from({"trainingScaleTier": "BASIC_GPU"}).training.gpu_count == 1
    assert settings_from({"trainingScaleTier": "BASIC_GPU", "trainingGpuCount": 2}).training.gpu_count == 2
    assert "trainingGpuCount 'two': must be a whole number" in problems_of({"trainingGpuCount": "two"})[0]


@pytest.mark.parametrize("gpu", ["NVIDIA_TESLA_V100", "NVIDIA_TESLA_P4"])
def test_gpus_the_trainer_images_cuda_wheels_do_not_support_are_refused_in_container_mode(gpu):
    values = {"trainingGpuType": gpu, "trainingMachineType": "n1-standard-8"}
    (problem,) = [p for p in problems_of(values) if p.startswith("trainingGpuType")]
    assert "PyTorch CUDA wheels" in problem and "NVIDIA_TESLA_T4" in problem and gpu not in problem.split(": use")[1]
    # Package mode runs Google's prebuilt executor image, which brings its own CUDA.
    assert settings_from({**values, "trainingMode": "package"}).training.gpu_type == gpu
