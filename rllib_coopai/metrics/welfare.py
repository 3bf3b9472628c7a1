"""Welfare functions over a vector of per-agent returns (numpy or torch, last axis = agents)."""
from __future__ import annotations

import numpy as np


def utilitarian_welfare(returns, disagreement=None):
    """Sum of returns (social welfare); ``disagreement`` is ignored (kept for a common signature)."""
    return returns.sum(-1)


social_welfare = utilitarian_welfare


def egalitarian_welfare(returns, disagreement=None):
    """min_i (u_i - d_i) (normative-disagreement paper Table 2)."""
    d = 0.0 if disagreement is None else disagreement
    return (returns - d).min(-1) if hasattr(returns, "min") else np.min(returns - d, -1)


def nash_welfare(returns, disagreement=None):
    """prod_i max(u_i - d_i, 0) (normative-disagreement paper Table 2)."""
    d = 0.0 if disagreement is None else disagreement
    gains = returns - d
    gains = gains.clip(min=0) if hasattr(gains, "clip") else np.clip(gains, 0, None)
    return gains.prod(-1)


def equality(values):
    """1 - normalised Gini coefficient of non-negative values (the AI Economist's equality)."""
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[-1]
    total = x.sum(-1)
    if n < 2:
        return np.ones_like(total)
    diffs = np.abs(x[..., :, None] - x[..., None, :]).sum((-1, -2))
    gini = np.where(total > 0, diffs / (2 * n * np.where(total > 0, total, 1.0)), 0.0)
    return 1.0 - gini * n / (n - 1)
