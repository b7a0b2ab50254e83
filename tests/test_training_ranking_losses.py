"""WARP and AUC ranking losses (core.training.ranking_losses): rank estimates, gradients, validation."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import ParameterError
from core.training.ranking_losses import auc_loss, margin_rank, rank_weight, warp_loss


def one_positive(scores: torch.Tensor, positive: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.tensor(positive)
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    mask[torch.arange(len(pos)), pos] = True
    return pos, mask


def test_rank_weights_are_harmonic_numbers_and_log():
    ranks = torch.arange(6)
    harmonic = [0.0] + [sum(1 / j for j in range(1, k + 1)) for k in range(1, 6)]
    assert torch.allclose(rank_weight(ranks, "harmonic"), torch.tensor(harmonic), atol=1e-5)
    assert torch.allclose(rank_weight(ranks, "log"), torch.log1p(ranks.float()))
    with pytest.raises(ParameterError, match="rank weighting"):
        rank_weight(ranks, "linear")


def test_margin_rank_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 12, generator=g)
    pos, mask = one_positive(scores, [0, 3, 5, 7, 11])
    mask[1, 4] = True  # a second positive is never counted as a violator
    expected = [sum(1 for k in range(12) if not mask[b, k] and 1.0 + scores[b, k] >= scores[b, pos[b]])
                for b in range(5)]
    assert margin_rank(scores, pos, mask).tolist() == expected


def test_all_violating_gives_exact_rank_in_one_draw():
    # every negative violates: the first draw succeeds, the estimate floor((Y-1)/1) is the exact rank
    scores = torch.zeros(3, 9)
    pos, mask = one_positive(scores, [0, 4, 8])
    _, info = warp_loss(scores, pos, mask, max_draws=20, return_details=True)
    assert info["n_draws"].tolist() == [1, 1, 1]
    assert info["rank"].tolist() == margin_rank(scores, pos, mask).tolist() == [8, 8, 8]


def test_no_violator_gives_no_loss_and_no_gradient():
    scores = torch.full((2, 6), -5.0)
    scores[:, 0] = 5.0
    scores.requires_grad_(True)
    pos, mask = one_positive(scores.detach(), [0, 0])
    loss, info = warp_loss(scores, pos, mask, max_draws=50, return_details=True)
    loss.backward()
    assert loss.item() == 0.0 and info["rank"].tolist() == [0, 0] and info["violator"].tolist() == [-1, -1]
    assert torch.count_nonzero(scores.grad) == 0


def test_expected_draws_match_sampling_without_replacement():
    # r violators among n negatives drawn in random order: the first violator comes at draw N with
    # E[N] = (n + 1) / (r + 1) (distinct draws; the paper's draws with replacement give n / r)
    n_rows, n_labels, n_violators = 4000, 21, 5
    scores = torch.full((n_rows, n_labels), -10.0)
    scores[:, 0] = 0.0
    scores[:, 1:1 + n_violators] = 0.5  # inside the margin of 1
    pos, mask = one_positive(scores, [0] * n_rows)
    torch.manual_seed(0)
    _, info = warp_loss(scores, pos, mask, max_draws=500, return_details=True)
    mean_draws = info["n_draws"].float().mean().item()
    assert mean_draws == pytest.approx(n_labels / (n_violators + 1), rel=0.06)
    # and the estimate is the paper's floor((Y - 1) / N) for every row
    assert torch.equal(info["rank"], torch.clamp((n_labels - 1) // info["n_draws"], min=1))
    assert margin_rank(scores, pos, mask)[0].item() == n_violators


def test_draws_stop_at_the_number_of_negatives_and_no_violator_means_no_update():
    """Known ranks: one violator among 8 negatives (rank 1), and none (rank 0); max_draws far above 8.

    Weston et al.'s Algorithm 1 stops at N >= Y - 1: every row with a violator finds it within
    8 draws (never a draw past the negatives), and a row without one stops after seeing all 8.
    """
    n_rows, n_negatives = 2000, 8
    scores = torch.full((n_rows, n_negatives + 1), -5.0)
    scores[:, 0] = 0.0
    scores[: n_rows // 2, 1] = 0.5  # first half: exactly one negative inside the margin
    scores.requires_grad_(True)
    pos, mask = one_positive(scores.detach(), [0] * n_rows)
    assert margin_rank(scores.detach(), pos, mask)[:2].tolist() == [1, 1]
    assert margin_rank(scores.detach(), pos, mask)[-1].item() == 0
    torch.manual_seed(0)
    loss, info = warp_loss(scores, pos, mask, max_draws=100, return_details=True)
    ranked, unranked = slice(0, n_rows // 2), slice(n_rows // 2, n_rows)
    assert (info["violator"][ranked] == 1).all() and (info["violator"][unranked] == -1).all()
    assert int(info["n_draws"][ranked].max()) <= n_negatives and (info["n_draws"][unranked] == n_negatives).all()
    # the violator's position is uniform over 1..8: mean 4.5
    assert info["n_draws"][ranked].float().mean().item() == pytest.approx((n_negatives + 1) / 2, rel=0.05)
    assert torch.equal(info["rank"][ranked], n_negatives // info["n_draws"][ranked])
    assert (info["rank"][unranked] == 0).all()
    loss.backward()
    assert torch.count_nonzero(scores.grad[unranked]) == 0  # no update without a violator
    assert (scores.grad[ranked, 1] > 0).all()
    # a cap below the number of negatives still bounds the draws
    _, capped = warp_loss(scores.detach(), pos, mask, max_draws=3, return_details=True)
    assert int(capped["n_draws"].max()) == 3 and (capped["n_draws"][unranked] == 3).all()


def test_gradient_flows_only_through_the_positive_and_first_violator():
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(6, 15, generator=g).requires_grad_(True)
    pos, mask = one_positive(scores.detach(), [0, 1, 2, 3, 4, 5])
    torch.manual_seed(3)
    loss, info = warp_loss(scores, pos, mask, max_draws=30, return_details=True)
    loss.backward()
    for b in range(6):
        touched = set(torch.nonzero(scores.grad[b]).flatten().tolist())
        v = info["violator"][b].item()
        if v < 0:
            assert touched == set()
        else:
            assert touched == {pos[b].item(), v}
            weight = rank_weight(info["rank"][b:b + 1], "harmonic").item()
            # d/d f_pos = -L(rank)/B and d/d f_violator = +L(rank)/B
            assert scores.grad[b, v].item() == pytest.approx(weight / 6, rel=1e-5)
            assert scores.grad[b, pos[b]].item() == pytest.approx(-weight / 6, rel=1e-5)
    assert (info["violator"] >= 0).any()


def test_negatives_never_include_positives():
    mask = torch.zeros(3, 8, dtype=torch.bool)
    mask[:, :6] = True
    scores = torch.zeros(3, 8)  # every label inside the margin: positives would violate if drawn
    pos = torch.tensor([0, 1, 2])
    for seed in range(50):
        _, info = warp_loss(scores, pos, mask, max_draws=200, generator=torch.Generator().manual_seed(seed),
                            return_details=True)
        assert set(info["violator"].tolist()) <= {6, 7}
    assert info["rank"].tolist() == [2, 2, 2]  # two negatives, both violating: found at the first draw
    with pytest.raises(ParameterError, match="no negative"):
        warp_loss(torch.zeros(1, 4), torch.tensor([0]), torch.ones(1, 4, dtype=torch.bool))


def test_auc_loss_is_mean_hinge_over_negatives():
    scores = torch.tensor([[1.0, 0.5, -1.0, 0.2]], requires_grad=True)
    pos, mask = one_positive(scores.detach(), [0])
    loss = auc_loss(scores, pos, mask)
    expected = (max(0, 1 - 1 + 0.5) + max(0, 1 - 1 - 1.0) + max(0, 1 - 1 + 0.2)) / 3
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert scores.grad[0, 2].item() == 0.0  # a non-violating pair gets no gradient
    assert scores.grad[0, 1].item() == pytest.approx(1 / 3)


def test_invalid_arguments_fail_clearly():
    scores = torch.zeros(2, 4)
    pos, mask = one_positive(scores, [0, 1])
    with pytest.raises(ParameterError, match="positive_mask"):
        warp_loss(scores, pos, torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ParameterError, match="margin"):
        warp_loss(scores, pos, mask, margin=0)
    assert math.isfinite(warp_loss(scores, pos, mask).item())
