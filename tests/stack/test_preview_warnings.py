"""What `pulumi preview` warns about: retired platform values and settings that need a step outside the stack."""

import dataclasses
import json
from datetime import date

import pytest

from stack import preview_warnings
from stack.config import load_settings

TODAY = date(2026, 12, 1)
GCP = {"project": "mlops-course-123", "region": "europe-west1", "zone": "europe-west1-b"}


def settings_from(values):
    raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    return load_settings(raw.get, GCP.get, "dev")


def test_the_default_configuration_warns_about_nothing():
    assert preview_warnings.of(settings_from({}), today=TODAY) == []


def test_a_retired_prebuilt_executor_is_named_with_what_to_do_instead():
    (warning,) = preview_warnings.of(settings_from({"trainingMode": "package"}), today=TODAY)
    assert warning.startswith("trainingExecutorImage europe-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310")
    assert "2026-07-24" in warning and "trainingMode container" in warning
    assert preview_warnings.of(settings_from({"trainingMode": "package"}), today=date(2026, 1, 1)) == []


def test_an_unknown_image_family_is_named_with_the_current_ones():
    (warning,) = preview_warnings.of(settings_from({"vmImage": "pytorch-latest-cpu"}), today=TODAY)
    assert warning.startswith("vmImage pytorch-latest-cpu: not among the Deep Learning VM families")
    assert "pytorch-2-9-cu129-ubuntu-2204-nvidia-580" in warning
    assert preview_warnings.of(settings_from({"vmImage": "projects/my-images/global/images/mine"}), today=TODAY) == []


def test_a_family_near_its_end_of_availability_is_named():
    (warning,) = preview_warnings.of(settings_from({}), today=date(2028, 6, 1))
    assert warning.startswith("vmImage pytorch-2-9-cu129-ubuntu-2204-nvidia-580: Google's end of availability")


def test_a_gpu_near_its_end_of_support_is_named():
    # The configuration refuses a GPU past its end of support; this one was configured before that date.
    settings = settings_from({"trainingGpuType": "NVIDIA_TESLA_T4", "trainingMachineType": "n1-standard-8"})
    settings = dataclasses.replace(
        settings, training=dataclasses.replace(settings.training, gpu_type="NVIDIA_TESLA_P100")
    )
    (warning,) = preview_warnings.of(settings, today=date(2026, 8, 1))
    assert warning.startswith("trainingGpuType NVIDIA_TESLA_P100: Google's end of support is 2026-09-15")
    vm = settings_from({"vmMachineType": "n1-standard-4", "vmGpuType": "nvidia-tesla-t4", "vmGpuCount": 1})
    vm = dataclasses.replace(vm, vm=dataclasses.replace(vm.vm, gpu_type="nvidia-tesla-p100"))
    vm = dataclasses.replace(vm, training=dataclasses.replace(vm.training, enabled=False))
    (warning,) = preview_warnings.of(vm, today=date(2026, 8, 1))
    assert warning.startswith("vmGpuType nvidia-tesla-p100: Google's end of support is 2026-09-15"), "as configured"


@pytest.mark.parametrize("uri, warned", [("gs://other-bucket/run/model", True),
                                        ("gs://mlops-course-123-dev-mlops/models/best", False)])  # fmt: skip
def test_a_model_in_another_bucket_needs_a_grant_the_warning_spells_out(uri, warned):
    warnings = preview_warnings.of(settings_from({"servingModelUri": uri}), today=TODAY)
    assert bool(warnings) is warned
    if warned:
        assert "gcloud storage buckets add-iam-policy-binding gs://other-bucket" in warnings[0]
        assert "serviceAccount:server-dev@mlops-course-123.iam.gserviceaccount.com" in warnings[0]


def test_the_program_prints_them(caplog):
    from tools.render import render

    render({"vmImage": "pytorch-2-9-cu129-ubuntu-2404-nvidia-580", "servingModelUri": "gs://other-bucket/m"})
    # Under mocks the engine's log goes to Python logging; `pulumi preview` prints the same text as a warning.
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any(
        message.startswith("servingModelUri gs://other-bucket/m: the model server may read only") for message in warned
    )
