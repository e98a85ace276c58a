"""Binary classification metrics from logits (decision at logit 0)."""

import torch
import torch.nn.functional as F


def auc(scores, labels):
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) statistic, ties counted half."""
    scores = scores.detach().double().flatten().cpu()
    labels = labels.detach().flatten().cpu() > 0.5
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None  # undefined
    unique, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True,
                                           return_counts=True)  # fmt: skip
    rank_before = counts.cumsum(0) - counts  # ranks are 1-based; tied values share the mean rank
    mean_rank = rank_before.double() + (counts.double() + 1) / 2
    rank_sum = mean_rank[inverse][labels].sum().item()
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def binary_metrics(logits, labels):
    logits = logits.detach().float()
    labels = labels.detach().float()
    return {
        "loss": F.binary_cross_entropy_with_logits(logits, labels).item(),
        "accuracy": ((logits > 0).float() == labels).float().mean().item(),
        "auc": auc(logits, labels),
    }
