"""tests/discovery.py: the request validator that the Vertex fake applies to every create body."""

from __future__ import annotations

from typing import Any

import pytest

from tests import discovery

JOB = "GoogleCloudAiplatformV1CustomJob"
IMAGE = "us-docker.pkg.dev/p/r/trainer@sha256:" + "0" * 64


def valid_job(**overrides: Any) -> dict[str, Any]:
    job = {
        "displayName": "train",
        "labels": {"team": "ml"},
        "jobSpec": {
            "workerPoolSpecs": [
                {
                    "machineSpec": {
                        "machineType": "n1-standard-8",
                        "acceleratorType": "NVIDIA_TESLA_T4",
                        "acceleratorCount": 1,
                    },
                    "replicaCount": "1",
                    "diskSpec": {"bootDiskSizeGb": 100},
                    "containerSpec": {
                        "imageUri": IMAGE,
                        "args": ["--epochs", "3"],
                        "env": [{"name": "A", "value": "b"}],
                    },
                }
            ],
            "baseOutputDirectory": {"outputUriPrefix": "gs://bucket/run"},
            "scheduling": {"timeout": "3600s", "strategy": "SPOT", "restartJobOnWorkerRestart": True},
        },
    }
    job.update(overrides)
    return job


def pool(job: dict[str, Any]) -> dict[str, Any]:
    return job["jobSpec"]["workerPoolSpecs"][0]


def test_a_valid_job_has_no_problems() -> None:
    assert discovery.validate("aiplatform.v1", JOB, valid_job()) == []


def test_int64_may_be_a_number_too() -> None:
    job = valid_job()
    pool(job)["replicaCount"] = 2
    assert discovery.validate("aiplatform.v1", JOB, job) == []


def test_the_request_schema_is_found_from_the_method() -> None:
    assert discovery.request_schema_name("aiplatform.v1", "aiplatform.projects.locations.customJobs.create") == JOB


def mutate(change) -> list[str]:
    job = valid_job()
    change(job)
    return discovery.validate("aiplatform.v1", JOB, job)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda job: job.update(displayname="x"), "displayname: unknown field"),
        (
            lambda job: pool(job)["machineSpec"].update(gpuType="T4"),
            "jobSpec.workerPoolSpecs[0].machineSpec.gpuType: unknown field",
        ),
        (lambda job: job.update(state="JOB_STATE_RUNNING"), "state: output-only field must not be sent"),
        (lambda job: job.update(createTime="2026-01-01T00:00:00Z"), "createTime: output-only field must not be sent"),
        (lambda job: job.pop("displayName"), "displayName: missing required field"),
        (
            lambda job: pool(job)["containerSpec"].pop("imageUri"),
            "jobSpec.workerPoolSpecs[0].containerSpec.imageUri: missing required field",
        ),
        (lambda job: job["jobSpec"].update(workerPoolSpecs=[]), "jobSpec.workerPoolSpecs: missing required field"),
        (
            lambda job: pool(job)["machineSpec"].update(acceleratorType="NVIDIA_T4"),
            "acceleratorType: 'NVIDIA_T4' is not one of",
        ),
        (
            lambda job: pool(job)["machineSpec"].update(acceleratorType="NVIDIA_TESLA_K80"),
            "acceleratorType: 'NVIDIA_TESLA_K80' is deprecated",
        ),
        (
            lambda job: pool(job)["machineSpec"].update(acceleratorCount="1"),
            "acceleratorCount: expected an integer, got '1'",
        ),
        (lambda job: pool(job)["machineSpec"].update(acceleratorCount=1.5), "acceleratorCount: expected an integer"),
        (lambda job: pool(job)["machineSpec"].update(acceleratorCount=True), "acceleratorCount: expected an integer"),
        (lambda job: pool(job)["diskSpec"].update(bootDiskSizeGb=2**31), "out of int32 range"),
        (lambda job: pool(job).update(replicaCount="two"), "replicaCount: expected a 64-bit integer"),
        (lambda job: pool(job)["containerSpec"].update(args="--epochs 3"), "containerSpec.args: expected an array"),
        (lambda job: pool(job)["containerSpec"].update(env=[{"name": "A"}]), "env[0].value: missing required field"),
        (lambda job: job["jobSpec"]["scheduling"].update(restartJobOnWorkerRestart="yes"), "expected a boolean"),
        (lambda job: job["jobSpec"]["scheduling"].update(timeout="1h"), "timeout: '1h' is not a duration"),
        (lambda job: job.update(labels={"team": 1}), "labels.team: expected a string, got 1"),
        (lambda job: job.update(jobSpec="spec"), "jobSpec: expected an object, got str"),
    ],
)
def test_each_kind_of_problem_is_reported(change, problem: str) -> None:
    problems = mutate(change)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_other_documents_work_too() -> None:
    bucket = {"name": "b", "location": "US", "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": "yes"}}}
    assert discovery.validate("storage.v1", "Bucket", bucket) == [
        "iamConfiguration.uniformBucketLevelAccess.enabled: expected a boolean, got 'yes'"
    ]
