"""The Artifact Registry repository, its IAM and the trainer image (components/registry.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from artifacts.context import image_tag
from components.trainer_image import pinned_reference
from stack.schema import PROJECT_DIR
from tools.render import TEST_PROJECT, Rendered, render

REPOSITORY = "gcp:artifactregistry/repository:Repository"
REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
IMAGE = "docker:index/image:Image"
SECRET_KEY, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
REGISTRY_URL = f"europe-west1-docker.pkg.dev/{TEST_PROJECT}/mlops"
PINNED_PROJECT_EXECUTOR = "europe-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310@sha256:" + "a" * 64
KMS_KEY = "projects/keys-project/locations/europe-west1/keyRings/ring/cryptoKeys/key"
# A container image reference on a registry: host/path[:tag][@sha256:digest].
IMAGE_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9.-]+\.(?:pkg\.dev|gcr\.io)/[a-z0-9._/-]+)(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?"
)


@pytest.fixture(scope="module")
def package_stack() -> Rendered:
    return render({"trainingMode": "package"})


def expected_tag() -> str:
    return image_tag(PROJECT_DIR / "training")


# --- the repository -----------------------------------------------------------------------


def test_repository_is_a_docker_repository_in_the_region(dev_stack):
    repository = dev_stack.one(REPOSITORY).inputs
    assert (repository["format"], repository["location"], repository["repositoryId"]) == (
        "DOCKER",
        "europe-west1",
        "mlops",
    )
    assert repository["project"] == TEST_PROJECT
    assert repository["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert repository["labels"]["purpose"] == "mlops-images" and repository["labels"]["managed-by"] == "pulumi"
    assert "kmsKeyName" not in repository
    assert dev_stack.depends_on(
        dev_stack.one(REPOSITORY), dev_stack.one("gcp:projects/service:Service", "artifactregistry")
    )


def test_cleanup_keeps_the_newest_versions_and_deletes_untagged_ones(render_stack):
    rendered = render_stack({"imageKeepCount": 9, "repositoryId": "images"})
    repository = rendered.one(REPOSITORY).inputs
    assert repository["repositoryId"] == "images"
    assert repository["cleanupPolicyDryRun"] is False
    policies = {policy["id"]: policy for policy in repository["cleanupPolicies"]}
    assert policies["keep-newest"]["action"] == "KEEP"
    assert policies["keep-newest"]["mostRecentVersions"]["keepCount"] == 9
    untagged = [p for p in policies.values() if p["action"] == "DELETE" and p["condition"]["tagState"] == "UNTAGGED"]
    assert len(untagged) == 1 and untagged[0]["condition"]["olderThan"] == "259200s"
    assert policies["delete-old"] == {
        "id": "delete-old",
        "action": "DELETE",
        "condition": {"tagState": "ANY", "olderThan": "2592000s"},
    }
    assert rendered.outputs["registry_url"] == f"europe-west1-docker.pkg.dev/{TEST_PROJECT}/images"


def test_repository_uses_the_encryption_key_when_one_is_given(render_stack):
    repository = render_stack({"encryptionKey": KMS_KEY}).one(REPOSITORY).inputs
    assert repository["kmsKeyName"] == KMS_KEY


def test_registry_access_is_granted_on_the_repository_only(dev_stack):
    grants = {
        (m.inputs["role"], m.inputs["member"].split(":")[1].split("-")[0]) for m in dev_stack.of_type(REPOSITORY_MEMBER)
    }
    assert grants == {
        ("roles/artifactregistry.reader", "workstation"),
        ("roles/artifactregistry.reader", "trainer"),
        ("roles/artifactregistry.reader", "server"),
    }, "without CI the person running make up pushes with their own credentials"
    with_ci = {(m.inputs["role"], m.inputs["member"].split(":")[1].split("-")[0])
               for m in render({"githubRepository": "o/r", "imageBuilder": "cloudbuild"}).of_type(REPOSITORY_MEMBER)}  # fmt: skip
    assert with_ci - grants == {
        ("roles/artifactregistry.writer", "deployer"),
        ("roles/artifactregistry.writer", "builder"),
        ("roles/artifactregistry.reader", "previewer"),
    }
    for member in dev_stack.of_type(REPOSITORY_MEMBER):
        assert (member.inputs["repository"], member.inputs["location"]) == ("mlops", "europe-west1")
    project_roles = [m.inputs["role"] for m in dev_stack.of_type("gcp:projects/iAMMember:IAMMember")]
    assert not [role for role in project_roles if "artifactregistry" in role]


def test_registry_and_image_resources_are_children_of_their_components(dev_stack):
    component = dev_stack.one("gcp-mlops:registry:ArtifactRegistry")
    children = {(r.type, r.name) for r in dev_stack.children(component)}
    assert (REPOSITORY, "repository") in children
    assert {r.name for r in dev_stack.of_type(REPOSITORY_MEMBER)} <= {name for _, name in children}
    image = dev_stack.one(IMAGE)
    assert dev_stack.by_urn(image.parent).type == "gcp-mlops:registry:TrainerImage"


def test_the_image_keeps_its_identity_from_before_it_had_its_own_component(dev_stack):
    """Stacks deployed earlier have the image under the registry component: an alias, not a rebuild."""
    image = dev_stack.one(IMAGE)
    assert image.aliases, "the image must alias its former parent"
    assert any("ArtifactRegistry" in str(alias) for alias in image.aliases)


# --- the trainer image --------------------------------------------------------------------


def test_image_is_named_by_the_content_of_its_build_context(dev_stack):
    image = dev_stack.one(IMAGE).inputs
    assert image["imageName"] == f"{REGISTRY_URL}/trainer:{expected_tag()}"
    assert image["build"] == {"context": "training", "dockerfile": "training/Dockerfile", "platform": "linux/amd64"}
    assert image["buildOnPreview"] is False and image["skipPush"] is False


def test_gpu_jobs_get_a_cuda_build_with_its_own_tag(render_stack):
    image = render_stack({"trainingScaleTier": "BASIC_GPU"}).one(IMAGE).inputs
    assert image["build"]["args"] == {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu128"}
    cpu_tag = expected_tag()
    assert image["imageName"].endswith(":" + image_tag(PROJECT_DIR / "training", build_args=image["build"]["args"]))
    assert not image["imageName"].endswith(":" + cpu_tag), "CPU and CUDA images must not share a tag"


def test_image_pushes_with_a_secret_access_token(dev_stack):
    image = dev_stack.one(IMAGE)
    registry = image.raw_inputs["registry"]
    assert registry["server"] == "europe-west1-docker.pkg.dev"
    assert registry["username"] == "oauth2accesstoken"
    assert registry["password"][SECRET_KEY] == SECRET_VALUE
    assert image.inputs["registry"]["password"] == "ya29.test-access-token"


def test_image_waits_for_the_repository_and_its_grants(render_stack):
    """A first push by the CI deployer must not race its writer grant."""
    rendered = render_stack({"githubRepository": "o/r"})
    image = rendered.one(IMAGE)
    assert rendered.depends_on(image, rendered.one(REPOSITORY))
    assert rendered.depends_on(image, rendered.one(REPOSITORY_MEMBER, "repository-deployer-writer"))


def test_outputs_reference_the_image_by_digest(dev_stack):
    outputs = dev_stack.outputs
    image = dev_stack.one(IMAGE)
    assert outputs["image"] == pinned_reference(image.outputs["repoDigest"])
    assert re.fullmatch(rf"{re.escape(REGISTRY_URL)}/trainer@sha256:[0-9a-f]{{64}}", outputs["image"])
    assert outputs["docker_pull_command"] == f"docker pull {outputs['image']}"
    assert outputs["docker_auth_command"] == "gcloud auth configure-docker europe-west1-docker.pkg.dev"
    assert outputs["registry_url"] == REGISTRY_URL


@pytest.mark.parametrize(
    "repo_digest, pinned",
    [
        ("r-docker.pkg.dev/p/repo/trainer@sha256:" + "1" * 64, "r-docker.pkg.dev/p/repo/trainer@sha256:" + "1" * 64),
        (
            "r-docker.pkg.dev/p/repo/trainer:abc@sha256:" + "1" * 64,
            "r-docker.pkg.dev/p/repo/trainer@sha256:" + "1" * 64,
        ),
        ("localhost:5000/trainer:v1@sha256:" + "2" * 64, "localhost:5000/trainer@sha256:" + "2" * 64),
    ],
)
def test_pinned_reference_drops_the_tag(repo_digest, pinned):
    assert pinned_reference(repo_digest) == pinned


def test_pinned_reference_refuses_a_tag_alone():
    with pytest.raises(ValueError):
        pinned_reference("r-docker.pkg.dev/p/repo/trainer:latest")


def test_no_image_is_built_or_pushed_without_training(render_stack):
    rendered = render_stack({"trainingEnabled": False})
    assert rendered.of_type(IMAGE) == [] and rendered.of_type("gcp:storage/bucketObject:BucketObject") == []
    assert rendered.of_type(REPOSITORY) and "image" not in rendered.outputs
    assert "registry_url" in rendered.outputs


# --- nothing runs a mutable tag -----------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "__provider":
                yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def unpinned_images(rendered: Rendered) -> dict[str, set[str]]:
    """Image references without a digest in the inputs of every resource but Docker's own."""
    found: dict[str, set[str]] = {}
    for resource in rendered.resources:
        if resource.type.startswith("docker:"):
            continue
        for text in strings(resource.inputs):
            for match in IMAGE_REFERENCE.finditer(text):
                is_image = match["tag"] or match["name"].count("/") >= 3
                if is_image and not match["digest"]:
                    found.setdefault(match.group(0), set()).add(f"{resource.type} {resource.name}")
    return found


@pytest.mark.parametrize(
    "config",
    [{}, {"trainingMode": "package", "trainingExecutorImage": PINNED_PROJECT_EXECUTOR}],
    ids=["container", "package-pinned-executor"],
)
def test_every_image_reference_is_pinned_by_digest(render_stack, config):
    assert unpinned_images(render_stack(config)) == {}


def test_package_mode_runs_only_the_configured_executor_image_by_tag(package_stack):
    """Google's prebuilt executor images are published by tag; pin one with trainingExecutorImage."""
    executor = package_stack.outputs["executor_image"]
    assert set(unpinned_images(package_stack)) <= {executor}


def test_the_pinning_check_finds_tags_and_bare_names():
    from types import SimpleNamespace

    def declared(type_: str, inputs: dict) -> SimpleNamespace:
        return SimpleNamespace(type=type_, name="r", inputs=inputs)

    rendered = SimpleNamespace(
        resources=[
            declared("job", {"spec": [{"imageUri": f"{REGISTRY_URL}/trainer:abc"}]}),
            declared(
                "vm", {"metadata": {"startup": f"docker run {REGISTRY_URL}/trainer && gcloud auth configure-docker"}}
            ),
            declared("ok", {"imageUri": f"{REGISTRY_URL}/trainer@sha256:{'0' * 64}", "repo": REGISTRY_URL}),
            declared("docker:index/image:Image", {"imageName": f"{REGISTRY_URL}/trainer:abc"}),
        ]
    )
    assert set(unpinned_images(rendered)) == {f"{REGISTRY_URL}/trainer:abc", f"{REGISTRY_URL}/trainer"}
