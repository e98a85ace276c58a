"""A small MLP over standardised numeric inputs and one embedding per categorical column."""

import torch
from torch import nn


class TipClassifier(nn.Module):
    def __init__(self, num_numeric, vocabulary_sizes, embedding_dim=8, hidden=(64, 32)):
        super().__init__()
        self.config = {"num_numeric": num_numeric, "vocabulary_sizes": list(vocabulary_sizes),
                       "embedding_dim": embedding_dim, "hidden": list(hidden)}  # fmt: skip
        # All columns share one table; each column's indices are shifted into its own range.
        offsets = torch.tensor([0] + list(vocabulary_sizes[:-1])).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.embedding = nn.Embedding(sum(vocabulary_sizes), embedding_dim)
        layers, width = [], num_numeric + embedding_dim * len(vocabulary_sizes)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, numeric, categorical):
        embedded = self.embedding(categorical + self.offsets).flatten(1)
        return self.mlp(torch.cat([numeric, embedded], dim=1)).squeeze(1)  # logits
