"""MetaGrad learner: the designer differentiates through the agents' one-step PG update.

ID thesis eqs. 6.3-6.6 (Algorithm 3 with pipelining, M = 1). Per ``update`` on
batch ``B_k`` (sampled with ``theta_k``, ``eta_k``):

1. Outer (designer) step, if the previous batch ``B_{k-1}`` and ``theta_{k-1}`` are stored:
   ``theta_hat_i(eta) = theta_{k-1,i} - lr * grad L_i(theta_{k-1,i}, B_{k-1}, eta)`` (eq 6.3, kept in
   the graph with ``core.differentiable.sgd_step``; numerically ``theta_hat = theta_k``), and
   ``grad_eta J = sum_i (d theta_hat_i / d eta)^T grad_{theta_hat_i} J^ID(B_k)`` (eq 6.4), where
   ``J^ID = E[sum_i sum_t log pi_{theta_hat_i}(a_t|o_t) * G^ID_t]`` on the validation batch ``B_k``
   (PG outer loss of the ER code; equal to the proximal loss (6.5) since the ratio is 1 there,
   eq 6.6). It is computed as ``grad_eta <theta_hat(eta), stopgrad(g)>`` with
   ``g = grad_theta J^ID`` at ``theta_k``: the same number by the chain rule, and exact across
   Learner shards after averaging ``g`` and the result (``core.differentiable.meta_gradient``
   with ``reduce="mean"``).
   The incentive cost ``psi`` (sum over t of gamma^t * sum of the unscaled sigmoid outputs on
   ``B_{k-1}``, ID thesis §6.3.2) is minimised by its own Adam (``cost_lr``) or, with
   ``cost_lr=None``, added with weight ``cost_coeff`` to the meta loss (eq 6.1's ``- psi``).
   Budget options, not in the thesis: ``cost_warmup_updates`` ramps that weight (or the cost
   Adam's lr) in linearly; ``preactivation_bound`` adds ``relu(|x| - b)^2`` of the pre-sigmoid
   outputs to ``psi`` so that a saturated payment can still be shrunk.
2. Inner (agents) step on ``B_k`` with the updated ``eta``: plain SGD (lr ``agent_lr``) on the PG
   loss (eq 5.4 / 6.3): ``L_i = -E[sum_t log pi(a_t|o_t) G^i_t(eta)] - c_H * E[sum_t H]`` with
   ``G^i_t(eta)`` the return of ``r^env_i + pay_i(eta)`` (payments detached here).
3. Store ``theta_k`` and ``B_k`` for the next outer step (pipelining: ``tau <- tau_hat``).

Tax brackets (``incentive_output="tax_brackets"``, GTB): ``pay(eta)`` is replaced by the change of
the agents' rewards under the designer's rates, replayed in torch through eqs 6.7 / 6.8 / C.16 /
C.17 (``tax.tax_reward_delta``) from the batch's ``tax_*`` columns; ``J^ID`` uses the step's
``productivity * equality`` times ``objective_scale`` (r_scalar 1e-2); no incentive cost (taxes
are redistributed, ID thesis §6.3.2). The designer's logged ``tax_rate_<b>`` are its mean outputs at
the period starts.
"""
from __future__ import annotations

from typing import Dict

import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from rllib_coopai.algorithms.incentive_designer.tax import rates_in_force, tax_reward_delta
from rllib_coopai.core import differentiable as fn
from rllib_coopai.core.differentiable import call_with, named_params, sgd_step
from rllib_coopai.core.distributed import all_reduce
from rllib_coopai.core.episodes import to_et
from rllib_coopai.core.learner import CrossAgentTorchLearner
from rllib_coopai.core.losses import action_logp, categorical_entropy, pg_loss, saturation_penalty
from rllib_coopai.core.returns import discounted_returns
from rllib_coopai.wrappers.designer import DESIGNER_ID, payments


def pg_inner_loss(module, params, obs, actions, returns, mask, entropy_coeff: float,
                  n_episodes: int = 1):
    """Eq 5.4 / 6.3 policy-gradient loss with entropy bonus, ``obs`` ``[E*T, d]``, rest ``[E*T]``.

    Sum over steps, mean over the ``n_episodes`` episodes of the batch.
    """
    logp_all = torch.log_softmax(call_with(module, params, obs, method="logits"), -1)
    return pg_loss(action_logp(logp_all, actions), returns, mask, max(int(n_episodes), 1),
                   categorical_entropy(logp_all), entropy_coeff)


DESIGNER_PHASE = "designer_phase"
"""Key of ``timesteps`` (``Learner.update(timesteps=...)``): "outer" (the designer's meta-gradient
step on the kept ``(theta_{k-1}, B_{k-1})``) or "inner" (the agents' step with the new ``eta``)."""


class MetaGradLearner(CrossAgentTorchLearner):
    """TorchLearner of ``MetaGrad``: per iteration an "outer" update (the designer) and an
    "inner" update (the agents), the phase given through ``timesteps`` (``DESIGNER_PHASE``)."""

    @override(TorchLearner)
    def build(self) -> None:
        super().build()
        self._prev = None  # (theta_{k-1} per agent, tensors of B_{k-1})
        self._phase = None
        self._meta = None  # the outer phase's (meta-gradient, cost gradient), applied in apply_gradients

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        params = self.get_parameters(module)
        if module_id == DESIGNER_ID:
            opt = torch.optim.Adam(params, lr=self.config.designer_lr)
            self.register_optimizer(module_id=module_id, optimizer=opt, params=params,
                                    lr_or_lr_schedule=self.config.designer_lr)
            self._cost_opt = (torch.optim.Adam(params, lr=self.config.cost_lr)
                              if self.config.cost_lr
                              and self.config.incentive_output != "tax_brackets" else None)
        else:  # agents: plain gradient descent (ID thesis App. C.2.3: gradient descent for agents)
            opt = torch.optim.SGD(params, lr=self.config.agent_lr)
            self.register_optimizer(module_id=module_id, optimizer=opt, params=params,
                                    lr_or_lr_schedule=self.config.agent_lr)

    # ------------------------------------------------------------------ checkpoints
    def get_state(self, components=None, *, not_components=None, **kwargs):
        """RLlib's learner state plus the pipelined step's kept ``(theta_{k-1}, B_{k-1})`` and the
        cost optimizer (outside RLlib's optimizer registry), so a restored run takes the same
        meta-gradient step next."""
        state = super().get_state(components, not_components=not_components, **kwargs)
        if components is None:
            to_np = lambda d: {k: {n: t.detach().cpu().numpy() for n, t in v.items()}  # noqa: E731
                               for k, v in d.items()}
            state["metagrad_prev"] = (None if self._prev is None
                                      else (to_np(self._prev[0]), to_np(self._prev[1])))
            cost_opt = getattr(self, "_cost_opt", None)
            state["metagrad_cost_opt"] = None if cost_opt is None else cost_opt.state_dict()
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if "metagrad_prev" in state:
            prev = state["metagrad_prev"]
            to_t = lambda d: {k: {n: torch.as_tensor(a, device=self._device)  # noqa: E731
                                  for n, a in v.items()} for k, v in d.items()}
            self._prev = None if prev is None else (to_t(prev[0]), to_t(prev[1]))
        if state.get("metagrad_cost_opt") is not None and getattr(self, "_cost_opt", None) is not None:
            self._cost_opt.load_state_dict(state["metagrad_cost_opt"])

    # ------------------------------------------------------------------------------------
    def _agent_ids(self, batch):
        return [m for m in batch if m != DESIGNER_ID]

    def _returns(self, rewards_flat, t_col, mask_flat):
        r = to_et(rewards_flat * mask_flat, t_col)
        return discounted_returns(r, self.config.gamma).reshape(-1)  # G_t of eq. 6.3 / 6.4

    def _pay(self, d_params, data):
        """``[E*T, N]``: what ``eta`` adds to each agent's sampled env reward.

        Incentives: the payments ``pay(u(eta), a)``. Tax brackets (GTB): the change of the
        agents' rewards when the period's rates are the designer's output instead of the sampled
        rates, replayed in torch through eqs 6.7 / 6.8 / C.16 / C.17 (``tax.tax_reward_delta``;
        zero in value at the sampled rates, with the gradient of the tax chain).
        """
        d = data[DESIGNER_ID]
        u = call_with(self.module[DESIGNER_ID], d_params, d["obs"], method="incentives")
        if self.config.incentive_output == "tax_brackets":
            return self._tax_pay(u, d)
        # joint_actions columns follow the config's agent order (episodes_to_shards)
        sizes = [int(self.module[a].action_space.n) for a in self.config.policies
                 if a != DESIGNER_ID]
        pay = payments(u, d["joint_actions"], self.config.incentive_output,
                       self.config.revenue_neutral, sizes)
        return pay * d["mask"][:, None]

    def _tax_pay(self, u, d):
        if "tax_end" not in d:
            raise ValueError("incentive_output='tax_brackets' needs an economy env whose infos "
                             "carry the 'tax' record (e.g. gather_trade_build)")
        t = d["t"]
        et = {k: to_et(d[k], t) for k in ("tax_start", "tax_end", "tax_income", "tax_cap",
                                          "tax_transfer", "tax_coin", "tax_coin_before")}
        rates = rates_in_force(to_et(u, t), et["tax_start"])
        eta = float(dict(self.config.env_config or {}).get("isoelastic_eta", 0.23))
        delta = tax_reward_delta(rates, et["tax_end"], et["tax_income"], et["tax_cap"],
                                 et["tax_transfer"], et["tax_coin"], et["tax_coin_before"], eta)
        return delta.reshape(-1, delta.shape[-1]) * d["mask"][:, None]

    def inner_losses(self, agent_params: Dict, d_params, data) -> Dict[str, torch.Tensor]:
        """Eq 6.3: each agent's PG loss with rewards ``r^env + pay(eta)`` (differentiable in eta)."""
        losses = {}
        pay = self._pay(d_params, data)
        for i, aid in enumerate(self._agent_ids(data)):
            b = data[aid]
            r = b["env_rewards"] + pay[:, i]
            G = self._returns(r, b["t"], b["mask"])
            n_ep = to_et(b["mask"], b["t"]).shape[0]
            losses[aid] = pg_inner_loss(self.module[aid], agent_params[aid], b["obs"], b["actions"],
                                        G, b["mask"], self.config.agent_entropy_coeff, n_ep)
        return losses

    def outer_objective(self, agent_params: Dict, data) -> torch.Tensor:
        """``J^ID``: sum_i E[sum_t log pi_i(a_t|o_t) G^ID_t] on the validation batch (eq 6.4/6.5)."""
        d = data[DESIGNER_ID]
        scale = self.config.resolved_objective_scale()  # GTB MetaGrad: r_scalar 1e-2 (authors' code)
        G = self._returns(d["objective"] * scale, d["t"], d["mask"]).detach()
        n_ep = to_et(d["mask"], d["t"]).shape[0]
        total = 0.0
        for aid in self._agent_ids(data):
            b = data[aid]
            logits = call_with(self.module[aid], agent_params[aid], b["obs"], method="logits")
            logp = torch.log_softmax(logits, -1).gather(-1, b["actions"].long().unsqueeze(-1))
            total = total + (b["mask"] * logp.squeeze(-1) * G).sum() / n_ep
        return total

    def incentive_cost(self, d_params, data) -> torch.Tensor:
        """``psi``: sum_t gamma^t * sum_k sigmoid_k (unscaled outputs), mean over episodes.

        With ``preactivation_bound`` b set, ``psi`` also holds
        ``sum_t gamma^t * sum_k relu(|x_k| - b)^2`` on the pre-sigmoid outputs ``x`` (not in the
        thesis): a saturated sigmoid has no gradient left, neither from the meta-objective nor
        from the cost, so without it a payment that overshoots to the maximum stays there.
        """
        d = data[DESIGNER_ID]
        x = call_with(self.module[DESIGNER_ID], d_params, d["obs"], method="preactivation")
        sq = torch.sigmoid(x).sum(-1)
        if self.config.incentive_output == "tax_brackets":
            return (sq * 0.0).sum()  # GTB: no incentive cost, taxes are redistributed (ID thesis §6.3.2)
        bound = self.config.preactivation_bound
        if bound is not None:
            sq = sq + saturation_penalty(x, bound).sum(-1)
        disc = self.config.gamma ** d["t"]
        n_ep = to_et(d["mask"], d["t"]).shape[0]
        return (d["mask"] * disc * sq).sum() / n_ep

    def meta_gradient(self, data_prev, theta_prev, data_cur):
        """(grad of -J^ID w.r.t. eta through the inner step, grad of psi w.r.t. eta)."""
        designer = self.module[DESIGNER_ID]
        eta = {k: v.detach().requires_grad_(True) for k, v in named_params(designer).items()}
        agents = self._agent_ids(data_cur)
        # g_i = grad_{theta_hat_i} J^ID at the committed theta (= theta_hat(eta) numerically).
        cur = {a: {k: v.detach().requires_grad_(True) for k, v in named_params(self.module[a]).items()}
               for a in agents}
        J = self.outer_objective(cur, data_cur)
        flat = [p for a in agents for p in cur[a].values()]
        g = list(torch.autograd.grad(J, flat, allow_unused=True, materialize_grads=True))
        g = all_reduce(g, mean=True)
        # theta_hat(eta): one differentiable SGD step from theta_{k-1} on B_{k-1} (eq 6.3).
        prev = {a: {k: v.detach().requires_grad_(True) for k, v in theta_prev[a].items()}
                for a in agents}
        losses = self.inner_losses(prev, eta, data_prev)
        hat = {a: sgd_step(prev[a], losses[a], self.config.agent_lr, create_graph=True) for a in agents}
        it = iter(g)  # cotangent of the loss -J^ID: -g (eq 6.4)
        cot = {a: {k: -next(it) for k in hat[a]} for a in agents}
        meta = fn.meta_gradient(hat, eta, cotangent=cot, reduce="mean")
        cost = self.incentive_cost(eta, data_prev)
        cost_g = fn.gradient(cost, eta, reduce="mean")
        return meta, cost_g, J.detach(), cost.detach()

    def _cost_ramp(self, opt) -> float:
        """``min(1, k / cost_warmup_updates)`` with ``k`` the designer's Adam step count (part of
        the checkpointed optimizer state); 1 when the warm-up is off."""
        n = int(self.config.cost_warmup_updates or 0)
        if n <= 0:
            return 1.0
        states = [st for st in opt.state.values() if "step" in st]
        k = float(states[0]["step"]) if states else 0.0
        return min(1.0, k / n)

    def _designer_step(self, meta, cost_g):
        own = dict(self.module[DESIGNER_ID].named_parameters())
        opt = self.get_optimizer(DESIGNER_ID)
        ramp = self._cost_ramp(opt)
        coeff = 0.0 if self._cost_opt is not None else self.config.cost_coeff * ramp
        opt.zero_grad(set_to_none=True)
        for k, p in own.items():
            p.grad = meta[k] + coeff * cost_g[k]
        opt.step()
        if self._cost_opt is not None:  # ER: a separate Adam on the cost alone (LIO thesis App. B.4.2)
            for group in self._cost_opt.param_groups:
                group["lr"] = self.config.cost_lr * ramp
            self._cost_opt.zero_grad(set_to_none=True)
            for k, p in own.items():
                p.grad = cost_g[k].clone()
            self._cost_opt.step()
        for p in own.values():
            p.grad = None
        return ramp

    # ------------------------------------------------------------------ update (public hooks)
    @override(TorchLearner)
    def before_gradient_based_update(self, *, timesteps) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        phase = (timesteps or {}).get(DESIGNER_PHASE, "inner")
        if phase not in ("inner", "outer"):
            raise ValueError(f"unknown MetaGrad phase {phase!r} (timesteps[{DESIGNER_PHASE!r}]: "
                             "'inner' or 'outer')")
        self._phase = phase

    @override(TorchLearner)
    def compute_losses(self, *, fwd_out, batch, **kwargs):
        """"outer": the designer's meta-gradient and cost gradient on the kept ``B_{k-1}`` and this
        batch (applied in ``apply_gradients``); "inner": the agents' PG losses (eq 6.3) with the
        payments of the current ``eta``, and ``(theta_k, B_k)`` kept for the next outer step."""
        data = {m: dict(b) for m, b in batch.items()}
        agents = self._agent_ids(data)
        zero = {m: torch.zeros((), device=self._device) for m in data}
        if self._phase == "outer":
            self._meta = None
            if self._prev is not None:
                theta_prev, data_prev = self._prev
                meta, cost_g, J, cost = self.meta_gradient(data_prev, theta_prev, data)
                self._meta = (meta, cost_g)
                self.metrics.log_value((DESIGNER_ID, "outer_objective"), J.item(), window=1)
                self.metrics.log_value((DESIGNER_ID, "incentive_cost"), cost.item(), window=1)
                self.metrics.log_value((DESIGNER_ID, "meta_grad_norm"), fn.grad_norm(meta), window=1)
            return zero
        # Inner step (committed by the registered SGD optimizers), payments with the current eta.
        d_params = {k: v.detach() for k, v in named_params(self.module[DESIGNER_ID]).items()}
        own = {a: named_params(self.module[a]) for a in agents}
        losses = self.inner_losses(own, d_params, data)
        self._prev = ({a: {k: v.detach().clone() for k, v in own[a].items()} for a in agents},
                      {m: {k: v.detach() for k, v in b.items()} for m, b in data.items()})
        with torch.no_grad():
            u = self.module[DESIGNER_ID].incentives(data[DESIGNER_ID]["obs"])
            m = data[DESIGNER_ID]["mask"]
            tax = self.config.incentive_output == "tax_brackets"
            if tax:  # only the outputs at the first step of a period set rates
                m = m * data[DESIGNER_ID]["tax_start"]
            mean_u = (u * m[:, None]).sum(0) / m.sum().clamp(min=1)
        name = "tax_rate" if tax else "mean_incentive"
        for k in range(mean_u.shape[0]):
            self.metrics.log_value((DESIGNER_ID, f"{name}_{k}"), mean_u[k].item(), window=1)
        return losses

    @override(TorchLearner)
    def compute_gradients(self, loss_per_module, **kwargs):
        if self._phase == "outer":  # taken through the agents' step in compute_losses
            return {}
        return super().compute_gradients(loss_per_module, **kwargs)

    @override(TorchLearner)
    def apply_gradients(self, gradients_dict) -> None:
        if self._phase != "outer":
            return super().apply_gradients(gradients_dict)
        if self._meta is not None:
            ramp = self._designer_step(*self._meta)
            self.metrics.log_value((DESIGNER_ID, "cost_weight"), ramp, window=1)
            self._meta = None

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        """One agent's PG loss on its realised rewards (payments as paid while sampling).

        ``compute_losses`` above does the MetaGrad update; this per-module view is what the loss
        of an agent is when the designer is held fixed.
        """
        if module_id == DESIGNER_ID:
            return torch.zeros((), device=self._device)
        G = self._returns(batch["rewards"], batch["t"], batch["mask"])
        n_ep = to_et(batch["mask"], batch["t"]).shape[0]
        return pg_inner_loss(self.module[module_id], named_params(self.module[module_id]),
                             batch["obs"], batch["actions"], G, batch["mask"],
                             self.config.agent_entropy_coeff, n_ep)


