"""LOLA-Exact learner: exact values of the iterated game, opponent-learning-aware gradients.

Per update every player ``i`` takes one gradient step (plain SGD, lr ``delta`` = ``lr``) on, with
``j`` the other players and all values exact (``exact.iterated_game_values``):

* ``correction="taylor"`` (default; the update of the normative-disagreement paper App. C.1 and
  LOLA's official code, Foerster et al. 2018 eq. 4.4):
  ``theta_i += delta grad_i V_i + delta eta sum_j [grad_j V_i]^T grad_i grad_j V_j``;
  here the loss ``-(V_i + eta sum_j <stopgrad(grad_j V_i), grad_j V_j>)`` whose gradient in
  ``theta_i`` is exactly that (``grad_j V_j`` kept differentiable in ``theta_i`` with
  ``core.differentiable.gradient(create_graph=True)``).
* ``correction="lookahead"`` (a flag; LOLA's "lookahead" form): ``-V_i(theta_i, theta_hat_j)``
  with ``theta_hat_j = theta_j + eta grad_j V_j`` one differentiable step of the other player
  (``core.differentiable.sgd_step``, the inner step of LIO / MetaGrad / AMD), differentiated
  through. Equal to the Taylor form to first order in ``eta``.
* ``correction="none"``: naive learners, ``theta_i += delta grad_i V_i`` (NL, the baseline).

All players' gradients are taken at the same parameters (simultaneous updates); other players'
parameters are constants in player i's loss. Data-parallel Learners compute the same exact
gradients and average them (``CrossAgentTorchLearner``).
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from rllib_coopai.algorithms.lola.exact import iterated_game_values
from rllib_coopai.core.differentiable import call_with, gradient, named_params, sgd_step
from rllib_coopai.core.learner import CrossAgentTorchLearner


class LOLAExactLearner(CrossAgentTorchLearner):
    """TorchLearner of ``LOLAExact`` (see the module docstring)."""

    @override(TorchLearner)
    def build(self) -> None:
        super().build()
        cfg = self.config
        self._agents: List[str] = list(cfg._lola_agents)
        self._payoffs = torch.tensor(np.asarray(cfg._lola_payoffs), dtype=torch.float32,
                                     device=self._device)
        n_states = int(np.prod(self._payoffs.shape[:-1])) + 1
        self._states = torch.eye(n_states, device=self._device)
        self._steps_in_update = 0

    @override(TorchLearner)
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        params = self.get_parameters(self._module[module_id])
        opt = torch.optim.SGD(params, lr=self.config.lr)  # plain gradient steps, lr delta
        self.register_optimizer(module_id=module_id, optimizer=opt, params=params,
                                lr_or_lr_schedule=self.config.lr)

    def probs(self, i: int, params) -> torch.Tensor:
        """``[S, A_i]``: player i's action probabilities in every state."""
        logits = call_with(self.module[self._agents[i]], params, self._states, method="logits")
        return torch.softmax(logits, -1)

    def values(self, params: List[Dict[str, torch.Tensor]]) -> torch.Tensor:
        return iterated_game_values([self.probs(i, p) for i, p in enumerate(params)], self._payoffs,
                                    self.config.gamma)

    def lola_losses(self) -> Dict[str, torch.Tensor]:
        """Every player's loss at the current parameters (see the module docstring)."""
        cfg = self.config
        live = [named_params(self.module[a]) for a in self._agents]
        const = [{k: v.detach() for k, v in p.items()} for p in live]
        losses = {}
        for i, aid in enumerate(self._agents):
            own = [live[k] if k == i else const[k] for k in range(len(live))]
            v_i = self.values(own)[i]
            others = [j for j in range(len(live)) if j != i]
            if cfg.correction == "none" or not others:
                losses[aid] = -v_i
                continue
            if cfg.correction == "taylor":
                term = 0.0
                for j in others:
                    leaf_j = {k: v.detach().requires_grad_(True) for k, v in live[j].items()}
                    with_j = [leaf_j if k == j else own[k] for k in range(len(live))]
                    v = self.values(with_j)
                    g_jj = gradient(v[j], leaf_j, create_graph=True)            # grad_j V_j(theta_i)
                    g_ji = gradient(v[i], leaf_j, reduce=None)                    # grad_j V_i (constant)
                    term = term + sum((g_ji[k] * g_jj[k]).sum() for k in leaf_j)
                losses[aid] = -(v_i + cfg.lr_correction * term)                  # App. C.1
            else:  # lookahead: V_i after every other player's differentiable step
                hat = list(own)
                for j in others:
                    leaf_j = {k: v.detach().requires_grad_(True) for k, v in live[j].items()}
                    with_j = [leaf_j if k == j else own[k] for k in range(len(live))]
                    v_j = self.values(with_j)[j]
                    hat[j] = sgd_step(leaf_j, -v_j, cfg.lr_correction, create_graph=True)
                losses[aid] = -self.values(hat)[i]
        return losses

    @override(TorchLearner)
    def before_gradient_based_update(self, *, timesteps) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        self._steps_in_update = 0

    @override(TorchLearner)
    def compute_losses(self, *, fwd_out, batch, **kwargs):
        """Exact: the batch is not used; ``updates_per_iteration`` steps run as that many epochs
        of one Learner update (metrics of the last)."""
        self._steps_in_update += 1
        losses = self.lola_losses()
        if self._steps_in_update >= self.config.updates_per_iteration:
            self._log()
        return losses

    @override(TorchLearner)
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        return self.lola_losses()[module_id]

    @torch.no_grad()
    def _log(self) -> None:
        params = [named_params(self.module[a]) for a in self._agents]
        probs = [self.probs(i, p) for i, p in enumerate(params)]
        v = iterated_game_values(probs, self._payoffs, self.config.gamma)
        scale = 1.0 - self.config.gamma
        for i, aid in enumerate(self._agents):
            self.metrics.log_value(("exact", f"value_{aid}"), float(v[i]), window=1)
            # per-step average reward of the discounted chain: (1 - gamma) V_i
            self.metrics.log_value(("exact", f"reward_per_step_{aid}"), float(scale * v[i]), window=1)
            coop = self.config._lola_coop[i] if self.config._lola_coop else 0
            self.metrics.log_value(("exact", f"p_start_action{coop}_{aid}"), float(probs[i][-1, coop]),
                                   window=1)
        self.metrics.log_value(("exact", "welfare_per_step"), float(scale * v.sum()), window=1)
