"""The foundation under the real program: APIs first, a bucket that never loses data, least-privilege
identities and labels everywhere."""

import pytest

from stack.iam import project_role_problem
from tools.render import TEST_PROJECT, render

SERVICE = "gcp:projects/service:Service"
BUCKET = "gcp:storage/bucket:Bucket"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"

# Which API each resource type needs (the module of its type token).
API_OF_MODULE = {
    "storage": "storage",
    "serviceaccount": "iam",
    "compute": "compute",
    "artifactregistry": "artifactregistry",
    "kms": "cloudkms",
    "iam": "iam",
}
API_OF_TYPE = {
    "gcp:projects/iAMMember:IAMMember": "cloudresourcemanager",
    "gcp:projects/serviceIdentity:ServiceIdentity": "serviceusage",
}


def test_every_api_the_stack_uses_is_enabled_and_never_disabled(dev_stack):
    services = {r.inputs["service"]: r for r in dev_stack.of_type(SERVICE)}
    for api in (
        "compute",
        "storage",
        "iam",
        "iamcredentials",
        "sts",
        "artifactregistry",
        "aiplatform",
        "logging",
        "cloudresourcemanager",
    ):
        assert f"{api}.googleapis.com" in services
    assert "cloudkms.googleapis.com" not in services
    for service in services.values():
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["project"] == TEST_PROJECT


def test_optional_apis_follow_the_configuration():
    stack = render({"encryptionKey": "create", "vmEnabled": False, "trainingEnabled": False})
    services = {r.inputs["service"] for r in stack.of_type(SERVICE)}
    assert "cloudkms.googleapis.com" in services
    assert "compute.googleapis.com" not in services and "aiplatform.googleapis.com" not in services


def _needs_api(resource) -> str | None:
    if not resource.custom or resource.type == SERVICE or not resource.type.startswith("gcp:"):
        return None
    module = resource.type.split(":")[1].split("/")[0]
    return API_OF_TYPE.get(resource.type) or API_OF_MODULE.get(module)


def _depends_on_api(stack, resource, api: str) -> bool:
    """Directly, or through something it consumes that depends on the API (e.g. the bucket's name)."""
    service = next(s for s in stack.of_type(SERVICE) if s.inputs["service"] == f"{api}.googleapis.com")
    seen, frontier = set(), [resource]
    while frontier:
        current = frontier.pop()
        if stack.depends_on(current, service):
            return True
        upstream = set(current.dependencies) | {u for deps in current.property_dependencies.values() for u in deps}
        frontier += [stack.by_urn(u) for u in upstream - seen if any(r.urn == u for r in stack.resources)]
        seen |= upstream
    return False


@pytest.mark.parametrize("overrides", [{}, {"encryptionKey": "create", "githubRepository": "o/r"}])
def test_every_resource_waits_for_the_api_it_uses(overrides):
    stack = render(overrides)
    for resource in stack.resources:
        api = _needs_api(resource)
        if api:
            assert _depends_on_api(stack, resource, api), f"{resource.type} {resource.name} does not wait for {api}"


def test_data_bucket_is_private_versioned_and_kept_on_destroy(dev_stack):
    bucket = dev_stack.one(BUCKET)
    inputs = bucket.inputs
    assert inputs["name"] == f"{TEST_PROJECT}-dev-mlops" and inputs["location"] == "europe-west1"
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["versioning"] == {"enabled": True}
    assert inputs["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 24 * 3600
    conditions = [rule["condition"] for rule in inputs["lifecycleRules"] if rule["action"]["type"] == "Delete"]
    # As documented: 3 noncurrent versions (numNewerVersions counts the live version too: storage.v1
    # "at least N versions (including the live version) newer than this version"), each for at most
    # 30 days; live objects never; the DVC remote's versions never.
    prefixes = ["data/", "jobs/", "packages/", "builds/", "scratch/"]
    assert {"numNewerVersions": 4, "withState": "ARCHIVED", "matchesPrefixes": prefixes} in conditions
    assert {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED", "matchesPrefixes": prefixes} in conditions
    assert all(c.get("withState") == "ARCHIVED" for c in conditions), "lifecycle must never delete live objects"
    assert all("dvc/" not in c["matchesPrefixes"] for c in conditions), "DVC keeps dataset versions as old versions"
    assert inputs["forceDestroy"] is False
    assert bucket.retain_on_delete is True and inputs["deletionPolicy"] == "ABANDON"
    assert "encryption" not in inputs


def test_destroy_data_lets_destroy_delete_the_bucket():
    bucket = render({"destroyData": True}).one(BUCKET)
    assert bucket.retain_on_delete is False and bucket.inputs["forceDestroy"] is True
    assert bucket.inputs["deletionPolicy"] == "DELETE"


def test_bucket_outputs_tell_the_user_what_to_do_next(dev_stack):
    url = f"gs://{TEST_PROJECT}-dev-mlops"
    assert dev_stack.outputs["bucket_url"] == url
    assert dev_stack.outputs["dvc_commands"] == [
        f"dvc remote add -d remote_storage {url}/dvc",
        "dvc remote modify remote_storage version_aware true",
    ]
    assert set(dev_stack.outputs["service_accounts"]) == {"trainer", "workstation", "server"}


def test_dedicated_service_accounts_and_no_keys(dev_stack):
    accounts = {r.name: r.inputs["accountId"] for r in dev_stack.of_type(ACCOUNT)}
    assert accounts == {"trainer": "trainer-dev", "workstation": "workstation-dev", "server": "server-dev"}
    full = {r.name for r in render({"githubRepository": "o/r", "imageBuilder": "cloudbuild"}).of_type(ACCOUNT)}
    assert full == {"trainer", "workstation", "deployer", "server", "builder", "previewer"}
    bare = render({"vmEnabled": False, "trainingEnabled": False})
    assert bare.of_type(ACCOUNT) == [], "only the accounts the configuration needs"
    assert (
        bare.of_type(BUCKET_MEMBER) == []
        and bare.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember") == []
    )
    assert not dev_stack.of_type("gcp:serviceaccount/key:Key")


@pytest.mark.parametrize(
    "overrides", [{}, {"encryptionKey": "create", "githubRepository": "o/r", "trainingMode": "package"}]
)
def test_project_level_grants_are_least_privilege(overrides):
    stack = render(overrides)
    grants = {(r.inputs["role"], r.inputs["member"].split("@")[0]) for r in stack.of_type(PROJECT_MEMBER)}
    expected = {
        ("roles/logging.logWriter", "serviceAccount:trainer-dev"),
        ("roles/monitoring.metricWriter", "serviceAccount:trainer-dev"),
        ("roles/logging.logWriter", "serviceAccount:workstation-dev"),
        ("roles/monitoring.metricWriter", "serviceAccount:workstation-dev"),
    }
    if "githubRepository" in overrides:
        # The CI accounts hold the stack's own custom roles only (components/ci_roles.py).
        expected |= {
            (f"projects/{TEST_PROJECT}/roles/gcpMlopsDeployer_dev", "serviceAccount:deployer-dev"),
            (f"projects/{TEST_PROJECT}/roles/gcpMlopsPreviewer_dev", "serviceAccount:previewer-dev"),
        }
    assert grants == expected
    for role, _ in grants:
        assert project_role_problem(role) is None, role
    roles = {r.outputs["name"] for r in stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")}
    for member in stack.of_type(PROJECT_MEMBER):
        if member.inputs["role"] in roles:
            custom_role = next(r for r in stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
                               if r.outputs["name"] == member.inputs["role"])  # fmt: skip
            assert stack.depends_on(member, custom_role), "a grant of a custom role waits for the role"
    assert not stack.of_type("gcp:projects/iAMBinding:IAMBinding") and not stack.of_type(
        "gcp:projects/iAMPolicy:IAMPolicy"
    )


def _bucket_grants(stack):
    return {(r.name.removeprefix("bucket-"), r.inputs["role"], (r.inputs.get("condition") or {}).get("expression"))
            for r in stack.of_type(BUCKET_MEMBER)}  # fmt: skip


def _under(*prefixes, listing=False):
    bucket = f"{TEST_PROJECT}-dev-mlops"
    tests = [f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")' for prefix in prefixes]
    return " || ".join(([f'resource.name == "projects/_/buckets/{bucket}"'] if listing else []) + tests)


def test_every_write_to_the_bucket_is_limited_to_its_prefixes():
    stack = render({"githubRepository": "o/r", "imageBuilder": "cloudbuild"})
    assert _bucket_grants(stack) == {
        ("trainer-read", "roles/storage.objectViewer", None),
        ("trainer-write", "roles/storage.objectUser", _under("jobs/")),
        ("workstation-read", "roles/storage.objectViewer", None),
        ("workstation-write", "roles/storage.objectUser", _under("data/", "dvc/", "scratch/")),
        ("deployer-write", "roles/storage.objectUser", _under("packages/", "builds/")),
        ("server-read", "roles/storage.objectViewer", _under("jobs/", listing=True)),
        ("builder-read", "roles/storage.objectViewer", _under("builds/")),
        ("previewer-read", "roles/storage.objectViewer", _under("packages/", "builds/")),
    }
    bucket = stack.one(BUCKET)
    for member in stack.of_type(BUCKET_MEMBER):
        assert member.inputs["bucket"] == bucket.inputs["name"] and stack.depends_on(member, bucket)
        condition = member.inputs.get("condition")
        assert condition is None or (condition["title"] and len(condition["title"]) <= 100)


def test_the_deployer_may_act_as_exactly_the_accounts_whose_resources_it_manages():
    stack = render({"githubRepository": "o/r", "imageBuilder": "cloudbuild"})
    act_as = [m for m in stack.of_type(SA_MEMBER) if m.inputs["role"] == "roles/iam.serviceAccountUser"]
    assert {m.inputs["member"] for m in act_as} == {
        f"serviceAccount:deployer-dev@{TEST_PROJECT}.iam.gserviceaccount.com"
    }
    targets = {m.inputs["serviceAccountId"].split("/")[-1].split("-dev@")[0] for m in act_as}
    assert targets == {"trainer", "workstation", "server", "builder"}, "never the deployer or the previewer"


def test_project_role_guard_refuses_dangerous_roles():
    for role in (
        "roles/owner",
        "roles/editor",
        "roles/viewer",
        "roles/storage.admin",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountTokenCreator",
    ):
        assert project_role_problem(role), role
    assert project_role_problem("roles/logging.logWriter") is None


@pytest.mark.parametrize("overrides", [{}, {"labels": {"team": "ml", "cost-center": "dtu"}, "encryptionKey": "create"}])
def test_every_labelable_resource_carries_the_stack_labels(overrides):
    stack = render(overrides)
    labelled = [r for r in stack.resources if r.custom and "labels" in r.inputs]
    assert {BUCKET} <= {r.type for r in labelled}
    for resource in labelled:
        labels = resource.inputs["labels"]
        assert labels["stack"] == "dev" and labels["managed-by"] == "pulumi" and labels["pulumi-project"] == "gcp-mlops"
        for key, value in overrides.get("labels", {}).items():
            assert labels[key] == value


def test_components_parent_their_resources(dev_stack):
    top_level = [r for r in dev_stack.resources if r.parent.endswith("pulumi:pulumi:Stack::gcp-mlops-dev")]
    assert top_level and all(not r.custom for r in top_level), [r.name for r in top_level if r.custom]


def test_cmek_encrypts_the_bucket_after_the_agents_may_use_the_key():
    stack = render({"encryptionKey": "create"})
    bucket = stack.one(BUCKET)
    key = stack.one("gcp:kms/cryptoKey:CryptoKey")
    assert bucket.inputs["encryption"]["defaultKmsKeyName"] == key.outputs["id"]
    grants = stack.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    members = {g.inputs["member"] for g in grants}
    assert any("gs-project-accounts" in m for m in members) and any("compute-system" in m for m in members)
    assert any("gcp-sa-artifactregistry" in m for m in members)
    for grant in grants:
        assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
        assert stack.depends_on(bucket, grant), "the bucket must wait for the key grants"
    assert key.retain_on_delete and stack.one("gcp:kms/keyRing:KeyRing").retain_on_delete


def test_a_given_kms_key_is_used_as_is():
    name = "projects/keys-prj/locations/europe-west1/keyRings/ring/cryptoKeys/data"
    stack = render({"encryptionKey": name})
    assert stack.one(BUCKET).inputs["encryption"]["defaultKmsKeyName"] == name
    assert not stack.of_type("gcp:kms/cryptoKey:CryptoKey")
    assert {g.inputs["cryptoKeyId"] for g in stack.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")} == {name}


KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"


def _service(stack, api):
    return next(s for s in stack.of_type(SERVICE) if s.inputs["service"] == f"{api}.googleapis.com")


def test_only_agents_of_enabled_apis_get_the_key_and_after_their_api():
    stack = render({"encryptionKey": "create", "vmEnabled": False})
    grants = {g.name: g for g in stack.of_type(KEY_MEMBER)}
    assert set(grants) == {"key-storage", "key-artifactregistry", "key-aiplatform"}, "no compute agent without compute"
    full = render({"encryptionKey": "create"})
    grants = {g.name: g for g in full.of_type(KEY_MEMBER)}
    assert full.depends_on(grants["key-compute"], _service(full, "compute"))
    assert full.depends_on(grants["key-storage"], _service(full, "storage"))
    agent = full.one("gcp:projects/serviceIdentity:ServiceIdentity", "artifactregistry-agent")
    assert full.depends_on(grants["key-artifactregistry"], agent)


def test_destroy_keeps_the_key_grants_that_keep_the_bucket_readable():
    kept = render({"encryptionKey": "create"})
    assert all(g.retain_on_delete for g in kept.of_type(KEY_MEMBER))
    destroyed = render({"encryptionKey": "create", "destroyData": True})
    assert not any(g.retain_on_delete for g in destroyed.of_type(KEY_MEMBER))
    assert not destroyed.one("gcp:kms/cryptoKey:CryptoKey").retain_on_delete
    key = kept.one("gcp:kms/cryptoKey:CryptoKey")
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert kept.outputs["kms_key_name"] == key.outputs["id"]


def test_data_access_audit_logs_record_who_read_and_changed_objects(dev_stack):
    (audit,) = dev_stack.of_type("gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert audit.inputs["service"] == "storage.googleapis.com" and audit.inputs["project"] == TEST_PROJECT
    assert sorted(c["logType"] for c in audit.inputs["auditLogConfigs"]) == ["DATA_READ", "DATA_WRITE"]


def test_unknown_keys_in_the_stack_are_refused_before_anything_is_declared():
    from stack.config import ConfigError

    with pytest.raises(ConfigError, match="vmMachinetype: unknown configuration key; did you mean vmMachineType"):
        render({"vmMachinetype": "e2-standard-4"})
