"""Ranking losses of Weston, Bengio & Hamel (2011): WARP with sampled rank estimation, and AUC.

Both losses take a score matrix ``scores`` of shape ``(B, Y)`` (row ``b`` scores
all ``Y`` labels for input ``b``), the index of one positive label per row
``positive`` ``(B,)``, and a boolean ``positive_mask`` ``(B, Y)`` marking *every*
label that is positive for the row (those are never drawn as negatives).

WARP (Weighted Approximately Ranked Pairwise) draws negatives until one violates
the margin, ``margin - f_pos + f_neg > 0``; if it took ``N`` draws among ``n_neg``
negatives, the margin rank of the positive is estimated as ``floor(n_neg / N)``
(the paper's ``floor((Y - 1) / N)`` with one positive) and the violating pair is
weighted by ``L(rank)``. As in Algorithm 1 a row stops after at most ``n_neg``
draws (the paper's ``N >= Y - 1``), here further capped by ``max_draws``, and a row
without a violator among its draws makes no update.

The draws are distinct negatives in a uniformly random order (so a row without a
violator stops after it has seen every negative, and ``N <= n_neg`` keeps every
estimate at least 1). The paper's loop is vectorised without drawing one by one:
every label of a row gets a random key (a random order of the row's labels), the
first violator drawn is the violator with the smallest key, and ``N`` is one plus
the number of negatives keyed before it. With ``r`` violators ``E[N] = (n_neg + 1) /
(r + 1)`` (the paper's draws with replacement give ``n_neg / r``).

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
        Draw cap ``N_max``; a row draws at most ``min(max_draws, n_neg)`` distinct
        negatives (the paper stops at ``Y - 1`` draws; LightFM at 10). A row with no
        violator among its draws gives no loss and no gradient.
    margin : float > 0
        Ranking margin (1 in the paper).
    weighting : {"harmonic", "log"}
        Rank weighting ``L``, see :func:`rank_weight`.
    generator : torch.Generator, optional
        Random source for the draws (on the device of ``scores``).
    return_details : bool
        Also return a dict with ``n_draws`` (draws made: up to and including the
        first violator, else every draw the row was allowed), ``rank`` (the
        estimate ``floor(n_neg / N)``, 0 without a violator) and ``violator``
        (label, -1 when none).

    Returns
    -------
    torch.Tensor
        Scalar: sum over rows of ``L(rank) * (margin - f_pos + f_violator)``, divided by ``B``
        (rows without a violator add zero and pass no gradient).

    Raises :class:`ParameterError` on inconsistent shapes, a positive not in
    ``positive_mask``, a row without negatives, ``margin <= 0`` or ``max_draws < 1``.
    """
    _check(scores, positive, positive_mask)
    if margin <= 0:
        raise ParameterError(f"margin must be > 0, got {margin}")
    if max_draws < 1:
        raise ParameterError(f"max_draws must be >= 1, got {max_draws}")
    negative = ~positive_mask
    n_negatives = negative.sum(dim=1)
    if bool((n_negatives == 0).any()):
        raise ParameterError("a row has every label positive: no negative to rank against")
    pos = scores.gather(1, positive[:, None])                                     # (B, 1)
    with torch.no_grad():
        # a random order of each row's labels; the draws are its negatives in this order
        keys = torch.rand(scores.shape, generator=generator, device=scores.device)
        violates = (margin - pos + scores > 0) & negative
        first_key, violator = torch.where(violates, keys, 2.0).min(dim=1)         # the first violator drawn
        drawn_before = ((keys < first_key[:, None]) & negative).sum(dim=1)        # non-violators drawn before it
        allowed = torch.clamp(n_negatives, max=int(max_draws))
        found = (first_key < 2.0) & (drawn_before < allowed)
        n_draws = torch.where(found, drawn_before + 1, allowed)
        rank = torch.where(found, n_negatives // n_draws, torch.zeros_like(n_draws))
        violator = torch.where(found, violator, torch.full_like(violator, -1))
    weight = rank_weight(rank, weighting).to(scores.dtype)
    chosen = margin - pos.squeeze(1) + scores.gather(1, violator.clamp(min=0)[:, None]).squeeze(1)
    loss = (weight * torch.where(found, chosen, torch.zeros_like(chosen))).sum() / scores.shape[0]
    if not return_details:
        return loss
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


__all__ = ["RANK_WEIGHTS", "auc_loss", "margin_rank", "rank_weight", "warp_loss"]
