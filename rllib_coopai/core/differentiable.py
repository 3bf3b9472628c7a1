"""Differentiable parameter updates: the inner/outer (meta-gradient) core of LIO, MetaGrad, AMD
and LOLA.

The inner update (a recipient's, an agent's or an opponent's policy step) is one SGD step taken
*functionally*, so that an outer objective evaluated with the updated parameters can be
differentiated back through the step (LIO thesis eqs. 5.3-5.10, ID thesis eqs. 6.3-6.4,
AMD thesis eqs. 4.1-4.3, LOLA's lookahead):

    theta'(eta) = theta - lr * grad_theta L_inner(theta, eta)              (:func:`sgd_step`)
    d L_outer(theta'(eta)) / d eta = (d theta' / d eta)^T v,  v = dL_outer/dtheta'  (:func:`meta_gradient`)

RLlib's ``TorchMetaLearner`` / ``TorchDifferentiableLearner`` update *all* parameters of each
module with a per-module loss; here the inner loss of one module depends on another module's
parameters (an incentive head, the designer, the other player) and only some parameter groups
step, so the package uses these functions with plain parameter dicts instead
(see ``core.learner.CrossAgentTorchLearner``).

Data-parallel learners: every learner holds whole episodes and losses are normalised by the
*global* episode count, so the full gradient is the SUM of the shards' gradients
(``reduce="sum"``); learners that normalise per shard average instead (``reduce="mean"``).
"""
from __future__ import annotations

from typing import Dict, Hashable, Iterable, List, Optional

import torch
from torch.func import functional_call

from rllib_coopai.core.distributed import all_reduce, world_size

Params = Dict[str, torch.Tensor]

_REDUCE = (None, "sum", "mean")


def _check_reduce(reduce) -> None:
    if reduce not in _REDUCE:
        raise ValueError(f"reduce must be one of {_REDUCE}, got {reduce!r}")


def _reduced(tensors: List[torch.Tensor], reduce) -> List[torch.Tensor]:
    _check_reduce(reduce)
    return tensors if reduce is None else all_reduce(tensors, mean=reduce == "mean")


def named_params(module: torch.nn.Module, names: Optional[Iterable[str]] = None) -> Params:
    """The module's trainable parameters by name (optionally only ``names``), as a fresh dict."""
    params = dict(module.named_parameters())
    if names is not None:
        params = {k: params[k] for k in names}
    return {k: v for k, v in params.items() if v.requires_grad}


def leaf_copy(params: Params) -> Params:
    """Detached copies that require grad: the point an inner step is differentiated from."""
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def call_with(module: torch.nn.Module, params: Params, *args, method: Optional[str] = None, **kwargs):
    """Run ``module`` (or ``module.<method>``) with ``params`` substituted for its own.

    Parameters not in ``params`` (and buffers) come from the module itself.
    """
    if method is None:
        return functional_call(module, params, args, kwargs, strict=False)
    # Swap the parameters on ``module`` for the duration of the call (what functional_call does).
    with torch.nn.utils.stateless._reparametrize_module(module, params):
        return getattr(module, method)(*args, **kwargs)


def assign_(module: torch.nn.Module, params: Params) -> None:
    """Copy ``params`` (detached) into the module's parameters in place: commit an inner step."""
    own = dict(module.named_parameters())
    with torch.no_grad():
        for k, v in params.items():
            own[k].copy_(v.detach())


def gradient(loss: torch.Tensor, params: Params, reduce: Optional[str] = "sum",
             create_graph: bool = False, retain_graph: bool = True) -> Params:
    """``d loss / d params`` (zeros where unused), reduced over learners (``reduce``).

    With ``create_graph=True`` the result stays differentiable (and is not reduced: a reduced
    value would cut the graph); use it for second-order terms such as AMD's eq. 4.3.
    """
    keys = list(params)
    grads = torch.autograd.grad(loss, [params[k] for k in keys], retain_graph=retain_graph or create_graph,
                                create_graph=create_graph, allow_unused=True, materialize_grads=True)
    if create_graph:
        return dict(zip(keys, grads))
    return dict(zip(keys, _reduced([g.detach() for g in grads], reduce)))


def sgd_step(params: Params, loss: torch.Tensor, lr: float, create_graph: bool = True,
             reduce: Optional[str] = None) -> Params:
    """One differentiable gradient-DESCENT step on ``loss``: ``p - lr * dloss/dp``.

    With ``create_graph=True`` the result stays a function of whatever ``loss`` depends on
    besides ``params`` (e.g. incentive parameters), so an outer loss can differentiate through it.
    Parameters that ``loss`` does not depend on are returned unchanged.

    ``reduce="sum"`` (several learners, each holding a shard of whole episodes): the VALUE is the
    full-batch step ``p - lr * sum_shards grad``, the GRAPH keeps this shard's term, so an outer
    gradient summed over shards is exactly the full-batch meta-gradient.
    """
    _check_reduce(reduce)
    keys = list(params)
    grads = torch.autograd.grad(
        loss, [params[k] for k in keys], create_graph=create_graph, allow_unused=True
    )
    local = {k: (params[k] if g is None else params[k] - lr * g) for k, g in zip(keys, grads)}
    if reduce is None or world_size() == 1:
        return local
    deltas = [(local[k] - params[k]).detach() for k in keys]
    full = all_reduce([d.clone() for d in deltas], mean=reduce == "mean")
    return {k: local[k] + (f - d) for k, d, f in zip(keys, deltas, full)}


def meta_gradient(
    theta_hat: Dict[Hashable, Params],
    eta: Params,
    outer_loss: Optional[torch.Tensor] = None,
    cotangent: Optional[Dict[Hashable, Params]] = None,
    reduce: Optional[str] = "sum",
) -> Params:
    """``d L_outer(theta_hat(eta)) / d eta`` as a vector-Jacobian product through the inner steps.

    ``theta_hat``: ``{agent: updated params}``, functions of ``eta`` (from :func:`sgd_step`).
    The cotangent ``v = dL_outer / d theta_hat`` is either taken from ``outer_loss`` or given
    (``cotangent``, same structure as ``theta_hat``: e.g. MetaGrad's gradient evaluated at the
    committed parameters, numerically equal to ``theta_hat``). ``v`` is reduced over learners
    before the local VJP and the result after it: exactly the full-batch meta-gradient.
    Only the dependence through ``theta_hat`` counts (``eta``'s direct effect on ``L_outer``, if
    any, is not included: LIO thesis eq. 5.7; costs are added separately).
    """
    if (outer_loss is None) == (cotangent is None):
        raise ValueError("meta_gradient needs exactly one of outer_loss and cotangent")
    agents = list(theta_hat)
    outs = [t for a in agents for t in theta_hat[a].values()]
    if cotangent is None:
        v = torch.autograd.grad(outer_loss, outs, retain_graph=True, allow_unused=True,
                                materialize_grads=True)
        v = _reduced([g.detach() for g in v], reduce)
    else:
        v = [cotangent[a][k] for a in agents for k in theta_hat[a]]
    keys = list(eta)
    grads = torch.autograd.grad(outs, [eta[k] for k in keys], grad_outputs=v, retain_graph=True,
                                allow_unused=True, materialize_grads=True)
    return dict(zip(keys, _reduced([g.detach() for g in grads], reduce)))


def grad_norm(grads: Dict[Hashable, torch.Tensor]) -> float:
    """Global L2 norm of a gradient dict (0.0 for an empty one), for logging."""
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())).item()) if grads else 0.0
