import itertools
import math

import pytest
import torch

from trainer import metrics


def brute_force_auc(scores, labels):
    positives = [s for s, y in zip(scores, labels) if y == 1]
    negatives = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_pairwise_count_with_ties(seed):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 12, (300,), generator=generator).float()  # many ties
    labels = (torch.rand(300, generator=generator) < torch.sigmoid(scores - 6)).float()
    assert metrics.auc(scores, labels) == pytest.approx(brute_force_auc(scores.tolist(), labels.tolist()), abs=1e-12)


def test_auc_extremes():
    labels = torch.tensor([0.0, 0.0, 1.0, 1.0])
    assert metrics.auc(torch.tensor([0.1, 0.2, 0.3, 0.4]), labels) == 1.0
    assert metrics.auc(torch.tensor([0.4, 0.3, 0.2, 0.1]), labels) == 0.0
    assert metrics.auc(torch.tensor([1.0, 1.0, 1.0, 1.0]), labels) == 0.5
    assert metrics.auc(torch.tensor([0.1, 0.2]), torch.tensor([1.0, 1.0])) is None


def test_binary_metrics_decide_at_logit_zero():
    logits = torch.tensor([-2.0, -0.1, 0.1, 3.0])
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    result = metrics.binary_metrics(logits, labels)
    assert result["accuracy"] == 0.5
    expected = -sum(math.log(1 - 1 / (1 + math.exp(-z))) if y == 0 else math.log(1 / (1 + math.exp(-z)))
                    for z, y in zip(logits.tolist(), labels.tolist())) / 4  # fmt: skip
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    assert result["auc"] == pytest.approx(brute_force_auc(logits.tolist(), labels.tolist()))
