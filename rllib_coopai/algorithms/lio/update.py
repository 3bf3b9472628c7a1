"""The two-level LIO update as plain functions of parameters and objective closures.

The learner (``learner.py``) calls these with the sample-based losses of LIO thesis eqs. 5.1-5.10;
the tests call the *same* functions with the closed-form IPD values of LIO thesis App. B.2, so the
exact-LIO step is reproduced through the package's own update code.

* :func:`recipient_step` -- eq. 5.3: ``theta_hat^j = theta^j - lr * grad L^j(theta^j, eta)``,
  one differentiable SGD step per recipient (``functional.sgd_step``), kept in the graph of
  every incentive parameter ``eta`` that ``L^j`` depends on.
* :func:`giver_meta_gradient` -- eqs 5.7-5.10: ``d Loss_i(theta_hat(eta)) / d eta^i`` for one
  giver, computed as a vector-Jacobian product ``(d theta_hat / d eta^i)^T v`` with
  ``v = d Loss_i / d theta_hat`` (summed over the recipients ``j != i``).

Data-parallel learners (``num_learners > 1``): every learner holds whole episodes (all agents'
rows of the same env steps) and losses are normalised by the *global* episode count, so the full
gradient is the sum of the shards' gradients. ``recipient_step`` all-reduces the step (value =
the full-batch step, graph = this shard's part) and ``giver_meta_gradient`` all-reduces ``v``
before and the eta-gradient after the local VJP, which yields exactly the full-batch
meta-gradient on every learner.
"""
from __future__ import annotations

from typing import Callable, Dict, Hashable, List, Optional

import torch
import torch.distributed as dist

from rllib_coopai.modules.functional import Params, sgd_step


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum_(tensors: List[torch.Tensor]) -> List[torch.Tensor]:
    """In-place SUM all-reduce of detached tensors across learners (no-op on one learner)."""
    if world_size() > 1 and tensors:
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        out, i = [], 0
        for t in tensors:
            n = t.numel()
            out.append(flat[i : i + n].view_as(t))
            i += n
        return out
    return tensors


def recipient_step(
    params: Params, loss: torch.Tensor, lr: float, create_graph: bool = True
) -> Params:
    """Eq. 5.3 as a descent step on ``loss = -J^policy``; see the module docstring.

    With one learner this is exactly ``functional.sgd_step``. With several, the value becomes
    ``theta - lr * (sum of all shards' gradients)`` while the graph keeps this shard's term.
    """
    local = sgd_step(params, loss, lr, create_graph=create_graph)
    if world_size() == 1:
        return local
    keys = list(params)
    deltas = [(local[k] - params[k]).detach() for k in keys]
    full = all_reduce_sum_([d.clone() for d in deltas])
    return {k: local[k] + (f - d) for k, d, f in zip(keys, deltas, full)}


def giver_meta_gradient(
    theta_hat: Dict[Hashable, Params],
    outer_loss: torch.Tensor,
    eta: Params,
    recipients: Optional[List[Hashable]] = None,
) -> Params:
    """Gradient of ``outer_loss`` (eq. 5.10, a function of ``theta_hat``) w.r.t. ``eta``.

    Only the dependence through the recipients' updated parameters counts (eq. 5.7): ``eta``'s
    direct effect, if any, is ignored -- in LIO there is none, the cost (eq. 5.6) is separate.
    ``recipients`` (default: all keys of ``theta_hat``) are the agents ``j != i``.
    """
    recipients = list(theta_hat) if recipients is None else list(recipients)
    outs = [t for j in recipients for t in theta_hat[j].values()]
    v = torch.autograd.grad(outer_loss, outs, retain_graph=True, allow_unused=True, materialize_grads=True)
    v = all_reduce_sum_([g.detach() for g in v])
    keys = list(eta)
    grads = torch.autograd.grad(
        outs, [eta[k] for k in keys], grad_outputs=v, retain_graph=True,
        allow_unused=True, materialize_grads=True,
    )
    grads = all_reduce_sum_([g.detach() for g in grads])
    return dict(zip(keys, grads))


def plain_gradient(loss: torch.Tensor, params: Params) -> Params:
    """``d loss / d params``, all-reduced (summed) over learners; zeros where unused."""
    keys = list(params)
    grads = torch.autograd.grad(
        loss, [params[k] for k in keys], retain_graph=True, allow_unused=True, materialize_grads=True
    )
    return dict(zip(keys, all_reduce_sum_([g.detach() for g in grads])))


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = sum_{l>=t} gamma^(l-t) r_l`` along the last axis, batched (no Python loop over t).

    ``rewards``/``mask``: ``[..., T]``; padded steps (mask 0) contribute nothing.
    """
    T = rewards.shape[-1]
    idx = torch.arange(T, device=rewards.device)
    expo = (idx[None, :] - idx[:, None]).to(rewards.dtype)  # [t, l] = l - t
    disc = torch.where(expo >= 0, gamma ** expo.clamp(min=0), torch.zeros_like(expo))
    return (rewards * mask) @ disc.T


def discounts(T: int, gamma: float, device=None) -> torch.Tensor:
    """``[gamma^0, ..., gamma^(T-1)]``."""
    return gamma ** torch.arange(T, dtype=torch.float32, device=device)


GradFn = Callable[..., Params]
