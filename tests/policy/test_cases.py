"""Each policy stops a bad resource and lets its deliberate exceptions through: the cases of
tests/policy/cases_*.py, one change each to a resource that passes (see resources.py)."""

from __future__ import annotations

import pytest

from policies import POLICIES
from tests.policy import cases_compute, cases_iam, cases_network, cases_storage, cases_workloads
from tests.policy.resources import DELETE, case_id, changed

AREAS = (cases_iam, cases_storage, cases_compute, cases_network, cases_workloads)
NEGATIVE_CASES = [case for area in AREAS for case in area.NEGATIVE_CASES]
ALLOWED_CASES = [case for area in AREAS for case in area.ALLOWED_CASES]


def test_every_policy_has_a_negative_case():
    assert {case[0] for case in NEGATIVE_CASES} == set(POLICIES)


@pytest.mark.parametrize("case", NEGATIVE_CASES, ids=[case_id(c) for c in NEGATIVE_CASES])
def test_each_policy_stops_a_bad_resource(examples, case):
    policy_name, _, path, value = case
    assert changed(examples, case), f"{policy_name} let {path}={value!r} through"


@pytest.mark.parametrize("case", ALLOWED_CASES, ids=[case_id(c) for c in ALLOWED_CASES])
def test_each_policy_lets_an_allowed_change_through(examples, case):
    assert changed(examples, case) == []


def test_the_cases_are_distinct():
    keys = [
        (policy_name, base.label, path, "<deleted>" if value is DELETE else repr(value))
        for policy_name, base, path, value in NEGATIVE_CASES + ALLOWED_CASES
    ]
    assert len(keys) == len(set(keys))
