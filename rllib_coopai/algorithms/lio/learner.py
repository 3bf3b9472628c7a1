"""LIO's TorchLearner: recipients' differentiable policy step and givers' incentive step.

One ``update()`` call runs one *phase* (set by the algorithm before the call, see ``lio.py``):

* ``"inner"`` (eqs 5.1-5.4, B.9-B.10): on trajectory ``tau`` every agent ``j`` takes one plain SGD
  step on its policy with rewards that include the incentives the others pay it
  (``r^j = r^{j,env} + sum_{i != j} r^j_{eta^i}``, eq. 5.1). The incentives are recomputed from the
  stored observations/actions by the givers' incentive heads (in the graph of ``eta``). The
  updated ``theta_hat`` is committed to the module (``core.differentiable.assign_``); ``theta`` and ``tau``
  are kept for the outer phase. Actor-critic agents also fit their critic (Adam, eq. B.10) and
  soft-update the target critic.
* ``"outer"`` (eqs 5.5-5.10): on the new trajectory ``tau_hat`` (sampled with ``theta_hat``) every
  giver ``i`` rebuilds ``theta_hat^j(eta)`` from the kept ``theta``/``tau`` with the *same* code
  (so the graph's values equal the committed parameters; ``theta_hat_mismatch`` logs the
  difference), differentiates its loss (5.10) through it and adds the giving cost (5.6) on ``tau``.
  All givers' gradients are taken before any head moves. ``meta_gradient_scope="all_givers"``
  (the reference code) also sends giver ``i``'s eq. 5.10 gradient to the other givers' heads.
* the one-rollout schedule runs ``"outer"`` (if a previous ``tau`` is kept) then ``"inner"`` on the
  same batch: ``tau_hat`` of iteration k is ``tau`` of iteration k+1.

The phase comes with ``update(timesteps={LIO_PHASE: ...})``; ``compute_losses`` takes the phase's
gradients (vector-Jacobian products through the functional steps of ``core.differentiable``) and
``apply_gradients`` commits them, so the optimizers step only on RLlib's update path.

Policies use plain gradient descent (LIO thesis App. B.4.2, no optimizer object); incentive heads Adam
(``"incentive"``) plus, with ``separate_cost_optimizer``, a second Adam (``"cost"``) stepping on the
cost gradient alone (the thesis's Escape Room setting); critics Adam (``"critic"``).

Every learner holds whole episodes; all gradients are all-reduced across learners by hand
(``core.differentiable``, ``reduce="sum"`` with the global episode count), so the modules are not
wrapped in DDP (``core.learner.CrossAgentTorchLearner``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from rllib_coopai.core.differentiable import (
    assign_,
    call_with,
    gradient,
    grad_norm,
    meta_gradient,
    sgd_step,
)
from rllib_coopai.core.distributed import global_sum, rank_world
from rllib_coopai.core.episodes import to_grid
from rllib_coopai.core.learner import CrossAgentTorchLearner
from rllib_coopai.core.losses import action_logp, categorical_entropy, pg_loss, saturation_penalty
from rllib_coopai.core.returns import discounted_returns, discounts

LIO_PHASE = "lio_phase"
"""Key of ``timesteps`` (``Learner.update(timesteps=...)``) naming the phase of the update."""
LIO_DECAY = "lio_decay_epsilon"
"""Key of ``timesteps``: decay the exploration floor after this update (the iteration's last)."""


class LIOTorchLearner(CrossAgentTorchLearner):
    @override(TorchLearner)
    def build(self) -> None:
        super().build()
        self._lio_phase = None  # set per update from ``timesteps`` (LIO_PHASE)
        self._lio_decay = False
        self._pending = []  # the phase's steps, run by apply_gradients
        self._recipient_models = None  # LIO-dec: fitted estimates of the recipients' policies
        if self.config.recipient_model == "estimated":
            from functools import partial

            from rllib_coopai.core.distributed import all_reduce_
            from rllib_coopai.core.opponent_model import FittedPolicy

            mods, order = self._modules()
            seed = 0 if self.config.seed is None else int(self.config.seed)
            self._recipient_models = FittedPolicy(
                [mods[j] for j in order], window=1, fit_steps=self.config.opponent_model_steps,
                lr=self.config.opponent_model_lr, seed=seed, allreduce=partial(all_reduce_, mean=True),
                method="mixed_logp", names=[mods[j].policy_param_names() for j in order])
        self._kept = None  # {"theta", "data", "n_eps", "committed"} of the last inner step

    # ------------------------------------------------------------------ kept (theta, tau) state
    def get_kept_state(self) -> Dict[str, Any]:
        """This learner's kept ``(theta, tau)`` of the last inner step as numpy (None if none).

        Returned with this learner's rank: with several learners every one keeps its own shard of
        whole episodes, so ``LIO.get_state`` gathers all of them (``set_kept_state`` picks its own).
        """
        rank, world = rank_world()
        kept = None
        if self._kept is not None:
            kept = {k: (v if k == "n_eps" else _to_numpy(v)) for k, v in self._kept.items()}
        return {"rank": rank, "world": world, "kept": kept}

    def set_kept_state(self, states: List[Dict[str, Any]]) -> None:
        """Restore the kept ``(theta, tau)`` from ``get_kept_state`` results of every learner.

        The entry of this learner's rank is used; if the learner count changed since the save (or
        nothing was kept) the kept state is cleared and the next iteration is a policy step only.
        """
        rank, world = rank_world()
        mine = [s for s in states or [] if s.get("rank") == rank and s.get("world") == world]
        kept = mine[0]["kept"] if mine and len(states) == world else None
        if kept is None:
            self._kept = None
            return
        self._kept = {k: (v if k == "n_eps" else _to_torch(v, self._device)) for k, v in kept.items()}

    # ------------------------------------------------------------------ optimizers
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        cfg = config or self.config
        module = self.module[module_id].unwrapped()
        named = dict(module.named_parameters())
        if module.gives_incentives:
            params = list(self._meta_targets(module_id).values())
            self.register_optimizer(
                module_id=module_id, optimizer_name="incentive",
                optimizer=torch.optim.Adam(params, lr=cfg.incentive_lr), params=params,
                lr_or_lr_schedule=cfg.incentive_lr,
            )
            params = [named[k] for k in module.incentive_param_names()]
            if cfg.separate_cost_optimizer:
                self.register_optimizer(
                    module_id=module_id, optimizer_name="cost",
                    optimizer=torch.optim.Adam(params, lr=cfg.cost_lr), params=params,
                    lr_or_lr_schedule=cfg.cost_lr,
                )
        critics = [("critic", module.critic_param_names())] if module.use_critic else []
        if getattr(module, "extrinsic_critic", False):
            critics.append(("extrinsic_critic", module.extrinsic_critic_param_names()))
        for name, names in critics:
            params = [named[k] for k in names]
            self.register_optimizer(
                module_id=module_id, optimizer_name=name,
                optimizer=torch.optim.Adam(params, lr=cfg.critic_lr), params=params,
                lr_or_lr_schedule=cfg.critic_lr,
            )

    def _meta_targets(self, giver) -> Dict[Tuple[Any, str], torch.nn.Parameter]:
        """The incentive parameters giver ``giver``'s eq. 5.10 step moves, keyed ``(module id, name)``.

        ``meta_gradient_scope="own"``: its own head. "all_givers" (the reference code): also every
        other giver's head, when a third agent exists for that head to pay (N >= 3).
        """
        mods = {mid: self.module[mid].unwrapped() for mid in self.module.keys()}
        heads = [giver]
        if self.config.meta_gradient_scope == "all_givers" and len(mods) >= 3:
            heads += sorted((k for k in mods if k != giver and mods[k].gives_incentives), key=lambda k: mods[k].agent_index)
        out = {}
        for k in heads:
            named = dict(mods[k].named_parameters())
            out.update({(k, n): named[n] for n in mods[k].incentive_param_names()})
        return out

    def _step(self, module_id, name: str, params: Dict[Any, torch.Tensor], grads: Dict[Any, torch.Tensor]) -> None:
        """One step of optimizer ``name`` of ``module_id`` with ``grads[key]`` on ``params[key]``."""
        opt = self.get_optimizer(module_id, name)
        opt.zero_grad(set_to_none=True)
        for k, g in grads.items():
            params[k].grad = g.clone()
        opt.step()
        opt.zero_grad(set_to_none=True)

    # ------------------------------------------------------------------ data helpers
    def _modules(self):
        mods = {mid: self.module[mid].unwrapped() for mid in self.module.keys()}
        order = sorted(mods, key=lambda m: mods[m].agent_index)
        return mods, order

    def _incentives(self, mods, order, data):
        """Pre-sigmoid outputs and payments of every giver on ``data``: ``{i: [E, T, N]}`` each."""
        pre, paid = {}, {}
        for i in order:
            if not mods[i].gives_incentives:
                continue
            others = [k for k in order if k != i]
            feats = mods[i].action_features([data[k]["actions"] for k in others])
            pre[i] = mods[i].incentive_preactivation(data[i]["obs"], feats)
            paid[i] = mods[i].r_max * mods[i].squash(pre[i])
        return pre, paid

    def _received(self, mods, order, paid) -> Dict[Any, torch.Tensor]:
        """``sum_{i != j} r^j_{eta^i}`` for every recipient j (eq. 5.1); ``[E, T]``."""
        out = {}
        for j in order:
            idx = mods[j].agent_index
            terms = [p[..., idx] for i, p in paid.items() if i != j]
            out[j] = torch.stack(terms, 0).sum(0) if terms else None
        return out

    def _inner_loss(self, mod, theta, d, received, n_eps, gamma, ent_coef) -> torch.Tensor:
        """``L^j = -J^policy`` for one recipient (PG eq. 5.4 or actor-critic eq. B.9)."""
        mask = d["mask"]
        reward = d["rewards"] if received is None else d["rewards"] + received  # eq. 5.1
        logp_all = call_with(mod, theta, d["obs"], method="mixed_logp")
        if mod.use_critic:  # eq. B.9 with the main critic for V(s') and V(s) (the authors' code, lio_ac.py)
            if "_v" not in d:  # critic values at the time of the step, kept for the outer rebuild
                with torch.no_grad():
                    d["_v"] = mod.value(d["obs"])
                    d["_v_next"] = mod.value(d["next_obs"]) * (1.0 - d["terminal"])
            weight = reward + gamma * d["_v_next"] - d["_v"]
        else:  # eq. 5.4: G^j_t(tau; eta^{-j})
            weight = discounted_returns(reward, gamma, mask)
        return pg_loss(action_logp(logp_all, d["actions"]), weight, mask, n_eps,
                       categorical_entropy(logp_all), ent_coef)

    def _recipient_steps(self, mods, order, data, n_eps, theta, create_graph):
        """theta_hat^j for every agent (eq. 5.3) and the inner losses."""
        cfg = self.config
        pre, paid = self._incentives(mods, order, data)
        received = self._received(mods, order, paid)
        theta_hat, losses = {}, {}
        for j in order:
            loss = self._inner_loss(mods[j], theta[j], data[j], received[j], n_eps, cfg.gamma, cfg.entropy_coeff)
            theta_hat[j] = sgd_step(theta[j], loss, cfg.policy_lr, create_graph=create_graph, reduce="sum")  # eq. 5.3
            losses[j] = loss
        return theta_hat, losses, pre, paid, received

    def compute_loss_for_module(self, *, module_id, config=None, batch=None, fwd_out=None):
        raise ValueError(
            "LIO's losses are cross-agent; use LIOTorchLearner.compute_losses(batch=<multi-agent batch>)"
        )

    def _global_count(self, x: float) -> float:
        # On the learner's device: NCCL (GPU learners) all-reduces only CUDA tensors.
        return global_sum(x, self._device)

    # ------------------------------------------------------------------ update (public hooks)
    @override(TorchLearner)
    def before_gradient_based_update(self, *, timesteps) -> None:
        """Reads the phase of this update from ``timesteps`` (``LIO_PHASE``: "inner" or "outer";
        ``LIO_DECAY``: decay the exploration floor after it, once per iteration)."""
        super().before_gradient_based_update(timesteps=timesteps)
        phase = (timesteps or {}).get(LIO_PHASE, "inner")
        if phase not in ("inner", "outer"):
            raise ValueError(f"unknown LIO learner phase {phase!r} (timesteps[{LIO_PHASE!r}]: "
                             "'inner' or 'outer')")
        self._lio_phase = phase
        self._lio_decay = bool((timesteps or {}).get(LIO_DECAY, True))
        self._pending = []

    @override(TorchLearner)
    def compute_losses(self, *, fwd_out=None, batch=None, **kwargs) -> Dict[Any, torch.Tensor]:
        """The phase's differentiable work; returns the recipients' policy losses ``-J^policy``.

        Called by ``update()`` with the phase set: "inner" builds ``theta_hat`` (eq. 5.3) and the
        critics' gradients, "outer" the givers' meta-gradients (eqs 5.5-5.10) through the kept
        step. The gradients are vector-Jacobian products through functional steps (not one
        ``loss.backward()``), so they are taken here and applied in ``apply_gradients``.
        Without a phase (a direct call) it only returns the losses at the current parameters.
        """
        mods, order = self._modules()
        data, E, T = to_grid(batch, order)
        n_eps = max(self._global_count(E), 1.0)
        phase = getattr(self, "_lio_phase", None)
        losses: Dict[Any, torch.Tensor] = {}
        if phase is None:
            _, paid = self._incentives(mods, order, data)
            received = self._received(mods, order, paid)
            theta = {j: {k: p for k, p in mods[j].named_parameters() if k in set(mods[j].policy_param_names())}
                     for j in order}
            return {j: self._inner_loss(mods[j], theta[j], data[j], received[j], n_eps, self.config.gamma,
                                        self.config.entropy_coeff) for j in order}
        if phase == "outer":
            if self._kept is not None and any(m.gives_incentives for m in mods.values()):
                self._outer(mods, order, data, n_eps)
        else:
            losses = self._inner(mods, order, data, n_eps)
        return losses or {mid: torch.zeros((), device=self._device) for mid in order}

    @override(TorchLearner)
    def compute_gradients(self, loss_per_module, **kwargs):
        # Taken by hand (and all-reduced) in compute_losses; see there.
        return {}

    @override(TorchLearner)
    def apply_gradients(self, gradients_dict) -> None:
        """Commits the phase: ``theta <- theta_hat`` and the critics' steps (inner), or every
        giver's incentive (and cost) Adam step (outer; all gradients were taken at the same
        parameters). Then the exploration floor decays once per iteration."""
        for step in self._pending:
            step()
        self._pending = []
        if self._lio_decay:
            self._decay_epsilon(self._modules()[0])

    @override(TorchLearner)
    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        self._lio_phase = None

    def _inner(self, mods, order, data, n_eps):
        theta = {
            j: {k: p.detach().clone().requires_grad_(True) for k, p in mods[j].named_parameters()
                if k in set(mods[j].policy_param_names())}
            for j in order
        }
        theta_hat, losses, _, paid, received = self._recipient_steps(
            mods, order, data, n_eps, theta, create_graph=True
        )
        committed = {j: {k: v.detach().clone() for k, v in theta_hat[j].items()} for j in order}
        self._pending += [lambda j=j: assign_(mods[j], committed[j]) for j in order]  # theta <- theta_hat
        if self._recipient_models is not None:  # LIO-dec: the givers' estimates, fit on tau
            theta = self._estimated_policies(order, data)
        self._kept = {
            "theta": {j: {k: v.detach() for k, v in theta[j].items()} for j in order},
            "committed": committed,
            "data": data,
            "n_eps": n_eps,
            "epsilon": {j: mods[j].epsilon.detach().clone() for j in order},
        }
        self._fit_critics(mods, order, data, received)
        self._log_incentives(mods, order, data, paid, received)
        return {j: l.detach() for j, l in losses.items()}

    def _estimated_policies(self, order, data) -> Dict:
        """LIO-dec: refit the recipients' policy models on ``data`` (maximum likelihood of their
        observed actions, LIO thesis §5.3.2) and return the estimates as parameter dicts."""
        fit = [(data[j]["obs"].reshape((-1,) + tuple(data[j]["obs"].shape[2:])),
                data[j]["actions"].reshape(-1), data[j]["mask"].reshape(-1)) for j in order]
        nll = self._recipient_models.fit(fit)
        for j, v in zip(order, nll):
            self.metrics.log_value((j, "opponent_model_nll"), v, window=1)
        return {j: {k: p.detach().clone() for k, p in params.items()}
                for j, params in zip(order, self._recipient_models.params)}

    def _outer(self, mods, order, data_hat, n_eps_hat):
        cfg = self.config
        kept = self._kept
        theta = {j: {k: v.clone().requires_grad_(True) for k, v in kept["theta"][j].items()} for j in order}
        # The recipients' step again, now kept in the graph of every eta (eq. 5.3 as a function of eta),
        # with the exploration floor that tau was sampled (and the committed step taken) with.
        current_eps = {j: mods[j].epsilon.detach().clone() for j in order}
        with torch.no_grad():
            for j in order:
                mods[j].epsilon.copy_(kept["epsilon"][j])
        try:
            theta_hat, _, pre, _, _ = self._recipient_steps(
                mods, order, kept["data"], kept["n_eps"], theta, create_graph=True
            )
        finally:
            with torch.no_grad():
                for j in order:
                    mods[j].epsilon.copy_(current_eps[j])
        mismatch = max(
            (theta_hat[j][k] - kept["committed"][j][k]).abs().max().item()
            for j in order for k in theta_hat[j]
        )
        self.metrics.log_value("theta_hat_mismatch", mismatch, window=1)
        T = kept["data"][order[0]]["mask"].shape[1]
        disc = discounts(T, cfg.gamma)
        steps = []  # every giver's gradients first, then the steps: all at the same parameters
        for i in order:
            mod_i = mods[i]
            if not mod_i.gives_incentives:
                continue
            d_i = data_hat[i]
            if mod_i.use_critic:  # giver's one-step extrinsic TD error on tau_hat (the authors' code, lio_ac.py)
                # giver_critic="total" (the authors' code): the critic fit to extrinsic + received rewards;
                # "extrinsic": the critic fit to the extrinsic reward alone (see LIOConfig)
                value = mod_i.extrinsic_value if mod_i.extrinsic_critic else mod_i.value
                with torch.no_grad():
                    weight = d_i["rewards"] + cfg.gamma * value(d_i["next_obs"]) * (1.0 - d_i["terminal"]) - value(d_i["obs"])
                self.metrics.log_value((i, "giver_td_mean"), float((weight * d_i["mask"]).sum() / d_i["mask"].sum().clamp(min=1.0)), window=1)
            else:  # giver's extrinsic return on tau_hat (eq. 5.10)
                weight = discounted_returns(d_i["rewards"], cfg.gamma, d_i["mask"])
            outer = 0.0
            recipients = [j for j in order if j != i]
            for j in recipients:  # eq. 5.10: -sum_{j != i} sum_t log pi_{theta_hat^j}(a_hat^j | o_hat^j) G_hat^i_t
                d_j = data_hat[j]
                logp = action_logp(call_with(mods[j], theta_hat[j], d_j["obs"], method="policy_logp"),
                                   d_j["actions"])
                outer = outer + pg_loss(logp, weight, d_j["mask"], n_eps_hat)
            targets = self._meta_targets(i)
            meta = meta_gradient({j: theta_hat[j] for j in recipients}, targets, outer_loss=outer)  # eqs 5.7-5.10
            eta = {k: p for k, p in targets.items() if k[0] == i}  # giver i's own head
            # eq. 5.6: L(eta^i, tau) = sum_t gamma^t ||r_eta^i(o_t, a^{-i}_t)||_1 on the FIRST trajectory
            # (the authors' code, on the sigmoid outputs before R_max unless cost_on_scaled_incentives).
            out = mod_i.squash(pre[i]) * (mod_i.r_max if cfg.cost_on_scaled_incentives else 1.0)
            if cfg.preactivation_bound is not None:  # not in the thesis: keep the nodes alive
                out = out + saturation_penalty(pre[i], cfg.preactivation_bound) * mod_i.self_mask
            mask = kept["data"][i]["mask"]
            cost = (mask * disc * out.sum(-1)).sum() / kept["n_eps"]
            cost_grad = gradient(cost_coeff_scale(cfg) * cost, eta)
            if cfg.separate_cost_optimizer:
                steps += [(i, "incentive", targets, meta), (i, "cost", targets, cost_grad)]
            else:  # eq. 5.5: meta-gradient + cost gradient in one Adam step
                steps.append((i, "incentive", targets, {k: g + cost_grad[k] if k in cost_grad else g
                                                         for k, g in meta.items()}))
            own = {k: g for k, g in meta.items() if k[0] == i}
            self.metrics.log_value((i, "meta_grad_norm"), grad_norm(own), window=1)
            if len(meta) > len(own):  # meta_gradient_scope="all_givers": what i's step sends to other heads
                self.metrics.log_value((i, "meta_grad_norm_other_heads"), grad_norm({k: g for k, g in meta.items()
                                                                                  if k[0] != i}), window=1)
            self.metrics.log_value((i, "cost_grad_norm"), grad_norm(cost_grad), window=1)
            self.metrics.log_value((i, "incentive_loss"), float(outer.item()), window=1)
            self.metrics.log_value((i, "incentive_cost"), float(cost.item()), window=1)
        self._pending += [lambda s=s: self._step(*s) for s in steps]
        self._kept = None

    def _fit_critics(self, mods, order, data, received):
        for j in order:
            mod = mods[j]
            if not mod.use_critic:
                continue
            d = data[j]
            reward = d["rewards"] if received[j] is None else d["rewards"] + received[j].detach()
            loss = self._fit_critic(j, d, reward, "critic", mod.critic_param_names(), mod.value,
                                    mod.target_value, (mod.vf_enc, mod.vf_net), mod.vf_target)
            self.metrics.log_value((j, "critic_loss"), loss, window=1)
            if mod.extrinsic_critic:  # giver_critic="extrinsic": the same fit on the extrinsic reward alone
                loss = self._fit_critic(j, d, d["rewards"], "extrinsic_critic", mod.extrinsic_critic_param_names(),
                                        mod.extrinsic_value, mod.extrinsic_target_value,
                                        (mod.ext_vf_enc, mod.ext_vf_net), mod.ext_vf_target)
                self.metrics.log_value((j, "extrinsic_critic_loss"), loss, window=1)

    def _fit_critic(self, j, d, reward, opt_name, names, value, target_value, main_nets, target_nets) -> float:
        """Eq. B.10 on ``reward``: queues one Adam step and the soft target update; returns the loss."""
        cfg = self.config
        mod = self.module[j].unwrapped()
        with torch.no_grad():
            target = reward + cfg.gamma * target_value(d["next_obs"]) * (1.0 - d["terminal"])
        n_steps = max(self._global_count(d["mask"].sum().item()), 1.0)
        loss = (d["mask"] * (target - value(d["obs"])) ** 2).sum() / n_steps  # eq. B.10
        crit = {k: p for k, p in mod.named_parameters() if k in set(names)}
        grads = gradient(loss, crit)

        def step():
            self._step(j, opt_name, crit, grads)
            with torch.no_grad():  # tilde-phi <- tau phi + (1 - tau) tilde-phi
                main = [p for net in main_nets for p in net.parameters()]
                for p, tp in zip(main, target_nets.parameters()):
                    tp.mul_(1.0 - cfg.target_update_tau).add_(cfg.target_update_tau * p)

        self._pending.append(step)
        return float(loss.item())

    def _decay_epsilon(self, mods):
        cfg = self.config
        step = (cfg.epsilon_start - cfg.epsilon_end) / max(cfg.epsilon_div, 1)
        for mod in mods.values():
            with torch.no_grad():
                mod.epsilon.copy_(torch.clamp(mod.epsilon - step, min=cfg.epsilon_end))
            self.metrics.log_value("epsilon", float(mod.epsilon.item()), window=1)

    @torch.no_grad()
    def _log_incentives(self, mods, order, data, paid, received):
        """Per-episode incentives given / received, also per recipient action type."""
        E = max(data[order[0]]["mask"].shape[0], 1)
        types = self._action_types()
        given_by_type: Dict[Any, Dict[str, float]] = {i: {} for i in paid}
        for j in order:
            mask = data[j]["mask"]
            if j in paid:
                self.metrics.log_value((j, "incentives_given"), float((paid[j].sum(-1) * mask).sum() / E), window=1)
            if received[j] is None:
                continue
            rec = received[j] * mask
            self.metrics.log_value((j, "incentives_received"), float(rec.sum() / E), window=1)
            atype = data[j]["action_type"]
            for t_idx, name in enumerate(types):
                sel = (atype == t_idx).float()
                self.metrics.log_value((j, f"incentives_received_{name}"), float((rec * sel).sum() / E), window=1)
                for i in paid:  # what giver i paid recipient j for action type `name`
                    if i != j:
                        given = (paid[i][..., mods[j].agent_index] * mask * sel).sum() / E
                        given_by_type[i][name] = given_by_type[i].get(name, 0.0) + float(given)
        for i, per_type in given_by_type.items():
            for name, value in per_type.items():
                self.metrics.log_value((i, f"incentives_given_{name}"), value, window=1)

    def _action_types(self) -> List[str]:
        from rllib_coopai.algorithms.lio.connectors import LIOEpisodesToBatch

        pipe = self._learner_connector
        for piece in getattr(pipe, "connectors", []) if pipe is not None else []:
            if isinstance(piece, LIOEpisodesToBatch):
                return list(piece.action_types)
        return []


def _to_numpy(x):
    """Nested dicts of tensors -> nested dicts of numpy arrays (for checkpoints)."""
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _to_torch(x, device):
    if isinstance(x, dict):
        return {k: _to_torch(v, device) for k, v in x.items()}
    return torch.as_tensor(x, device=device) if hasattr(x, "dtype") else x


def cost_coeff_scale(cfg) -> float:
    return float(cfg.cost_coeff)
