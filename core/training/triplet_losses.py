"""Triplet losses of the seed papers (plain functions over embeddings)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def cosine_triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                        margin: float = 0.4) -> torch.Tensor:
    """Won et al.: ``mean(relu(margin - cos(a, p) + cos(a, n)))`` (the tag is the anchor)."""
    pos = F.cosine_similarity(anchor, positive, dim=-1)
    neg = F.cosine_similarity(anchor, negative, dim=-1)
    return F.relu(margin - pos + neg).mean()


def masked_distance(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Lee et al. eq. 3: ``||x * m - y * m||_2`` row-wise (eps keeps the gradient finite at 0)."""
    return torch.sqrt((((x - y) * mask) ** 2).sum(dim=-1) + 1e-12)


def masked_triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                        mask: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Lee et al. eq. 4: ``mean(relu(D(a, p; m) - D(a, n; m) + margin))``; ``mask`` is ``(B, dim)`` or ``(dim,)``."""
    return F.relu(masked_distance(anchor, positive, mask) - masked_distance(anchor, negative, mask) + margin).mean()
