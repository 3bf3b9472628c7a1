"""Bracketed taxes in torch: MetaGrad's differentiable replay of GTB's tax chain (ID thesis eqs. 6.7-6.8).

"The chain tax T(z) (6.7) -> redistribution (6.8) -> coin -> utility (C.17) -> per-step reward
(C.16) is replicated inside the graph" (ID thesis App. C.2.2). With the agents' actions held fixed (the
sampled batch), the designer's rates ``tau`` change the agents' coin only through the period-end
transfers ``d_i(tau) = mean_j min(T(z_j; tau), cap_j) - min(T(z_i; tau), cap_i)``; every later
step's total coin shifts by the sum ``S_t(tau)`` of the changes of all transfers up to ``t``:
``coin_t(tau) = coin_t + S_t``. The reward of step t (C.16, the labor part is unaffected) becomes

    r_t(tau) = r_t + [crra(coin_t + S_t) - crra(coin_t)] - [crra(coin_{t-1} + S_{t-1}) - crra(coin_{t-1})]

which equals the sampled reward at the sampled rates (``S = 0``). At the first period end the
change is exactly the brief's ``crra(x_i - T(z_i; tau) + mean_j T(z_j; tau)) - crra(x_i)``
(plus the same for the sampled rates, which cancels in the numbers). Incomes ``z`` are unchanged
by ``S`` (both ends of a period shift alike). The cap (tax collected <= coin in inventory) uses
the sampled inventory coin: exact numbers at the sampled rates; the gradient ignores how earlier
periods' shifts would move the cap (it binds only when most coin sits in escrow).
"""
from __future__ import annotations

import torch

from rllib_coopai.envs.gather_trade_build import BRACKET_CUTOFFS


def torch_bracket_tax(income: torch.Tensor, rates: torch.Tensor, cutoffs=BRACKET_CUTOFFS):
    """Eq 6.7 for ``income`` ``(...)`` and ``rates`` ``(..., B)`` (broadcast); returns ``(...)``."""
    lo = torch.as_tensor(cutoffs, dtype=rates.dtype, device=rates.device)
    width = torch.cat([lo[1:] - lo[:-1], lo.new_full((1,), float("inf"))])
    taxable = torch.minimum((income[..., None] - lo).clamp(min=0.0), width)
    return (taxable * rates).sum(-1)


def torch_crra(coin: torch.Tensor, eta: float) -> torch.Tensor:
    """C.17 ``(z^(1-eta) - 1) / (1 - eta)`` (coin clamped to a tiny positive number)."""
    return (coin.clamp(min=1e-6) ** (1.0 - eta) - 1.0) / (1.0 - eta)


def rates_in_force(u: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Rates in force at each row: the output at the latest row ``<= t`` with ``start`` set.

    ``u`` ``[E, T, B]``, ``start`` ``[E, T]`` (1 where the designer's output set the rates).
    Rows before the first start take row 0.
    """
    T = u.shape[1]
    idx = torch.arange(T, device=u.device).expand_as(start) * (start > 0).long()
    idx = torch.cummax(idx, dim=1).values
    return torch.gather(u, 1, idx[..., None].expand(-1, -1, u.shape[-1]))


def tax_reward_delta(rates, end, income, cap, transfer_obs, coin, coin_before, eta: float,
                     cutoffs=BRACKET_CUTOFFS) -> torch.Tensor:
    """``r_t(tau) - r_t`` per agent (module docstring), all ``[E, T, N]`` except ``rates``
    ``[E, T, B]`` (rates in force at each row) and ``end`` ``[E, T]`` (period-end flag)."""
    tax = torch_bracket_tax(income, rates[:, :, None, :], cutoffs)     # eq 6.7
    tax = torch.minimum(tax, cap.clamp(min=0.0))                          # capped by inventory coin
    transfer = tax.mean(-1, keepdim=True) - tax                           # eq 6.8
    change = (transfer - transfer_obs) * end[..., None]
    shift = torch.cumsum(change, dim=1)                                   # S_t
    shift_before = shift - change                                         # S_{t-1}
    return (torch_crra(coin + shift, eta) - torch_crra(coin, eta)
            - torch_crra(coin_before + shift_before, eta) + torch_crra(coin_before, eta))  # C.16
