"""Welfare functions: one definition each, used by training, evaluation and cross-play scoring.

Payoff-profile welfare (normative-disagreement paper §3.3, App. A Table 2) takes ``returns`` with
the agents on the last axis (numpy array, list or torch tensor; leading axes are a batch) and an
optional disagreement point ``disagreement`` (d, one value per agent or a scalar; default 0):

* ``utilitarian_welfare``        sum_i u_i
* ``egalitarian_welfare``        min_i (u_i - d_i), subject to Pareto optimality over ``feasible``
* ``nash_welfare``               prod_i (u_i - d_i), negated when every gain is negative
* ``kalai_smorodinsky_welfare``  -(spread of the normalised gains (u_i - d_i) / (I_i - d_i)),
                                 subject to Pareto optimality (I = ideal point)

Trajectory welfare (paper App. C.1) takes per-step rewards ``rewards[..., T, N]``:

* ``eligibility_traces``         e_i^t = gamma * lambda * e_i^{t-1} + r_i^t
* ``inequity_averse_rewards``    symmetric w_IA per step: sum_i r_i^t - beta |e_1^t - e_2^t|
* ``inequity_averse_welfare``    sum_t discount^t of the above (the paper's w_IA of a trajectory)
* ``inequity_averse_agent_rewards``  the per-agent form of the authors' code, used as a training
                                 reward: r_i^t - alpha max(0, -delta) - beta max(0, delta),
                                 delta = e_i^t - e_j^t
* ``inequity_aversion_penalty``  its penalty term from given traces (for step-by-step shaping,
                                 ``rllib_coopai.wrappers.inequity_aversion``)

``normalized_score`` is the paper's cross-play metric NormalizedScore (§4.2, App. B.2).
``get_welfare(name)`` resolves a name or alias (``util``, ``egal``, ``nash``, ``ks``).
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _arr(x):
    """Torch tensors stay torch; everything else becomes a float64 numpy array."""
    return x if _is_torch(x) else np.asarray(x, dtype=np.float64)


def _gains(returns, disagreement):
    u = _arr(returns)
    if disagreement is None:
        return u
    if _is_torch(u):
        import torch

        return u - torch.as_tensor(disagreement, dtype=u.dtype, device=u.device)
    return u - np.asarray(disagreement, dtype=np.float64)


def pareto_optimal(profiles) -> np.ndarray:
    """Boolean mask over ``profiles[K, N]``: True where no other profile Pareto-dominates it
    (at least as good for every agent and strictly better for one)."""
    p = np.asarray(profiles, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"profiles must have shape (K, N), got {p.shape}")
    ge = (p[None, :, :] >= p[:, None, :]).all(-1)  # ge[k, j]: j >= k everywhere
    gt = (p[None, :, :] > p[:, None, :]).any(-1)
    return ~(ge & gt).any(1)


def _dominated_by(returns, feasible) -> np.ndarray:
    """Mask over the profiles of ``returns[..., N]``: dominated by some row of ``feasible``."""
    u = np.asarray(returns.detach().cpu() if _is_torch(returns) else returns, dtype=np.float64)
    f = np.asarray(feasible, dtype=np.float64)
    if f.ndim != 2 or f.shape[-1] != u.shape[-1]:
        raise ValueError(f"feasible must have shape (K, {u.shape[-1]}), got {f.shape}")
    uu = u[..., None, :]
    return ((f >= uu).all(-1) & (f > uu).any(-1)).any(-1)


def _mask_dominated(value, returns, feasible):
    if feasible is None:
        return value
    dominated = _dominated_by(returns, feasible)
    if _is_torch(value):
        import torch

        return torch.where(torch.as_tensor(dominated, device=value.device),
                           torch.full_like(value, float("-inf")), value)
    return np.where(dominated, -np.inf, value)


def utilitarian_welfare(returns, disagreement=None):
    """sum_i u_i (paper Table 2). ``disagreement`` shifts every profile by the same constant,
    so it is ignored (kept for the common signature)."""
    return _arr(returns).sum(-1)


social_welfare = utilitarian_welfare


def egalitarian_welfare(returns, disagreement=None, feasible=None):
    """min_i (u_i - d_i) subject to Pareto optimality (paper Table 2).

    ``feasible``: the attainable profiles ``[K, N]``; a profile of ``returns`` that one of them
    Pareto-dominates gets ``-inf`` (so (2, 5) beats (2, 2) although both have min 2). Without
    ``feasible`` this is the plain min, as the authors' scoring code uses it.
    """
    g = _gains(returns, disagreement)
    value = g.amin(-1) if _is_torch(g) else g.min(-1)
    return _mask_dominated(value, returns, feasible)


def nash_welfare(returns, disagreement=None):
    """prod_i (u_i - d_i) (paper Table 2), negated where every gain is negative.

    The sign rule is the authors' code's: without it two losses multiply to a positive welfare,
    e.g. (-3, -3) would beat (-1, -1) in the IPD.
    """
    g = _gains(returns, disagreement)
    prod = g.prod(-1)
    if _is_torch(g):
        return prod.abs().neg().where((g < 0).all(-1), prod)
    return np.where((g < 0).all(-1), -np.abs(prod), prod)


def kalai_smorodinsky_welfare(returns, disagreement=None, ideal=None, feasible=None):
    """Kalai-Smorodinsky (paper Table 2, App. A) as a function to maximise.

    With the normalised gains g_i = (u_i - d_i) / (I_i - d_i), where the ideal point I holds each
    agent's best attainable payoff (``ideal``, or the per-agent max over ``feasible``), the value is
    ``-(max_i g_i - min_i g_i)``: 0 where the gains are in the proportion of the ideal gains (for 2
    agents, (u_1-d_1)/(u_2-d_2) = (I_1-d_1)/(I_2-d_2)), and Pareto-dominated profiles of
    ``feasible`` get ``-inf``, so the maximiser over the frontier is the classic K-S point.
    """
    if ideal is None:
        if feasible is None:
            raise ValueError("kalai_smorodinsky_welfare needs the ideal point: pass ideal=(I_1, ..., I_N) "
                             "or feasible=[[u_1, ..., u_N], ...]")
        ideal = np.asarray(feasible, dtype=np.float64).max(0)
    ideal_gain = np.asarray(_gains(np.asarray(ideal, dtype=np.float64), disagreement), dtype=np.float64)
    if np.any(ideal_gain <= 0):
        raise ValueError(f"kalai_smorodinsky_welfare: the ideal point must exceed the disagreement point "
                         f"for every agent, got ideal gains {ideal_gain.tolist()}")
    g = _gains(returns, disagreement)
    if _is_torch(g):
        import torch

        g = g / torch.as_tensor(ideal_gain, dtype=g.dtype, device=g.device)
        value = -(g.amax(-1) - g.amin(-1))
    else:
        g = g / ideal_gain
        value = -(g.max(-1) - g.min(-1))
    return _mask_dominated(value, returns, feasible)


# ------------------------------------------------------------------------ trajectory welfare
def _check_traces_args(gamma, lam):
    if not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")


def eligibility_traces(rewards, gamma: float = 0.96, lam: float = 0.96, initial=None):
    """Smoothed cumulative rewards e^t = gamma*lam*e^{t-1} + r^t, e^{-1} = 0 (paper App. C.1).

    ``rewards[..., T, N]`` (numpy or torch); returns the traces with the same shape.
    ``initial``: e^{-1} (``[..., N]``, default 0), to continue traces step by step
    (``eligibility_traces(r_t[None], gamma, lam, initial=e_prev)[0]``).
    """
    _check_traces_args(gamma, lam)
    r = _arr(rewards)
    if r.ndim < 2:
        raise ValueError(f"rewards must have shape (..., T, N), got {tuple(r.shape)}")
    decay = float(gamma) * float(lam)
    steps, e = [], r[..., 0, :] * 0.0
    if initial is not None:
        e = e + (initial if _is_torch(r) else np.asarray(initial, dtype=np.float64))
    for t in range(r.shape[-2]):
        e = decay * e + r[..., t, :]
        steps.append(e)
    if _is_torch(r):
        import torch

        return torch.stack(steps, -2)
    return np.stack(steps, -2)


def inequity_averse_rewards(rewards, beta: float = 1.0, gamma: float = 0.96, lam: float = 0.96,
                            initial=None):
    """Symmetric w_IA per step (paper App. C.1): sum_i r_i^t - beta * |e_1^t - e_2^t|.

    ``rewards[..., T, 2]`` -> ``[..., T]``. ``initial``: the traces before the first step (as in
    ``eligibility_traces``), to continue step by step.
    """
    r = _arr(rewards)
    if r.shape[-1] != 2:
        raise ValueError(f"the symmetric w_IA is defined for 2 agents, got {r.shape[-1]}")
    if float(beta) < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    e = eligibility_traces(r, gamma, lam, initial=initial)
    return r.sum(-1) - float(beta) * abs(e[..., 0] - e[..., 1])


def inequity_averse_welfare(rewards, beta: float = 1.0, gamma: float = 0.96, lam: float = 0.96,
                            discount: float = 1.0):
    """w_IA of a trajectory (paper App. C.1): sum_t discount^t (r_1^t + r_2^t - beta|e_1^t - e_2^t|).

    ``discount=1`` (default) is the plain sum over the episode; pass the values' gamma for the
    discounted form V_1 + V_2 - beta E|e_1 - e_2|.
    """
    w = inequity_averse_rewards(rewards, beta, gamma, lam)
    T = w.shape[-1]
    weights = float(discount) ** np.arange(T)
    if _is_torch(w):
        import torch

        weights = torch.as_tensor(weights, dtype=w.dtype, device=w.device)
    return (w * weights).sum(-1)


def inequity_averse_agent_rewards(rewards, alpha: float = 0.0, beta: float = 1.0,
                                  gamma: float = 0.96, lam: float = 0.96):
    """Per-agent inequity-averse reward of the authors' code, used to train on w_IA:

        w_i^t = r_i^t - alpha/(N-1) sum_j max(0, e_j^t - e_i^t) - beta/(N-1) sum_j max(0, e_i^t - e_j^t)

    i.e. for 2 agents r_i^t - alpha max(0, -delta) - beta max(0, delta), delta = e_own - e_other
    (alpha: disadvantageous, beta: advantageous inequity). The code's defaults: alpha 0,
    lambda 0.96, beta 1.0 for matrix games (a 0.125 -> 0.25 schedule for the coin games).
    ``rewards[..., T, N]`` -> same shape.
    """
    r = _arr(rewards)
    return r - inequity_aversion_penalty(eligibility_traces(r, gamma, lam), alpha, beta)


def inequity_aversion_penalty(traces, alpha: float = 0.0, beta: float = 1.0):
    """What inequity aversion subtracts from each agent's reward, given the e-traces ``[..., N]``:

        alpha/(N-1) sum_j max(0, e_j - e_i) + beta/(N-1) sum_j max(0, e_i - e_j)

    (``inequity_averse_agent_rewards`` is ``r - inequity_aversion_penalty(eligibility_traces(r))``;
    a reward-shaping wrapper applies it step by step on running traces.)
    """
    if float(alpha) < 0 or float(beta) < 0:
        raise ValueError(f"alpha and beta must be >= 0, got alpha={alpha}, beta={beta}")
    e = _arr(traces)
    n = e.shape[-1]
    if n < 2:
        raise ValueError(f"inequity aversion needs at least 2 agents, got {n}")
    delta = e[..., :, None] - e[..., None, :]  # delta[i, j] = e_i - e_j
    if _is_torch(delta):
        ahead, behind = delta.clamp(min=0).sum(-1), (-delta).clamp(min=0).sum(-1)
    else:
        ahead, behind = np.clip(delta, 0, None).sum(-1), np.clip(-delta, 0, None).sum(-1)
    return (float(alpha) * behind + float(beta) * ahead) / (n - 1)


# ------------------------------------------------------------------------ names and scoring
#: Welfare functions of payoff profiles, by name (what ``normalized_score`` and
#: ``rllib crossplay --welfare`` accept). ``w(returns, disagreement=None)``.
WELFARE_FUNCTIONS: Dict[str, Callable] = {
    "utilitarian": utilitarian_welfare,
    "egalitarian": egalitarian_welfare,
    "nash": nash_welfare,
    "kalai_smorodinsky": kalai_smorodinsky_welfare,
}
ALIASES = {"util": "utilitarian", "egal": "egalitarian", "ks": "kalai_smorodinsky",
           "sum": "utilitarian", "min": "egalitarian"}


def get_welfare(name: Union[str, Callable]) -> Callable:
    """The profile welfare function called ``name`` (or an alias); a callable passes through."""
    if callable(name):
        return name
    key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key in WELFARE_FUNCTIONS:
        return WELFARE_FUNCTIONS[key]
    if key in ("inequity_averse", "ia", "w_ia"):
        raise ValueError("welfare 'inequity_averse' is defined on reward sequences (e-traces), not on "
                         "payoff profiles: use inequity_averse_welfare(rewards, ...) on trajectories; "
                         "the paper's cross-play scoring uses utilitarian and egalitarian (and nash)")
    known = sorted(WELFARE_FUNCTIONS) + sorted(ALIASES)
    raise ValueError(f"unknown welfare function {name!r}; known: {', '.join(known)}")


def welfare_name(name: Union[str, Callable]) -> str:
    """Canonical name of ``name`` (``util`` -> ``utilitarian``; a callable: its ``__name__``)."""
    if callable(name):
        return getattr(name, "__name__", "welfare")
    get_welfare(name)
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


def normalized_score(profiles, welfare: Iterable = ("utilitarian", "egalitarian"),
                     disagreement: Sequence[float] = (0.0, 0.0), reference=None,
                     maxima: Optional[Sequence[float]] = None) -> np.ndarray:
    """NormalizedScore of payoff profiles (normative-disagreement paper §4.2, App. B.2):

        NormalizedScore(pi) = max_{w in W} [w(pi) - w(pi^d)] / [max_{pi'} w(pi') - w(pi^d)]

    Args:
        profiles: ``[..., N]`` payoff profiles to score.
        welfare: the set W, names (see ``get_welfare``) or callables ``w(returns)``.
        disagreement: the payoff profile of the disagreement (cooperation-failure) profile pi^d.
        reference: profiles ``[K, N]`` over which max_{pi'} w is taken; default ``profiles``
            itself (the empirical maximum over all evaluated profiles, as the authors' code does).
        maxima: per welfare function of ``welfare``, a given max_{pi'} w (e.g. the theoretical
            optimum) instead of the empirical one.

    A profile optimal for some w in W scores 1, the disagreement profile 0.
    """
    p = np.asarray(profiles, dtype=np.float64)
    fns = [get_welfare(w) for w in welfare]
    if not fns:
        raise ValueError("normalized_score needs at least one welfare function in W")
    d = np.asarray(disagreement, dtype=np.float64)
    if d.shape != p.shape[-1:]:
        raise ValueError(f"disagreement must have one payoff per agent ({p.shape[-1]}), got {d.tolist()}")
    ref = p.reshape(-1, p.shape[-1]) if reference is None else np.asarray(reference, dtype=np.float64)
    if maxima is not None and len(maxima) != len(fns):
        raise ValueError(f"maxima must give one value per welfare function ({len(fns)}), got {list(maxima)}")
    scores = []
    for k, w in enumerate(fns):
        w_d = float(w(d))
        w_max = float(maxima[k]) if maxima is not None else float(np.max(w(ref)))
        span = w_max - w_d
        if span <= 0:
            raise ValueError(f"NormalizedScore: max w - w(disagreement) must be > 0 for "
                             f"{welfare_name(list(welfare)[k])}, got {w_max} - {w_d}")
        scores.append((np.asarray(w(p), dtype=np.float64) - w_d) / span)
    return np.max(np.stack(scores, 0), 0)


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
