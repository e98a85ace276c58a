"""Labels on every labelable resource, applied in one place by a stack transformation."""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi

MANAGED_BY = "pulumi"


def stack_labels(project_name: str, stack: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The labels every resource carries: stack, project, managed-by, plus the `labels` config."""
    return {
        "stack": _label_value(stack),
        "pulumi-project": _label_value(project_name),
        "managed-by": MANAGED_BY,
        **extra,
    }


def _label_value(text: str) -> str:
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(c if c in allowed else "-" for c in text.lower())[:63]


def with_labels(labels: Mapping[str, str]):
    """A transformation that merges `labels` under the resource's own labels.

    A resource is labelable when its arguments have a `labels` field: every pulumi-gcp
    resource that supports labels, and the stack's Vertex AI job.
    """

    def transformation(args: pulumi.ResourceTransformationArgs) -> Optional[pulumi.ResourceTransformationResult]:
        if "labels" not in args.props or not isinstance(args.resource, pulumi.CustomResource):
            return None
        merged = pulumi.Output.from_input(args.props["labels"] or {}).apply(lambda own: {**labels, **(own or {})})
        return pulumi.ResourceTransformationResult({**args.props, "labels": merged}, args.opts)

    return transformation


def apply_to_stack(labels: Mapping[str, str]) -> None:
    pulumi.runtime.register_stack_transformation(with_labels(dict(labels)))
