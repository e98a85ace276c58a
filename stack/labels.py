"""Labels on every labelable resource, applied in one place by a stack-wide resource transform."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from stack import naming

MANAGED_BY = "pulumi"


def stack_labels(project_name: str, stack: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The labels every resource carries: stack, project, managed-by, plus the `labels` config."""
    return {
        "stack": naming.label_value(stack),
        "pulumi-project": naming.label_value(project_name),
        "managed-by": MANAGED_BY,
        **extra,
    }


def with_labels(labels: Mapping[str, str]):
    """A transform that merges `labels` under the resource's own labels.

    A resource is labelable when its inputs have a `labels` property: every pulumi-gcp resource
    that supports labels, and the stack's dynamic resources. The engine hands transforms plain
    (already resolved) property values.
    """

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or "labels" not in args.props:
            return None
        merged = {**labels, **(args.props["labels"] or {})}
        return pulumi.ResourceTransformResult({**args.props, "labels": merged}, args.opts)

    return transform


def apply_to_stack(labels: Mapping[str, str]) -> None:
    pulumi.runtime.register_resource_transform(with_labels(dict(labels)))
