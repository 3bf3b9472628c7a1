"""Discounted returns-to-go, one definition for every algorithm of the package.

``G_t = sum_{l >= t} gamma^(l - t) r_l`` along the last axis (the Monte-Carlo return of the
REINFORCE estimator: DCL Algorithm 1, LIO thesis eq. 5.4, ID thesis eq. 6.3, AMD thesis eq. 4.4).
Hand-computed oracle: rewards ``[1, 2, 3]``, gamma 0.5 -> ``[2.75, 3.5, 3.0]``.

* torch tensors ``[..., T]``: one matmul with the ``T x T`` discount matrix (differentiable: the
  incentive designers' payments sit inside the rewards, no Python loop over steps);
* numpy arrays (env-runner / connector side): a linear filter along the last axis.
"""
from __future__ import annotations

import numpy as np
import torch


def discount_matrix(T: int, gamma: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """``D[l, t] = gamma^(l - t)`` for ``l >= t`` else 0, so that ``G = r @ D``."""
    idx = torch.arange(T, device=device).to(dtype)
    expo = idx[:, None] - idx[None, :]
    return torch.where(expo >= 0, gamma ** expo.clamp(min=0), torch.zeros_like(expo))


def discounted_returns(rewards, gamma: float, mask=None):
    """Returns-to-go along the last axis of ``rewards`` (torch or numpy, any leading shape).

    ``mask`` (same shape, 1 = real step): padded steps contribute no reward.
    """
    if isinstance(rewards, torch.Tensor):
        r = rewards if mask is None else rewards * mask
        return r @ discount_matrix(r.shape[-1], gamma, r.dtype, r.device)
    r = np.asarray(rewards, dtype=np.float64)
    if mask is not None:
        r = r * np.asarray(mask, dtype=np.float64)
    import scipy.signal  # here, not at module level: it adds ~0.6 s to every Ray worker's start

    return scipy.signal.lfilter([1.0], [1.0, -gamma], r[..., ::-1], axis=-1)[..., ::-1].copy()


def ragged_discounted_returns(rewards, lengths, gamma: float) -> np.ndarray:
    """Returns-to-go of many episodes stored back to back along the last axis of ``rewards``
    (numpy ``[..., sum L_e]``, episode lengths ``lengths`` in order), all at once: scattered onto
    an episodes x steps grid (``core.episodes.grid_index``), one ``discounted_returns`` call,
    gathered back; float64. Equal bit for bit to ``discounted_returns`` of each episode alone:
    the zero padding sits after each episode's last step, so it never enters a return."""
    from rllib_coopai.core.episodes import grid_index

    r = np.asarray(rewards, dtype=np.float64)
    lengths = np.asarray(lengths, np.int64).reshape(-1)
    if r.shape[-1] != int(lengths.sum()):
        raise ValueError(f"rewards hold {r.shape[-1]} steps, episode lengths sum to {int(lengths.sum())}")
    if lengths.size == 0:
        return r.copy()
    episode, step = grid_index(lengths)
    grid = np.zeros(r.shape[:-1] + (lengths.size, int(lengths.max())), np.float64)
    grid[..., episode, step] = r
    return discounted_returns(grid, gamma)[..., episode, step]


def discounts(T: int, gamma: float, device=None) -> torch.Tensor:
    """``[gamma^0, ..., gamma^(T-1)]`` (per-step weights of discounted costs)."""
    return gamma ** torch.arange(T, dtype=torch.float32, device=device)
