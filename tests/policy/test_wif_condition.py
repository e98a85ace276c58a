"""The attribute condition reader: exactly a conjunction of `assertion.<claim> == '<literal>'`
clauses, one of which pins a repository; everything else is refused."""

from __future__ import annotations

import pytest
from wif_condition import ConditionError, clauses, pins_repository

from policies import POLICIES
from tests.policy.resources import PROJECT, violations

REPO = "assertion.repository == 'octo-org/mlops-course'"

PINNING = [
    REPO,
    'assertion.repository == "octo-org/mlops-course"',
    "assertion.repository=='octo-org/mlops-course'",
    f"  {REPO}\n",
    f"({REPO})",
    f"(({REPO}))",
    f"{REPO} && assertion.repository_id == '123456789'",
    f"({REPO} && assertion.ref == 'refs/heads/main')",
    f"assertion.ref == 'refs/heads/main' && ({REPO} && assertion.repository_owner_id == '42')",
    "assertion.repository_id == '123456789'",
    "assertion.sub == 'repo:octo-org/mlops-course:ref:refs/heads/main'",
    "assertion.sub == 'repo:octo-org@42/mlops-course@123456789:environment:prod'",
]

NOT_PINNING = [  # well-formed, but no clause names one repository
    "assertion.repository_owner == 'octo-org'",
    "assertion.repository_owner_id == '42' && assertion.ref == 'refs/heads/main'",
    "assertion.repository == 'octo-org'",  # no slash: not OWNER/NAME
    "assertion.repository == 'octo-org/'",
    "assertion.repository == ''",
    "assertion.repository_id == '12a'",
    "assertion.repository_id == ''",
    "assertion.sub == 'repo:octo-org/*'",
    "assertion.sub == 'octo-org/mlops-course'",
    "assertion.workflow == 'octo-org/mlops-course'",
    'assertion.repository == "octo-org/it\'s"',  # read, but no GitHub name has a quote
]

REFUSED = [  # not the accepted shape at all
    f"true || {REPO}",
    f"{REPO} || assertion.repository_owner == 'octo-org'",
    f"{REPO} || true",
    f"!({REPO})",
    "assertion.repository != 'evil/repo'",
    "assertion.repository in ['octo-org/mlops-course']",
    "assertion.repository.startsWith('octo-org/')",
    "assertion.repository.matches('^octo-org/.*')",
    "assertion['repository'] == 'octo-org/mlops-course'",
    "'octo-org/mlops-course' == assertion.repository",
    f"{REPO} ? true : false",
    "true",
    f"{REPO} &&",
    f"&& {REPO}",
    f"({REPO}",
    f"{REPO})",
    "()",
    f"{REPO} & assertion.ref == 'x'",
    f"{REPO} and assertion.ref == 'x'",
    "assertion.repository == 'octo-org/mlops-course\\' || true || \\'x'",
    "assertion.repository == octo-org/mlops-course",
    "assertion.repository = 'octo-org/mlops-course'",
    "attribute.repository == 'octo-org/mlops-course'",
    "google.subject == 'repo:octo-org/mlops-course:ref:refs/heads/main'",
    "assertion.Repository == 'octo-org/mlops-course'",
    f"{REPO} && size(assertion.ref) > 0",
    f"{REPO} # comment",
]


@pytest.mark.parametrize("condition", PINNING)
def test_a_conjunction_with_an_exact_repository_clause_pins(condition):
    assert pins_repository(clauses(condition))


@pytest.mark.parametrize("condition", NOT_PINNING)
def test_a_conjunction_without_one_does_not(condition):
    assert not pins_repository(clauses(condition))


@pytest.mark.parametrize("condition", REFUSED)
def test_anything_else_is_refused(condition):
    with pytest.raises(ConditionError):
        clauses(condition)


def test_clauses_are_read_through_parentheses():
    assert clauses(f'(assertion.ref == "refs/heads/main" && ({REPO}))') == [
        ("ref", "refs/heads/main"),
        ("repository", "octo-org/mlops-course"),
    ]


@pytest.mark.parametrize("condition", REFUSED + NOT_PINNING)
def test_the_policy_refuses_a_github_provider_without_the_exact_form(condition):
    provider = {
        "project": PROJECT,
        "attributeCondition": condition,
        "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
    }
    problems = violations(
        POLICIES["workload-identity-provider-condition"],
        "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
        provider,
    )
    assert problems and "conjunction" in problems[0]
