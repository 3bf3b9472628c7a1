"""Differentiable parameter updates shared by LIO, the incentive designer and AMD.

The inner (recipient / learner) update is one SGD step taken *functionally*, so that an outer
objective evaluated with the updated parameters can be differentiated back through the step
(LIO thesis eq. 5.10, ID thesis eqs. 6.3-6.4, AMD thesis eqs. 4.1-4.3):

    theta' = theta + lr * grad_theta J_inner(theta, incentives)      (ascent on J)
    outer  = J_outer(theta'(incentive_params))                       -> backward to incentive_params

Append new helpers here rather than copying these into an algorithm folder.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import torch
from torch.func import functional_call

Params = Dict[str, torch.Tensor]


def named_params(module: torch.nn.Module, names: Optional[Iterable[str]] = None) -> Params:
    """The module's trainable parameters by name (optionally only ``names``), as a fresh dict."""
    params = dict(module.named_parameters())
    if names is not None:
        params = {k: params[k] for k in names}
    return {k: v for k, v in params.items() if v.requires_grad}


def sgd_step(params: Params, loss: torch.Tensor, lr: float, create_graph: bool = True) -> Params:
    """One differentiable gradient-DESCENT step on ``loss``: ``p - lr * dloss/dp``.

    With ``create_graph=True`` the result stays a function of whatever ``loss`` depends on
    besides ``params`` (e.g. incentive parameters), so an outer loss can differentiate through it.
    Parameters that ``loss`` does not depend on are returned unchanged.
    """
    keys = list(params)
    grads = torch.autograd.grad(
        loss, [params[k] for k in keys], create_graph=create_graph, allow_unused=True
    )
    return {k: (params[k] if g is None else params[k] - lr * g) for k, g in zip(keys, grads)}


def call_with(module: torch.nn.Module, params: Params, *args, method: Optional[str] = None, **kwargs):
    """Run ``module`` (or ``module.<method>``) with ``params`` substituted for its own.

    Parameters not in ``params`` (and buffers) come from the module itself.
    """
    if method is None:
        return functional_call(module, params, args, kwargs, strict=False)

    def _call(*a, **kw):
        return getattr(module, method)(*a, **kw)

    # functional_call swaps parameters on ``module`` for the duration of the call.
    with torch.nn.utils.stateless._reparametrize_module(module, params):
        return _call(*args, **kwargs)


def assign_(module: torch.nn.Module, params: Params) -> None:
    """Copy ``params`` (detached) into the module's parameters in place: commit an inner step."""
    own = dict(module.named_parameters())
    with torch.no_grad():
        for k, v in params.items():
            own[k].copy_(v.detach())


def saturation_penalty(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``relu(|x| - bound)^2`` elementwise: zero inside ``[-bound, bound]``, quadratic outside.

    Added to an incentive cost on the pre-sigmoid outputs ``x`` (the ``preactivation_bound``
    option of LIO and the incentive designer) so that an output cannot drift so far into the
    sigmoid's flat tails that no gradient reaches it any more (float32 ``sigmoid(x) == 1`` for
    ``x`` above ~17): a "dead" incentive node.
    """
    return torch.relu(x.abs() - bound).square()
