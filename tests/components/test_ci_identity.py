"""Keyless CI identity: the workload identity pool, the GitHub provider and the deployer's grant."""

import pytest

from components import ci_identity
from stack.config import ConfigError
from tools.render import TEST_PROJECT_NUMBER, render

POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
REPOSITORY = "octo-org/ml-repo"
REPOSITORY_ID = "424242"
WIF_TYPES = {POOL, PROVIDER, "gcp-mlops:ci:Identity"}


@pytest.fixture(scope="module")
def pinned():
    return render({"githubRepository": REPOSITORY, "githubRepositoryId": REPOSITORY_ID})


@pytest.fixture(scope="module")
def unpinned():
    return render({"githubRepository": REPOSITORY})


def workload_identity_users(rendered):
    return [r for r in rendered.resources if r.inputs.get("role") == ci_identity.WORKLOAD_IDENTITY_USER]


def test_nothing_is_declared_without_a_repository(dev_stack):
    assert not dev_stack.types() & WIF_TYPES
    assert workload_identity_users(dev_stack) == []
    assert not {"workload_identity_provider", "deployer_service_account"} & set(dev_stack.outputs)


def test_the_provider_trusts_github_tokens_of_the_repository_and_its_id_only(pinned):
    provider = pinned.one(PROVIDER).inputs
    assert provider["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider["attributeCondition"] == (
        f"assertion.repository == '{REPOSITORY}' && assertion.repository_id == '{REPOSITORY_ID}'"
    )
    assert provider["attributeMapping"] == {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner": "assertion.repository_owner",
        "attribute.ref": "assertion.ref",
        "attribute.repository_id": "assertion.repository_id",
    }


def test_without_an_id_the_condition_pins_the_repository(unpinned):
    provider = unpinned.one(PROVIDER).inputs
    assert provider["attributeCondition"] == f"assertion.repository == '{REPOSITORY}'"
    assert "attribute.repository_id" not in provider["attributeMapping"]


@pytest.mark.parametrize("fixture", ["pinned", "unpinned"])
def test_no_provider_lacks_a_condition(fixture, request):
    providers = request.getfixturevalue(fixture).of_type(PROVIDER)
    assert providers and all(p.inputs.get("attributeCondition", "").strip() for p in providers)


def test_the_deployer_is_for_the_protected_environments_job_only(pinned):
    pool = pinned.one(POOL)
    deployer = pinned.one(ACCOUNT, "deployer")
    grants = [g for g in workload_identity_users(pinned) if g.inputs["serviceAccountId"] == deployer.outputs["name"]]
    assert [g.type for g in grants] == [SA_MEMBER]
    # One subject, never the repository's principal set: a pull request or a pushed branch has another.
    assert grants[0].inputs["member"] == (
        f"principal://iam.googleapis.com/{pool.outputs['name']}/subject/repo:{REPOSITORY}:environment:production"
    )


def test_without_an_environment_the_deployer_is_pinned_to_the_deploy_ref():
    rendered = render(
        {"githubRepository": REPOSITORY, "githubEnvironment": "", "githubDeployRef": "refs/heads/release"}
    )
    deployer = rendered.one(ACCOUNT, "deployer")
    (grant,) = [
        g for g in workload_identity_users(rendered) if g.inputs["serviceAccountId"] == deployer.outputs["name"]
    ]
    assert grant.inputs["member"].endswith(f"/subject/repo:{REPOSITORY}:ref:refs/heads/release")


def test_with_both_ids_the_immutable_subject_format_is_admitted_too():
    rendered = render({"githubRepository": REPOSITORY, "githubRepositoryId": REPOSITORY_ID, "githubOwnerId": "777"})
    deployer = rendered.one(ACCOUNT, "deployer")
    members = sorted(g.inputs["member"].split("/subject/")[1] for g in workload_identity_users(rendered)
                     if g.inputs["serviceAccountId"] == deployer.outputs["name"])  # fmt: skip
    assert members == ["repo:octo-org/ml-repo:environment:production",
                       f"repo:octo-org@777/ml-repo@{REPOSITORY_ID}:environment:production"]  # fmt: skip


def test_previews_run_as_the_read_only_previewer_for_any_job_of_the_repository(pinned):
    pool = pinned.one(POOL)
    previewer = pinned.one(ACCOUNT, "previewer")
    (grant,) = [g for g in workload_identity_users(pinned) if g.inputs["serviceAccountId"] == previewer.outputs["name"]]
    assert grant.inputs["member"] == (
        f"principalSet://iam.googleapis.com/{pool.outputs['name']}/attribute.repository/{REPOSITORY}"
    )
    assert pinned.outputs["previewer_service_account"] == previewer.outputs["email"]
    # Two accounts, and only two, can be reached from GitHub.
    assert {g.inputs["serviceAccountId"] for g in workload_identity_users(pinned)} == {
        previewer.outputs["name"],
        pinned.one(ACCOUNT, "deployer").outputs["name"],
    }


def test_pool_provider_and_grant_wait_for_the_apis_they_use(pinned):
    apis = [pinned.one("gcp:projects/service:Service", api) for api in ci_identity.APIS]
    for resource in (pinned.one(POOL), pinned.one(PROVIDER), *workload_identity_users(pinned)):
        assert all(pinned.depends_on(resource, api) for api in apis), resource.name


def test_ids_follow_gcp_rules(pinned):
    pool_id = pinned.one(POOL).inputs["workloadIdentityPoolId"]
    provider_id = pinned.one(PROVIDER).inputs["workloadIdentityPoolProviderId"]
    assert pinned.one(PROVIDER).inputs["workloadIdentityPoolId"] == pool_id
    for value in (pool_id, provider_id):
        assert ci_identity.WORKLOAD_IDENTITY_ID.match(value), value
    assert "dev" in pool_id, "ids derive from the stack: a destroyed pool's id stays taken for 30 days"


@pytest.mark.parametrize("stack", ["dev", "x", "Production_EU", "a-very-long-stack-name-for-the-ml-training-team"])
def test_derived_ids_are_valid_for_any_stack(stack):
    ids = {ci_identity.workload_identity_id(stack, base) for base in ("github", "github-oidc")}
    assert len(ids) == 2
    assert all(ci_identity.WORKLOAD_IDENTITY_ID.match(value) for value in ids)


def test_exports_are_what_the_workflows_need(pinned):
    provider = pinned.one(PROVIDER)
    assert pinned.outputs["workload_identity_provider"] == provider.outputs["name"]
    assert pinned.outputs["workload_identity_provider"].startswith(
        f"projects/{TEST_PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
    )
    assert pinned.outputs["deployer_service_account"] == pinned.one(ACCOUNT, "deployer").outputs["email"]


def test_no_service_account_key_is_declared(pinned):
    assert not pinned.of_type("gcp:serviceaccount/key:Key")


@pytest.mark.parametrize(
    "key, value",
    [
        ("githubRepository", "not a repository"),
        ("githubRepository", "https://github.com/octo-org/ml-repo"),
        ("githubRepository", "octo-org/ml-repo/extra"),
        ("githubRepository", "octo-org"),
        ("githubRepositoryId", "R_kgDOabc"),
    ],
)
def test_bad_github_settings_fail_naming_the_key(key, value):
    overrides = {"githubRepository": REPOSITORY, key: value}
    with pytest.raises(ConfigError) as error:
        render(overrides)
    assert any(problem.startswith(f"{key} ") for problem in error.value.problems), error.value.problems
