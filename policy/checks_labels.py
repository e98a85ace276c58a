"""The labelling rule: every labelable resource carries the stack's labels."""

from __future__ import annotations

from collections.abc import Iterable

from guardrail import LABELABLE_TYPES, REQUIRED_LABEL, Config, Props


def labelable(resource_type: str, props: Props) -> bool:
    return resource_type in LABELABLE_TYPES or "labels" in props


def labels_present(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    labels = props.get("labels") or {}
    if not labels:
        yield "has no labels; every labelable resource carries the stack's labels"
    elif REQUIRED_LABEL not in labels:
        yield f"labels lack {REQUIRED_LABEL!r}"
