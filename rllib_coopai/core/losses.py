"""Loss terms shared by the package's learners (one definition each).

* :func:`pg_loss`: the REINFORCE / actor-critic policy loss
  ``-(1/n) sum_{e,t} mask * log pi(a_t|o_t) * w_t  -  c_H (1/n) sum mask * H(pi(.|o_t))``
  with ``w`` the return-to-go (LIO thesis eq. 5.4, ID thesis eq. 6.3, AMD thesis eq. 4.4), a TD
  error (LIO thesis eq. B.9) or the outer objective's return (LIO thesis eq. 5.10, ID eq. 6.4);
  ``n`` is the (global) episode count.
* :func:`saturation_penalty`: keeps sigmoid incentive outputs out of the flat tails.
"""
from __future__ import annotations

from typing import Optional

import torch


def action_logp(logp_all: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``log pi(a)`` of the taken actions from log-probabilities over actions ``[..., A]``."""
    return logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def categorical_entropy(logp_all: torch.Tensor) -> torch.Tensor:
    """Entropy of categorical distributions given as log-probabilities ``[..., A]``."""
    return -(logp_all.exp() * logp_all).sum(-1)


def pg_loss(logp: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor, n: float,
            entropy: Optional[torch.Tensor] = None, entropy_coeff: float = 0.0) -> torch.Tensor:
    """Policy-gradient loss (see the module docstring); ``logp``, ``weight``, ``mask`` same shape."""
    n = max(float(n), 1.0)
    loss = -(mask * logp * weight).sum() / n
    if entropy is not None and entropy_coeff:
        loss = loss - entropy_coeff * (mask * entropy).sum() / n
    return loss


def saturation_penalty(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``relu(|x| - bound)^2`` elementwise: zero inside ``[-bound, bound]``, quadratic outside.

    Added to an incentive cost on the pre-sigmoid outputs ``x`` (the ``preactivation_bound``
    option of LIO and the incentive designer; not in the papers) so that an output cannot drift
    so far into the sigmoid's flat tails that no gradient reaches it any more (float32
    ``sigmoid(x) == 1`` for ``x`` above ~17): a "dead" incentive node.
    """
    return torch.relu(x.abs() - bound).square()
