"""The model service: Cloud Run v2, the stack's image by digest, private, scaled to zero (components/serving.py)."""

import json
import re

import pytest

from components import serving
from tools.render import TEST_PROJECT, Rendered, render

SERVICE = "gcp:cloudrunv2/service:Service"
INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"


@pytest.fixture(scope="module")
def public() -> Rendered:
    return render({"servingPublic": True, "servingMinInstances": 1, "servingMaxInstances": 5})


def service_of(rendered: Rendered) -> dict:
    return rendered.one(SERVICE).inputs


def container_of(rendered: Rendered) -> dict:
    (container,) = service_of(rendered)["template"]["containers"]
    return container


def test_the_service_runs_the_trained_image_by_digest_with_the_model_server(dev_stack):
    container = container_of(dev_stack)
    assert container["image"] == dev_stack.outputs["image"]
    assert re.search(r"/trainer@sha256:[0-9a-f]{64}$", container["image"])
    assert container["commands"] == ["python", "-m", "trainer.serve"]
    # The model of the run the stack declares, until servingModelUri says otherwise.
    assert container["envs"] == [{"name": "MODEL_DIR", "value": dev_stack.outputs["training_job"]["model_dir"]}]
    assert container["ports"] == {"containerPort": 8080}


def test_a_given_model_uri_is_served():
    rendered = render({"servingModelUri": "gs://models-bucket/run-7/model"})
    assert container_of(rendered)["envs"] == [{"name": "MODEL_DIR", "value": "gs://models-bucket/run-7/model"}]


def test_it_is_private_by_default_and_scales_to_zero(dev_stack):
    service = service_of(dev_stack)
    assert not dev_stack.of_type(INVOKER), "no invoker: callers need roles/run.invoker and an identity token"
    # Unset, so false; setting it at all takes run.services.setIamPolicy, which the CI deployer does not hold.
    assert "invokerIamDisabled" not in service and service["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert service["template"]["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 3}
    assert service["deletionProtection"] is False, "pulumi-gcp's default true would make pulumi destroy fail"
    assert service["labels"]["purpose"] == "model-serving" and service["labels"]["managed-by"] == "pulumi"


def test_public_serving_adds_all_users_as_invoker_and_bounds_follow_the_config(public):
    (invoker,) = public.of_type(INVOKER)
    assert (invoker.inputs["role"], invoker.inputs["member"]) == ("roles/run.invoker", "allUsers")
    assert service_of(public)["template"]["scaling"] == {"minInstanceCount": 1, "maxInstanceCount": 5}


def test_cpu_memory_and_probes_fit_torch(dev_stack):
    container = container_of(dev_stack)
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"}, "cpuIdle": True, "startupCpuBoost": True}
    startup, liveness = container["startupProbe"], container["livenessProbe"]
    assert startup["httpGet"] == {"path": "/health", "port": 8080} == liveness["httpGet"]
    # Cloud Run: startup period at most 240 s; timeout below the period.
    assert startup["periodSeconds"] <= 240 and startup["timeoutSeconds"] < startup["periodSeconds"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "importing torch on one CPU is slow"
    assert liveness["timeoutSeconds"] < liveness["periodSeconds"]


def test_it_runs_as_its_own_account_that_reads_models_only(dev_stack):
    service = service_of(dev_stack)
    assert service["template"]["serviceAccount"] == f"server-dev@{TEST_PROJECT}.iam.gserviceaccount.com"
    grants = [m for m in dev_stack.of_type(BUCKET_MEMBER) if "server-dev" in m.inputs["member"]]
    assert [(g.inputs["role"], g.name) for g in grants] == [("roles/storage.objectViewer", "bucket-server-read")]
    assert "/objects/jobs/" in grants[0].inputs["condition"]["expression"]
    # It waits for that grant and for the deployer's actAs on its account before the first revision.
    service_resource = dev_stack.one(SERVICE)
    upstream = {dev_stack.by_urn(urn).name for urn in dev_stack.upstream(service_resource)}
    assert {"bucket-server-read", "run"} <= upstream
    with_ci = render({"githubRepository": "o/r"})
    service = with_ci.one(SERVICE)
    assert "server-actas-deployer" in {with_ci.by_urn(urn).name for urn in with_ci.upstream(service)}


def test_outputs_are_the_url_and_a_ready_to_paste_request(dev_stack):
    url = dev_stack.outputs["serving_url"]
    assert url.startswith("https://") and url.endswith(".run.app")
    command = dev_stack.outputs["serving_request_command"]
    assert command.startswith('curl -H "Authorization: Bearer $(gcloud auth print-identity-token)"')
    body = json.loads(command.split("-d '", 1)[1].split("' ", 1)[0])
    (instance,) = body["instances"]
    assert instance == serving.example_instance() and "tip" not in instance
    assert instance["payment_type"] == "Prcard" and instance["trip_miles"] == 1.11
    assert command.endswith(f"{url}/predict")


def test_no_service_without_training_or_a_model(render_stack):
    rendered = render_stack({"trainingEnabled": False})
    assert not rendered.of_type(SERVICE) and "serving_url" not in rendered.outputs
    assert "run.googleapis.com" not in {s.inputs["service"] for s in rendered.of_type("gcp:projects/service:Service")}


def test_the_service_waits_for_the_cloud_run_api(dev_stack):
    run_api = dev_stack.one("gcp:projects/service:Service", "run")
    assert dev_stack.depends_on(dev_stack.one(SERVICE), run_api)


def test_another_trainer_is_not_served_and_the_preview_says_why(tmp_path, caplog):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    rendered = render({"trainerSource": str(tmp_path), "trainingArgs": ["--epochs", "1"]})
    assert not rendered.of_type(SERVICE)
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any(message.startswith("servingEnabled: serving is off: the model server is part of the stack's own")
               for message in warned), warned  # fmt: skip


def test_a_model_elsewhere_in_the_bucket_is_what_the_server_may_read():
    uri = f"gs://{TEST_PROJECT}-dev-mlops/models/best"
    rendered = render({"servingModelUri": uri})
    (grant,) = [m for m in rendered.of_type(BUCKET_MEMBER) if m.name == "bucket-server-read"]
    assert "/objects/models/best/" in grant.inputs["condition"]["expression"]
    assert "/objects/jobs/" not in grant.inputs["condition"]["expression"]


def test_the_sizes_fit_cloud_runs_limits(dev_stack):
    from stack import catalog

    limits = container_of(dev_stack)["resources"]["limits"]
    assert int(limits["memory"].removesuffix("Gi")) <= catalog.CLOUD_RUN_CPU_MEMORY_LIMITS_GIB[limits["cpu"]]
    assert len(service_of(dev_stack)["name"]) <= catalog.CLOUD_RUN_SERVICE_NAME_LIMIT
