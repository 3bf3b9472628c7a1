"""LOLA-PG learner: opponent-learning-aware policy gradients estimated from sampled episodes.

Foerster et al. 2018 (LOLA, §3.3 "policy gradient-based learning"): every player ``i`` ascends

    grad_i V_i  +  eta * sum_{j != i} [grad_j V_i]^T grad_i grad_j V_j

(the LOLA update, normative-disagreement paper App. C.1) with every value and derivative a
likelihood-ratio estimate from the SAME batch of ``E`` whole episodes. With ``r^k_t`` player
``k``'s reward, ``G^k_t`` its discounted return-to-go (``core.returns.discounted_returns``) and
``C^k_t = sum_{l <= t} log pi_k(a^k_l | o^k_l)`` its cumulative log-probability:

* ``grad_i V_i ~ (1/E) sum_{e,t} gamma^t G^i_t grad_i log pi_i(a^i_t)`` (REINFORCE of
  ``V_i = E[sum_t gamma^t r^i_t]``; ``core.losses.pg_loss`` with weight ``gamma^t G^i_t``);
* ``grad_j V_i`` the same with player ``j``'s log-probabilities and player ``i``'s returns
  (a constant in player ``i``'s loss);
* ``grad_i grad_j V_j ~ (1/E) sum_{e,t} gamma^t r^j_t grad_i C^i_t (grad_j C^j_t)^T`` (the
  paper's second-order estimator: the score-function estimate of the mixed second derivative; the
  mixed term of a DiCE objective (Foerster et al. 2018, "DiCE") has the same value, since each
  log-probability depends on one player's parameters only).

Player ``i``'s loss is ``-(Vhat_i + eta * sum_j <stopgrad(ghat_ji), grad_j Shat_j>)`` where
``Shat_j = (1/E) sum gamma^t r^j_t C^i_t C^j_t`` and ``grad_j Shat_j`` is kept differentiable
in ``theta_i`` (``core.differentiable.gradient(create_graph=True)``), so that its gradient in
``theta_i`` is exactly the estimate above. ``estimator="trajectory"`` replaces every
``C^k_t`` and ``gamma^t G^k_t`` by whole-episode quantities (``log pi_k(tau)``,
``R^k_0 = G^k_0``): the plain score-function estimator, also unbiased, higher variance.
``correction="none"`` drops the second term: naive policy-gradient learners (NL-PG, the
baseline). Other players' parameters are constants in player ``i``'s loss (simultaneous
updates, plain SGD with step size ``lr``).

With several Learners (``num_learners > 1``) each holds whole episodes; every estimate is
normalised by the GLOBAL episode count, the first-order factor ``ghat_ji`` is summed over the
Learners before it multiplies the local second-order term, and the Learners' gradients are
summed (not averaged): the update equals the one-Learner update on the union of the shards.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from rllib_coopai.core.differentiable import Params, call_with, gradient, leaf_copy, named_params
from rllib_coopai.core.distributed import global_sum
from rllib_coopai.core.episodes import to_grid
from rllib_coopai.core.learner import CrossAgentTorchLearner
from rllib_coopai.core.losses import action_logp, pg_loss
from rllib_coopai.core.returns import discounted_returns, discounts

ESTIMATORS = ("causal", "trajectory")
PG_CORRECTIONS = ("lola", "none")

LogpFn = Callable[[int, Params], torch.Tensor]


def first_order_weights(rewards: torch.Tensor, mask: torch.Tensor, gamma: float,
                        estimator: str = "causal") -> torch.Tensor:
    """``[E, T]`` weights of ``log pi`` in the REINFORCE estimate of ``grad V``: ``gamma^t G_t``
    (``"causal"``) or the whole-episode return ``G_0`` at every step (``"trajectory"``)."""
    G = discounted_returns(rewards, gamma, mask)
    if estimator == "trajectory":
        return G[..., :1].expand_as(G)
    return G * discounts(G.shape[-1], gamma, device=G.device).to(G.dtype)


def cumulative_logp(logp: torch.Tensor, mask: torch.Tensor, estimator: str = "causal") -> torch.Tensor:
    """``C_t = sum_{l <= t} log pi(a_l)`` (``"causal"``) or ``log pi(tau)`` at every step
    (``"trajectory"``), ``[E, T]``."""
    lp = logp * mask
    if estimator == "trajectory":
        return lp.sum(-1, keepdim=True).expand_as(lp)
    return torch.cumsum(lp, -1)


def second_order_surrogate(cum_i: torch.Tensor, cum_j: torch.Tensor, rewards_j: torch.Tensor,
                           mask: torch.Tensor, gamma: float, n: float) -> torch.Tensor:
    """``Shat_j = (1/n) sum_{e,t} gamma^t r^j_t C^i_t C^j_t``: its mixed derivative
    ``grad_i grad_j Shat_j`` estimates ``grad_i grad_j V_j`` (LOLA §3.3)."""
    w = rewards_j * discounts(rewards_j.shape[-1], gamma, device=rewards_j.device).to(rewards_j.dtype)
    return -pg_loss(cum_i * cum_j, w, mask, n)


def lola_pg_losses(logp_fn: LogpFn, params: Sequence[Params], rewards: Sequence[torch.Tensor],
                   mask: torch.Tensor, *, gamma: float, lr_correction: float, correction: str = "lola",
                   estimator: str = "causal", n: float = None,
                   reduce: Optional[str] = None) -> Dict[str, List[torch.Tensor]]:
    """Every player's LOLA-PG loss (see the module docstring) on one batch of episodes.

    ``logp_fn(i, params_i)``: ``[E, T]`` log-probabilities of player ``i``'s taken actions under
    ``params_i``; ``params``: the players' live parameters; ``rewards``: per player ``[E, T]``;
    ``mask``: ``[E, T]`` (1 = real step); ``n``: the episode count the estimates average over
    (``E``; with several Learners the global count). ``reduce``: how the first-order factor
    ``ghat_ji`` is reduced over Learners (``"sum"`` with shards of one batch, ``None`` alone).
    Returns ``{"loss": [...], "correction": [...]}`` per player (the correction term's value, 0
    for ``correction="none"``).
    """
    if correction not in PG_CORRECTIONS:
        raise ValueError(f"correction must be one of {PG_CORRECTIONS}, got {correction!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    n = float(mask.shape[0] if n is None else n)
    weights = [first_order_weights(r, mask, gamma, estimator) for r in rewards]
    losses, terms = [], []
    for i, p_i in enumerate(params):
        lp_i = logp_fn(i, p_i)
        loss = pg_loss(lp_i, weights[i], mask, n)  # -Vhat_i: REINFORCE (LOLA §3.3)
        term = torch.zeros((), dtype=lp_i.dtype, device=lp_i.device)
        if correction == "lola":
            cum_i = cumulative_logp(lp_i, mask, estimator)
            for j, p_j in enumerate(params):
                if j == i:
                    continue
                leaf_j = leaf_copy(p_j)
                lp_j = logp_fn(j, leaf_j)
                # ghat_ji ~ grad_j V_i, a constant in player i's loss
                g_ji = gradient(-pg_loss(lp_j, weights[i], mask, n), leaf_j, reduce=reduce)
                # grad_j Shat_j, still a function of theta_i through C^i
                h = gradient(second_order_surrogate(cum_i, cumulative_logp(lp_j, mask, estimator),
                                                    rewards[j], mask, gamma, n), leaf_j, create_graph=True)
                term = term + sum((g_ji[k] * h[k]).sum() for k in leaf_j)
            # LOLA update (normative-disagreement paper App. C.1): grad_i V_i + eta [grad_j V_i]^T grad_i grad_j V_j
            loss = loss - lr_correction * term
        losses.append(loss)
        terms.append(term.detach())
    return {"loss": losses, "correction": terms}


class LOLAPGLearner(CrossAgentTorchLearner):
    """TorchLearner of ``LOLAPG`` (see the module docstring); one plain SGD step per update."""

    # Losses are normalised by the global episode count, so the shards' gradients add up.
    gradient_reduction = "sum"

    @override(TorchLearner)
    def build(self) -> None:
        super().build()
        self._agents: List[str] = list(self.config._lola_agents)

    @override(TorchLearner)
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        params = self.get_parameters(self._module[module_id])
        opt = torch.optim.SGD(params, lr=self.config.lr)  # plain gradient steps (LOLA §3.3)
        self.register_optimizer(module_id=module_id, optimizer=opt, params=params,
                                lr_or_lr_schedule=self.config.lr)

    def _losses(self, batch) -> Dict[str, torch.Tensor]:
        cfg = self.config
        data, E, T = to_grid(batch, self._agents)
        mask = data[self._agents[0]]["mask"].float()
        n = global_sum(E, mask.device)  # the global episode count (E itself with one Learner)

        def logp_fn(i: int, params: Params) -> torch.Tensor:
            d = data[self._agents[i]]
            obs = d["obs"].reshape((E * T,) + tuple(d["obs"].shape[2:]))
            logits = call_with(self.module[self._agents[i]], params, obs, method="logits")
            return action_logp(torch.log_softmax(logits, -1), d["actions"].reshape(-1)).reshape(E, T)

        out = lola_pg_losses(
            logp_fn, [named_params(self.module[a]) for a in self._agents],
            [data[a]["rewards"].float() for a in self._agents], mask, gamma=cfg.gamma,
            lr_correction=cfg.lr_correction, correction=cfg.correction, estimator=cfg.estimator, n=n,
            reduce="sum")
        for aid, term in zip(self._agents, out["correction"]):
            self.metrics.log_value(("lola_pg", f"correction_{aid}"), float(term), window=1)
        return dict(zip(self._agents, out["loss"]))

    @override(TorchLearner)
    def compute_losses(self, *, fwd_out, batch, **kwargs):
        return self._losses(batch)

    @override(TorchLearner)
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        return self._losses(batch)[module_id]
