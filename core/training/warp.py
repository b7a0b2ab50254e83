"""Ranking losses of Weston, Bengio & Hamel (2011): WARP with sampled rank estimation, and AUC.

Both losses take a score matrix ``scores`` of shape ``(B, Y)`` (row ``b`` scores
all ``Y`` labels for input ``b``), the index of one positive label per row
``positive`` ``(B,)``, and a boolean ``positive_mask`` ``(B, Y)`` marking *every*
label that is positive for the row (those are never drawn as negatives).

WARP (Weighted Approximately Ranked Pairwise) draws negatives until one violates
the margin, ``margin - f_pos + f_neg > 0``; if it took ``N`` draws among ``n_neg``
negatives, the margin rank of the positive is estimated as ``floor(n_neg / N)``
(the paper's ``floor((Y - 1) / N)`` with one positive) and the violating pair is
weighted by ``L(rank)``. The loop of the paper is vectorised: every row draws up
to ``max_draws`` negatives at once (with replacement, as the sequential draws),
and the first violator of each row is found with an argmax. Rows without a
violator contribute nothing, so the gradient reaches only violating pairs.

AUC is the margin-ranking loss of eq. (9), every violating pair weighted the
same; here the mean over all negatives of a row (the expectation of the paper's
one-random-negative SGD step, without its variance).
"""

from __future__ import annotations

import torch

from ..errors import ParameterError

#: Rank weightings L(k): ``harmonic`` is the paper's sum_{j<=k} 1/j; ``log`` is log(1 + k),
#: its smooth approximation (LightFM uses log(max(1, k)), which gives rank 1 no weight).
RANK_WEIGHTS = ("harmonic", "log")


def _check(scores: torch.Tensor, positive: torch.Tensor, positive_mask: torch.Tensor) -> None:
    if scores.ndim != 2:
        raise ParameterError(f"scores must be (batch, labels), got shape {tuple(scores.shape)}")
    if positive.shape != scores.shape[:1]:
        raise ParameterError(f"positive must have shape ({scores.shape[0]},), got {tuple(positive.shape)}")
    if positive_mask.shape != scores.shape or positive_mask.dtype != torch.bool:
        raise ParameterError(f"positive_mask must be a bool tensor of shape {tuple(scores.shape)}")
    if not bool(positive_mask.gather(1, positive[:, None]).all()):
        raise ParameterError("every row's positive label must be marked in positive_mask")


def rank_weight(rank: torch.Tensor, kind: str = "harmonic") -> torch.Tensor:
    """The WARP weight ``L(rank)`` of an (estimated) margin rank.

    Parameters
    ----------
    rank : torch.Tensor
        Non-negative ranks (number of negatives scored above ``f_pos - margin``).
    kind : {"harmonic", "log"}
        ``harmonic``: ``L(k) = sum_{j=1}^{k} 1/j`` (Weston et al.'s alpha_j = 1/j);
        ``log``: ``L(k) = log(1 + k)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``rank``; ``L(0) = 0``.
    """
    if kind not in RANK_WEIGHTS:
        raise ParameterError(f"unknown rank weighting {kind!r}; use one of {RANK_WEIGHTS}")
    rank = rank.to(torch.get_default_dtype() if not rank.is_floating_point() else rank.dtype)
    if kind == "log":
        return torch.log1p(rank)
    # H_k = digamma(k + 1) + Euler-Mascheroni, exact for integers and vectorised
    return torch.where(rank > 0, torch.special.digamma(rank + 1) + 0.5772156649015329, torch.zeros_like(rank))


def margin_rank(scores: torch.Tensor, positive: torch.Tensor, positive_mask: torch.Tensor,
                margin: float = 1.0) -> torch.Tensor:
    """Exact margin rank: number of negatives ``k`` with ``margin + f_k >= f_pos``, per row ``(B,)``."""
    _check(scores, positive, positive_mask)
    pos = scores.gather(1, positive[:, None])
    return ((margin + scores >= pos) & ~positive_mask).sum(dim=1)


def sample_negatives(positive_mask: torch.Tensor, n_draws: int, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Draw ``n_draws`` negative labels per row, uniformly and with replacement, ``(B, n_draws)``.

    Raises :class:`ParameterError` if a row has no negative label.
    """
    if n_draws < 1:
        raise ParameterError(f"n_draws must be >= 1, got {n_draws}")
    negative = (~positive_mask).to(torch.float32)
    if bool((negative.sum(dim=1) == 0).any()):
        raise ParameterError("a row has every label positive: no negative to rank against")
    return torch.multinomial(negative, n_draws, replacement=True, generator=generator)


def warp_loss(scores: torch.Tensor, positive: torch.Tensor, positive_mask: torch.Tensor, max_draws: int = 100,
              margin: float = 1.0, weighting: str = "harmonic", generator: torch.Generator | None = None,
              return_details: bool = False):
    """WARP loss with sampled rank estimation, vectorised over the batch.

    Parameters
    ----------
    scores : torch.Tensor, shape (B, Y)
        Scores of every label for every input (gradients flow into it).
    positive : torch.LongTensor, shape (B,)
        One positive label per row.
    positive_mask : torch.BoolTensor, shape (B, Y)
        All positive labels of each row (never drawn as negatives).
    max_draws : int >= 1
        Draw cap ``N_max``; a row with no violator among its draws gives no loss
        (the paper stops at ``Y - 1`` draws; LightFM at 10).
    margin : float > 0
        Ranking margin (1 in the paper).
    weighting : {"harmonic", "log"}
        Rank weighting ``L``, see :func:`rank_weight`.
    generator : torch.Generator, optional
        Random source for the draws (on the device of ``scores``).
    return_details : bool
        Also return a dict with ``n_draws`` (draws until the first violator, 0
        when none), ``rank`` (the estimate) and ``violator`` (label, -1 when none).

    Returns
    -------
    torch.Tensor
        Scalar: sum over rows of ``L(rank) * (margin - f_pos + f_violator)``, divided by ``B``.
    """
    _check(scores, positive, positive_mask)
    if margin <= 0:
        raise ParameterError(f"margin must be > 0, got {margin}")
    negatives = sample_negatives(positive_mask, max_draws, generator)             # (B, N)
    pos = scores.gather(1, positive[:, None])                                     # (B, 1)
    hinge = margin - pos + scores.gather(1, negatives)                            # (B, N)
    violates = hinge > 0
    found = violates.any(dim=1)
    first = violates.to(torch.uint8).argmax(dim=1)  # argmax returns the first maximum
    n_draws = torch.where(found, first + 1, torch.zeros_like(first))
    n_negatives = (~positive_mask).sum(dim=1)
    # a violator exists, so the rank is at least 1 even when draws exceed the negatives
    rank = torch.where(found, torch.clamp(n_negatives // n_draws.clamp(min=1), min=1), torch.zeros_like(first))
    weight = rank_weight(rank, weighting).to(scores.dtype)
    chosen = hinge.gather(1, first[:, None]).squeeze(1)
    loss = (weight * torch.where(found, chosen, torch.zeros_like(chosen))).sum() / scores.shape[0]
    if not return_details:
        return loss
    violator = torch.where(found, negatives.gather(1, first[:, None]).squeeze(1), torch.full_like(first, -1))
    return loss, {"n_draws": n_draws, "rank": rank, "violator": violator}


def auc_loss(scores: torch.Tensor, positive: torch.Tensor, positive_mask: torch.Tensor,
             margin: float = 1.0) -> torch.Tensor:
    """Margin-ranking (AUC) loss: mean over negatives of ``max(0, margin - f_pos + f_neg)``, mean over rows."""
    _check(scores, positive, positive_mask)
    if margin <= 0:
        raise ParameterError(f"margin must be > 0, got {margin}")
    negative = (~positive_mask).to(scores.dtype)
    if bool((negative.sum(dim=1) == 0).any()):
        raise ParameterError("a row has every label positive: no negative to rank against")
    hinge = torch.relu(margin - scores.gather(1, positive[:, None]) + scores) * negative
    return (hinge.sum(dim=1) / negative.sum(dim=1)).mean()


__all__ = ["RANK_WEIGHTS", "auc_loss", "margin_rank", "rank_weight", "sample_negatives", "warp_loss"]
