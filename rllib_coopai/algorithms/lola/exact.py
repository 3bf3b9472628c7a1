"""Exact discounted values of an iterated matrix game under memory-one policies.

The state is the previous joint action (``ravel_multi_index`` order of the payoff table), plus
the start state ``s0`` (index ``n_joint``): the observation of the package's ``MatrixGameEnv``
(a one-hot of length ``n_joint + 1``). With ``pi_i(. | s)`` every player's policy, the joint
action distribution in state ``s`` is ``J[s, a] = prod_i pi_i(a_i | s)``; the chain over joint
actions has transition matrix ``P = J[:n_joint]`` and start distribution ``p0 = J[s0]``, so

    V_i = sum_t gamma^t p0 P^t r_i = p0 (I - gamma P)^{-1} r_i

(the infinite-horizon discounted value LOLA-Exact optimises; Foerster et al. 2018, and the
normative-disagreement paper's App. C.1). Differentiable in every policy.
Oracle: policies that ignore the state give ``V_i = E_a[r_i(a)] / (1 - gamma)``.
"""
from __future__ import annotations

from typing import Sequence

import torch


def joint_state_probs(probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``J[s, a_flat] = prod_i probs[i][s, a_i]`` for per-player ``[S, A_i]`` -> ``[S, prod A_i]``."""
    J = probs[0]
    for p in probs[1:]:
        J = (J.unsqueeze(-1) * p.unsqueeze(1)).reshape(J.shape[0], -1)
    return J


def iterated_game_values(probs: Sequence[torch.Tensor], payoffs: torch.Tensor, gamma: float) -> torch.Tensor:
    """``[N]`` discounted values of every player (see the module docstring).

    ``probs[i]``: ``[n_joint + 1, A_i]`` action probabilities per state (last row: ``s0``);
    ``payoffs``: ``[A_1, ..., A_N, N]``.
    """
    n_joint = int(torch.tensor(payoffs.shape[:-1]).prod())
    J = joint_state_probs(probs)
    if J.shape != (n_joint + 1, n_joint):
        raise ValueError(f"policies must have {n_joint + 1} states and the payoff table's action "
                         f"counts; joint distribution has shape {tuple(J.shape)}")
    P, p0 = J[:n_joint], J[n_joint]
    r = payoffs.reshape(n_joint, -1).to(J.dtype)
    eye = torch.eye(n_joint, dtype=J.dtype, device=J.device)
    # p0 (I - gamma P)^{-1} r  ==  solve((I - gamma P)^T, p0)^T r
    x = torch.linalg.solve((eye - gamma * P).T, p0)
    return x @ r
