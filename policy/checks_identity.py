"""Workload Identity Federation rules: which external tokens a provider admits."""

from __future__ import annotations

from collections.abc import Iterable

from guardrail import GITHUB_ISSUER, Config, Props
from wif_condition import ConditionError, clauses, pins_repository

EXACT_FORM = (
    "a GitHub provider's attributeCondition must be a conjunction (&&) of assertion.<claim> == '<literal>' "
    "clauses including assertion.repository == 'OWNER/NAME' (or assertion.repository_id == 'DIGITS', or an "
    "exact assertion.sub of one repository)"
)


def provider_condition(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    condition = (props.get("attributeCondition") or "").strip()
    if not condition:
        yield "attributeCondition is empty: the provider would admit every token of its issuer"
        return
    if (props.get("oidc") or {}).get("issuerUri", "") != GITHUB_ISSUER:
        return
    try:
        found = clauses(condition)
    except ConditionError as error:
        yield f"{EXACT_FORM}; {condition!r}: {error}"
        return
    if not pins_repository(found):
        yield f"{EXACT_FORM}; {condition!r} names no single repository"
