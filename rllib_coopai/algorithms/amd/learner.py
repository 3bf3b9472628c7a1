"""AMD learner: a planner that looks ahead one step of the learners' gradient ascent.

AMD thesis §4.1-4.2, eqs. 4.1-4.7. The planner's objective is the welfare after the learners' update,
``V(theta + dtheta)``; to first order (eq 4.3) its gradient is
``sum_i eta_i (grad_p grad_i V_i^p)^T grad_i V``. We maximise the autodiff surrogate of eq. 4.3

    J(theta_p) = sum_i eta_i * < grad_i V_i^p(theta; theta_p), stopgrad(grad_i V(theta)) >  - cost

with the learners' ``theta`` held constant inside the planner's step (detached leaf copies).

``gradient="exact"`` (one-shot matrix games): every value is an exact expectation over the joint
action distribution ``P(a) = prod_i pi_i(a_i)`` (closed forms, for any N players / action
counts, computed by autograd instead of written out); the planner's payment table ``r^p(a)`` is
the planner module evaluated on the designer observation of every joint action. The learners
ascend ``V_i + V_i^p`` exactly (eq 4.1). Nothing here uses the sampled batch except the
``l2_realized`` cost, which in exact mode uses its expectation ``E_a ||r^p(a)||``.
``gradient="pg"`` (any env): score-function estimates from the sampled batch (eqs 4.4-4.5):
``grad_i V_i^p ~ E[sum_t grad log pi_i(a_t) G^p_{i,t}]`` (differentiable in the planner through
``G^p``), ``grad_i V ~ E[sum_t grad log pi_i(a_t) (G^W_t - b)]``; learners do a REINFORCE step on
``r_i + r^p_i`` with a mean baseline.

``learner_rule="actor_critic"`` (one-shot matrix games; the stochastic players of the AMD thesis's
Tables 4.2/4.3 and Algorithm 1, as in the authors' code): each step plays one round ``a ~ pi(theta)``
(seeded torch Generator, saved in the Learner state); each player's critic descends
``delta_i^2`` and its actor ascends ``log pi_i(a_i) * delta_i`` with
``delta_i = r_i(a) + r^p_i(a) + gamma_ac * v_i - v_i`` (eq. 4.1 estimated by an actor-critic step);
the planner ascends eq. 4.3 with exact values ("exact V", ``gradient="exact"``) or eq. 4.5 from
the one round ("estimated V", ``gradient="pg"``):
``J = sum_i eta_i <grad_i log pi_i(a_i) r^p_i(a), grad_i log pi_i(a_i) (W(a) - b)>``.

``opponent_model=True`` (eq 4.6): ``theta`` in the planner's surrogate is replaced by the
planner's maximum-likelihood estimate ``theta_hat`` from the observed actions
(``opponent_model.TabularMLE`` / ``FittedPolicy``); the learners' own updates are unchanged.

Cost (eq 4.7; the authors' code uses an un-squared norm): ``cost_form="squared_expected"``:
``alpha * sum_i (V_i^p)^2``;
``"l2_realized"``: ``alpha * ||r^p(a)||_2`` of realised transfers (reference code).
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from functools import partial

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from rllib_coopai.core.opponent_model import FittedPolicy, TabularMLE
from rllib_coopai.core.differentiable import call_with, gradient, leaf_copy, named_params
from rllib_coopai.core.distributed import all_reduce_
from rllib_coopai.core.episodes import to_et
from rllib_coopai.core.learner import CrossAgentTorchLearner
from rllib_coopai.core.losses import action_logp, categorical_entropy, pg_loss
from rllib_coopai.core.returns import discounted_returns
from rllib_coopai.modules.designer_module import mlp
from rllib_coopai.wrappers.designer import DESIGNER_ID, payments


def joint_probs(probs: List[torch.Tensor]) -> torch.Tensor:
    """``P[a_1, ..., a_N] = prod_i probs[i][a_i]`` (outer product over agents)."""
    P = probs[0]
    for p in probs[1:]:
        P = P.unsqueeze(-1) * p
    return P


def exact_values(probs: List[torch.Tensor], table: torch.Tensor) -> torch.Tensor:
    """``V_f,i = sum_a P(a) f(a)_i`` for a per-outcome table ``[A_1, ..., A_N, N]`` -> ``[N]``."""
    P = joint_probs(probs)
    return (P.unsqueeze(-1) * table).reshape(-1, table.shape[-1]).sum(0)


def estimated_value_gradients(glogp, rp, welfare, baseline):
    """The one-round score-function estimates of eqs. 4.4-4.5 for every player ``i``:
    ``grad_i V_i^p ~ g_i r^p_i(a)`` (differentiable in the planner through ``rp``) and
    ``grad_i V ~ g_i (W(a) - b)`` (a constant), ``g_i = grad_{theta_i} log pi_i(a_i)``. Each is
    unbiased; their product (one round for both factors, as the authors' code) is not."""
    g_vp = [[g * rp[i] for g in gi] for i, gi in enumerate(glogp)]
    g_v = [[g * (welfare - baseline) for g in gi] for gi in glogp]
    return g_vp, g_v


def estimated_planner_objective(
    glogp: List[List[torch.Tensor]],
    rp: torch.Tensor,
    welfare: torch.Tensor,
    baseline: float,
    lrs: List[float],
    alpha: float,
    cost_form: str = "squared_expected",
) -> torch.Tensor:
    """Eq. 4.5 surrogate ``J`` from ONE sampled round ("estimated V", AMD thesis Table 4.3).

    ``glogp[i]``: ``grad_{theta_i} log pi_i(a_i)`` (tensors, constants); ``rp``: ``[N]`` the round's
    payments ``r^p(a)`` (differentiable in the planner); ``welfare``: ``sum_j r_j(a)`` (original
    rewards); ``baseline``: the constant ``b``. With ``g_i = grad_i log pi_i(a_i)``:
    ``grad_i V_i^p ~ g_i r^p_i(a)`` and ``grad_i V ~ g_i (W(a) - b)`` (eqs. 4.4-4.5), so
    ``J = sum_i eta_i ||g_i||^2 r^p_i(a) (W(a) - b) - cost``. The one-round product is a biased
    estimate of eq. 4.3's ``sum_i eta_i <grad_i V_i^p, grad_i V>`` (E[XY] != E[X] E[Y]).
    """
    g_vp, g_v = estimated_value_gradients(glogp, rp, welfare, baseline)
    J = 0.0
    for i in range(len(glogp)):
        J = J + lrs[i] * sum((a * b).sum() for a, b in zip(g_vp[i], g_v[i]))    # eq. 4.5
    if cost_form == "squared_expected":
        J = J - alpha * (rp ** 2).sum()       # eq. 4.7 with the one-round estimate V^p ~ r^p(a)
    else:
        J = J - alpha * rp.norm()             # the authors' code: alpha ||r^p(a)||_2
    return J


def exact_planner_objective(
    params: List[Dict[str, torch.Tensor]],
    probs_fn,
    payoffs: torch.Tensor,
    rp: torch.Tensor,
    lrs: List[float],
    alpha: float,
    cost_form: str = "squared_expected",
) -> torch.Tensor:
    """Eq. 4.3 surrogate ``J`` for tabular learners (``params[i]``: leaf tensors of learner i).

    ``probs_fn(i, params_i) -> [A_i]``; ``payoffs``, ``rp``: ``[A_1, ..., A_N, N]``.
    Differentiable in ``rp`` (and whatever produced it), not in ``params``' sources.
    """
    n = len(params)
    probs = [probs_fn(i, params[i]) for i in range(n)]
    Vp = exact_values(probs, rp)                       # V_i^p
    W = exact_values(probs, payoffs).sum()             # V = sum_i V_i (welfare, original rewards)
    J = 0.0
    for i in range(n):
        ps = list(params[i].values())
        g_vp = torch.autograd.grad(Vp[i], ps, create_graph=True, allow_unused=True)  # grad_i V_i^p
        g_v = torch.autograd.grad(W, ps, retain_graph=True, allow_unused=True)       # grad_i V
        for a, b in zip(g_vp, g_v):
            if a is not None and b is not None:
                J = J + lrs[i] * (a * b.detach()).sum()        # eq 4.3
    if cost_form == "squared_expected":
        J = J - alpha * (Vp ** 2).sum()                        # eq 4.7
    else:
        P = joint_probs(probs).reshape(-1)
        J = J - alpha * (P * rp.reshape(-1, rp.shape[-1]).norm(dim=-1)).sum()  # the code's l2 cost, in expectation
    return J


class AMDLearner(CrossAgentTorchLearner):
    """TorchLearner of ``AMD``: learners ascend ``V_i + V_i^p``, the planner ascends ``J``."""

    def build(self) -> None:
        cfg = self.config
        self._agents = [a for a in cfg._amd_agents]
        if cfg.gradient == "exact" or cfg.actor_critic:
            self._payoffs = torch.tensor(np.asarray(cfg._amd_payoffs), dtype=torch.float32)
            self._obs0 = {a: torch.tensor(np.asarray(o), dtype=torch.float32)[None]
                          for a, o in cfg._amd_obs0.items()}
            shape = self._payoffs.shape[:-1]
            joint = np.array(list(np.ndindex(*shape)), np.int64)
            self._joint = torch.tensor(joint)
            sizes = list(shape)
            onehots = []
            for row in joint:
                parts = [np.eye(n, dtype=np.float32)[k] for k, n in zip(row, sizes)]
                onehots.append(np.concatenate([np.asarray(cfg._amd_state0, np.float32)] + parts))
            self._dobs_all = torch.tensor(np.stack(onehots))
        if cfg.actor_critic:
            self._build_actor_critic()       # before super().build(): it registers the critics' optimizers
        super().build()
        if cfg.actor_critic and not list(cfg.learner_hidden):
            # AMD thesis §4.2 / the authors' Simple_Agent: ONE scalar theta per player, P(C) =
            # sigmoid(theta). The tabular module's logit is w . o + b with a constant one-hot o, so
            # w would be a second copy of theta (twice the step); only b (= theta) is trained.
            for a in self._agents:
                self.module[a].net[-1].weight.requires_grad_(False)
        self._planner_on = True
        self._om = None
        if cfg.opponent_model:
            modules = [self.module[a] for a in self._agents]
            seed = 0 if cfg.seed is None else int(cfg.seed)
            if cfg.gradient == "exact":
                self._om = TabularMLE(modules, [int(m.n_actions) for m in modules], cfg.om_decay,
                                      cfg.om_prior, seed)
            else:
                self._om = FittedPolicy(modules, cfg.om_window, cfg.om_fit_steps, cfg.om_lr, seed,
                                        allreduce=partial(all_reduce_, mean=True))

    # ------------------------------------------------------------------- actor-critic players
    def _build_actor_critic(self) -> None:
        """Critics (one per player, kept by the Learner: not part of the players' RLModules) and
        the round sampler. Centralized critic, as the authors' code: ``v_i(o_i, pi_1..pi_N)``."""
        cfg = self.config
        seed = 0 if cfg.seed is None else int(cfg.seed)
        self._ac_gen = torch.Generator().manual_seed(seed + 104729)
        torch_state = torch.get_rng_state()
        torch.manual_seed(seed + 7)                        # critic init, independent of the run
        self._critics = {}
        n_act = sum(int(n) for n in self._payoffs.shape[:-1])
        for a in self._agents:
            if cfg.ac_critic == "centralized":
                net = mlp(self._obs0[a].shape[-1] + n_act, list(cfg.ac_critic_hidden), 1, "relu")
                with torch.no_grad():
                    for layer in net:
                        if isinstance(layer, torch.nn.Linear):   # the code: N(0, 0.1) weights, 0.1 biases
                            layer.weight.normal_(0.0, 0.1)
                            layer.bias.fill_(0.1)
            else:
                net = _ScalarCritic()
            self._critics[a] = net
        torch.set_rng_state(torch_state)
        self._ac_aar = []

    @override(CrossAgentTorchLearner)
    def nonfinite_guarded_modules(self):
        """The actor-critic players' critics: checked and, with ``skip_nonfinite_updates``,
        put back with the players' modules on a skipped update."""
        return {f"critic_{a}": c for a, c in (getattr(self, "_critics", None) or {}).items()}

    def _critic_value(self, i: int, probs: List[torch.Tensor]) -> torch.Tensor:
        aid = self._agents[i]
        if self.config.ac_critic == "scalar":
            return self._critics[aid]()
        x = torch.cat([self._obs0[aid][0]] + [p.detach() for p in probs])
        return self._critics[aid](x)[0]

    def _sample_round(self, probs: List[torch.Tensor]) -> tuple:
        """One joint action ``a ~ prod_i pi_i`` from the Learner's own seeded generator."""
        return tuple(int(torch.multinomial(p.detach(), 1, generator=self._ac_gen)) for p in probs)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        params = self.get_parameters(module)
        if module_id == DESIGNER_ID:
            kind, lr = self.config.planner_optimizer, self.config.planner_lr
        else:
            kind, lr = self.config.learner_optimizer, self.config.learner_lr
        # AMD thesis §4.2 step size, Adam as in the authors' code: Adam lr 0.01, betas (0.9, 0.999), eps 1e-8.
        opt = torch.optim.Adam(params, lr=lr) if kind == "adam" else torch.optim.SGD(params, lr=lr)
        self.register_optimizer(module_id=module_id, optimizer=opt, params=params,
                                lr_or_lr_schedule=lr)
        critics = getattr(self, "_critics", None)
        if critics and module_id in critics:   # actor-critic players: the critic's own Adam (the code's)
            c_params = list(critics[module_id].parameters())
            self.register_optimizer(module_id=module_id, optimizer_name="critic",
                                    optimizer=torch.optim.Adam(c_params, lr=self.config.ac_critic_lr),
                                    params=c_params, lr_or_lr_schedule=self.config.ac_critic_lr)

    def set_planner_enabled(self, enabled: bool) -> None:
        """Turn the planner's payments on/off (AMD thesis §4.3, "turning the planner off")."""
        self._planner_on = bool(enabled)
        with torch.no_grad():
            self.module[DESIGNER_ID].payment_scale.fill_(1.0 if enabled else 0.0)

    # ------------------------------------------------------------------------------------
    def _probs(self, i: int, params) -> torch.Tensor:
        aid = self._agents[i]
        logits = call_with(self.module[aid], params, self._obs0[aid], method="logits")
        return torch.softmax(logits, -1)[0]

    def _rp_table(self, d_params=None) -> torch.Tensor:
        planner = self.module[DESIGNER_ID]
        d_params = named_params(planner) if d_params is None else d_params
        u = call_with(planner, d_params, self._dobs_all, method="incentives")
        rp = payments(u, self._joint, "per_agent", self.config.constraint == "revenue_neutral")
        return rp.reshape(*self._payoffs.shape)

    @override(TorchLearner)
    def before_gradient_based_update(self, *, timesteps) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        self._steps_in_update = 0
        self._ac_aar = []

    def _exact_losses(self, log: bool = True):
        cfg = self.config
        n = len(self._agents)
        own = [named_params(self.module[a]) for a in self._agents]
        rp = self._rp_table()
        # Learners (eq 4.1): ascend V_i + V_i^p, planner payments held fixed.
        probs = [self._probs(i, own[i]) for i in range(n)]
        total = self._payoffs + rp.detach()
        losses = {}
        for i, a in enumerate(self._agents):
            # Learner i differentiates its own value w.r.t. its own theta only (eq 4.1):
            # the other players' policies are constants in its loss.
            mine = [p if j == i else p.detach() for j, p in enumerate(probs)]
            losses[a] = -exact_values(mine, total)[i]
        if self._planner_on:
            if self._om is not None:  # eq 4.6: one round played, theta_hat from the actions seen
                self._om.play_and_observe(probs)
                own = self._om.params()
            leaf = [leaf_copy(p) for p in own]
            J = exact_planner_objective(leaf, self._probs, self._payoffs, rp,
                                        [cfg.learner_lr] * n, cfg.cost_weight, cfg.cost_form)
            losses[DESIGNER_ID] = -J
        if log:
            self._log_exact(probs, rp)
        return losses

    def _ac_losses(self, log: bool = True):
        """One synchronous step with actor-critic players (``learner_rule="actor_critic"``):
        one round played, each player's actor-critic step, the planner's eq. 4.3 / 4.5 step."""
        cfg = self.config
        n = len(self._agents)
        own = [named_params(self.module[a]) for a in self._agents]
        rp = self._rp_table()                               # r^p(a) for every joint action a
        logp_all = [torch.log_softmax(call_with(self.module[a], own[i], self._obs0[a],
                                                method="logits"), -1)[0]
                    for i, a in enumerate(self._agents)]
        probs = [lp.exp() for lp in logp_all]
        act = self._sample_round(probs)                     # AMD thesis Algorithm 1: a_i ~ pi_i
        self._last_round = act
        r = self._payoffs[act]                              # r_i(a), [N]
        rp_a = rp[act]                                      # r^p_i(a), [N]
        total = r + rp_a.detach()
        losses = {}
        one = torch.ones(())
        for i, aid in enumerate(self._agents):
            v = self._critic_value(i, probs)
            delta = total[i] + cfg.ac_gamma * v.detach() - v      # TD error on r_i + r^p_i
            actor = pg_loss(logp_all[i][act[i]], delta.detach(), one, 1.0,   # eq. 4.1 as an
                            categorical_entropy(logp_all[i]), cfg.ac_entropy_coeff)  # actor-critic step
            losses[aid] = actor + delta.pow(2)              # + the critic's squared TD error
        if self._planner_on:
            lrs = [cfg.learner_lr] * n
            if cfg.gradient == "exact" and cfg.exact_v_form == "linearized":
                J = self._linearized_objective(own, act, rp)   # the authors' code's "exact V"
            elif cfg.gradient == "exact":                   # "exact V": eq. 4.3 at the current theta
                leaf = [leaf_copy(p) for p in own]
                J = exact_planner_objective(leaf, self._probs, self._payoffs, rp, lrs,
                                            cfg.cost_weight, cfg.cost_form)
            else:                                           # "estimated V": eq. 4.5, this round
                glogp = []
                for i, aid in enumerate(self._agents):
                    leaf = leaf_copy(own[i])
                    lp = torch.log_softmax(call_with(self.module[aid], leaf, self._obs0[aid],
                                                     method="logits"), -1)[0, act[i]]
                    glogp.append(list(gradient(lp, leaf, reduce=None).values()))
                J = estimated_planner_objective(glogp, rp_a, r.sum(), cfg._amd_baseline, lrs,
                                                cfg.cost_weight, cfg.cost_form)
            losses[DESIGNER_ID] = -J
        self._ac_aar.append(float(rp_a.detach().abs().sum()))
        if log:
            self._log_exact(probs, rp)
            self.metrics.log_value(("actor_critic", "aar"), float(np.mean(self._ac_aar)), window=1)
            self._ac_aar = []
            with torch.no_grad():
                for i, aid in enumerate(self._agents):
                    self.metrics.log_value(("actor_critic", f"value_{aid}"),
                                           float(self._critic_value(i, probs)), window=1)
        return losses

    def _linearized_objective(self, own, act, rp) -> torch.Tensor:
        """``exact_v_form="linearized"``: eq. 4.3 as the authors' code computes it,
        ``J = sum_i eta_i (dP_i(C)/dtheta_i * d r~^p_i/d a_i)^T grad_i V - cost``, the derivative of
        the planner's raw output ``r~^p_i`` (before any revenue-neutral subtraction) along player
        i's C-minus-D input direction, at the round ``act`` played; ``grad_i V`` exact."""
        cfg = self.config
        n = len(self._agents)
        sizes = [int(k) for k in self._payoffs.shape[:-1]]
        row = self._dobs_all[int(np.ravel_multi_index(act, sizes))].clone().requires_grad_(True)
        planner = self.module[DESIGNER_ID]
        u = call_with(planner, named_params(planner), row[None], method="incentives")[0]
        leaf = [leaf_copy(p) for p in own]
        probs = [self._probs(i, leaf[i]) for i in range(n)]
        W = exact_values(probs, self._payoffs).sum()                       # V (original rewards)
        off = row.shape[0] - sum(sizes)
        J = 0.0
        for i in range(n):
            c = cfg._amd_coop[i]
            du = torch.autograd.grad(u[i], row, create_graph=True)[0]
            dr_da = du[off + c] - du[off + 1 - c]                           # d r~^p_i / d a_i
            ps = list(leaf[i].values())
            g_p = torch.autograd.grad(probs[i][c], ps, retain_graph=True, allow_unused=True)
            g_v = torch.autograd.grad(W, ps, retain_graph=True, allow_unused=True)
            off += sizes[i]
            for a, b in zip(g_p, g_v):
                if a is not None and b is not None:
                    J = J + cfg.learner_lr * dr_da * (a * b).sum()          # eq. 4.3, linearised
        if cfg.cost_form == "squared_expected":
            Vp = exact_values([p.detach() for p in probs], rp)
            J = J - cfg.cost_weight * (Vp ** 2).sum()                      # eq. 4.7
        else:
            J = J - cfg.cost_weight * rp[act].norm()                        # the code: alpha ||r^p(a)||
        return J

    def _log_exact(self, probs, rp) -> None:
        """``learners/exact/...``: P(C) per player, P(all C), expected payments, welfare and AAR
        of the current policies (exact expectations, whichever rule the players learn by)."""
        cfg = self.config
        n = len(self._agents)
        with torch.no_grad():
            P = [p.detach() for p in probs]
            Vp = exact_values(P, rp.detach())
            W = exact_values(P, self._payoffs).sum()
            aar = (joint_probs(P).unsqueeze(-1) * rp.detach().abs()).reshape(-1, n).sum()
            for i, a in enumerate(self._agents):
                c = cfg._amd_coop[i] if cfg._amd_coop else 0
                self.metrics.log_value(("exact", f"p_cooperate_{a}"), P[i][c].item(), window=1)
                self.metrics.log_value(("exact", f"expected_payment_{a}"), Vp[i].item(), window=1)
            if cfg._amd_coop:
                pcc = float(np.prod([P[i][c].item() for i, c in enumerate(cfg._amd_coop)]))
                self.metrics.log_value(("exact", "p_all_cooperate"), pcc, window=1)
            self.metrics.log_value(("exact", "welfare"), W.item(), window=1)
            if self._om is not None:
                for a, p in zip(self._agents, self._om.probs()):
                    self.metrics.log_value(("opponent_model", f"p_hat_{a}"), float(p[0]),
                                           window=1)
            self.metrics.log_value(("exact", "aar"), aar.item(), window=1)

    def _pg_losses(self, batch):
        cfg = self.config
        n = len(self._agents)
        d = batch[DESIGNER_ID]
        planner = self.module[DESIGNER_ID]
        u = call_with(planner, named_params(planner), d["obs"], method="incentives")
        rp = payments(u, d["joint_actions"], "per_agent", cfg.constraint == "revenue_neutral")
        rp = rp * d["mask"][:, None]
        n_ep = to_et(d["mask"], d["t"]).shape[0]

        def ret(x):
            return discounted_returns(to_et(x, d["t"]), cfg.gamma).reshape(-1)

        env_r = torch.stack([batch[a]["env_rewards"] for a in self._agents], -1)
        G_w = ret(env_r.sum(-1) * d["mask"])
        G_w = G_w - (G_w * d["mask"]).sum() / d["mask"].sum()   # baseline b (constant, as in the authors' code)
        losses, g_v, g_vp = {}, [], []
        theta_hat = None
        if self._planner_on and self._om is not None:  # eq 4.6 on this batch's observed actions
            nll = self._om.fit([(batch[a]["obs"], batch[a]["actions"], batch[a]["mask"])
                                for a in self._agents])
            theta_hat = self._om.params
            for a, v in zip(self._agents, nll):
                self.metrics.log_value(("opponent_model", f"nll_{a}"), v, window=1)
        for i, aid in enumerate(self._agents):
            b = batch[aid]
            params = named_params(self.module[aid])
            G_i = ret((b["env_rewards"] + rp[:, i].detach()) * b["mask"])
            G_i = G_i - (G_i * b["mask"]).sum() / b["mask"].sum()
            logits = call_with(self.module[aid], params, b["obs"], method="logits")
            logp = action_logp(torch.log_softmax(logits, -1), b["actions"])
            losses[aid] = pg_loss(logp, G_i, b["mask"], n_ep)             # eq 4.4 on r + r^p
            if self._planner_on:
                src = params if theta_hat is None else theta_hat[i]
                leaf = leaf_copy(src)
                lg = call_with(self.module[aid], leaf, b["obs"], method="logits")
                lp = torch.log_softmax(lg, -1).gather(-1, b["actions"].long()[:, None])[:, 0]
                G_p = ret(rp[:, i])
                ps = list(leaf.values())
                gv = torch.autograd.grad((b["mask"] * lp * G_w).sum() / n_ep, ps,
                                         retain_graph=True, allow_unused=True)
                gv = [torch.zeros_like(p) if x is None else x.detach() for x, p in zip(gv, ps)]
                gvp = torch.autograd.grad((b["mask"] * lp * G_p).sum() / n_ep, ps,
                                          create_graph=True, allow_unused=True)
                g_v.append(gv)
                g_vp.append(gvp)
        if self._planner_on:
            all_reduce_([x for gv in g_v for x in gv], mean=True)  # E[.] over all shards (eq 4.5)
            J = 0.0
            for i in range(n):
                for a, b in zip(g_vp[i], g_v[i]):
                    if a is not None:
                        J = J + cfg.learner_lr * (a * b).sum()           # eq 4.5
            if cfg.cost_form == "squared_expected":
                Vp = to_et(ret_all(rp, d["t"], cfg.gamma), d["t"])[:, 0, :].mean(0)  # V_i^p estimate
                J = J - cfg.cost_weight * (Vp ** 2).sum()               # eq 4.7
            else:
                J = J - cfg.cost_weight * rp.norm(dim=-1).sum() / n_ep  # the code's l2 cost
            losses[DESIGNER_ID] = -J
        with torch.no_grad():
            self.metrics.log_value(("sampled", "aar"), (rp.abs().sum() / n_ep).item(), window=1)
        return losses

    @override(TorchLearner)
    def compute_losses(self, *, fwd_out, batch, **kwargs):
        """Exact mode: the batch is not used; the algorithm runs ``updates_per_iteration``
        synchronous exact steps as that many epochs of one Learner update (metrics of the last).
        pg mode: the sampled estimates of eqs 4.4-4.5 on the batch. Actor-critic players: one
        played round per epoch (``updates_per_iteration`` rounds per iteration)."""
        if self.config.actor_critic or self.config.gradient == "exact":
            self._steps_in_update = getattr(self, "_steps_in_update", 0) + 1
            step = self._ac_losses if self.config.actor_critic else self._exact_losses
            return step(log=self._steps_in_update >= self.config.num_updates)
        return self._pg_losses({m: dict(b) for m, b in batch.items()})

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._om is not None and components is None:
            state["opponent_model"] = self._om.get_state()
        if self.config.actor_critic and components is None:   # critics + round sampler
            state["actor_critic"] = {
                "critics": {a: {k: v.detach().clone() for k, v in c.state_dict().items()}
                            for a, c in self._critics.items()},
                "generator": self._ac_gen.get_state()}
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if self._om is not None and "opponent_model" in state:
            self._om.set_state(state["opponent_model"])
        if self.config.actor_critic and "actor_critic" in state:
            with torch.no_grad():
                for a, sd in state["actor_critic"]["critics"].items():
                    self._critics[a].load_state_dict(sd)
            self._ac_gen.set_state(torch.as_tensor(state["actor_critic"]["generator"], dtype=torch.uint8))

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        """Per-module view. AMD's losses are cross-agent, so ``compute_losses`` computes them all;
        in exact mode one module's loss needs no batch and is returned from there."""
        if self.config.actor_critic:
            raise ValueError("AMD(learner_rule='actor_critic') plays one round for all modules "
                             "per step: use compute_losses")
        if self.config.gradient != "exact":
            raise ValueError("AMD(gradient='pg') losses need all agents' batches: use compute_losses")
        return self._exact_losses().get(module_id, torch.zeros(()))



def ret_all(rp: torch.Tensor, t_col: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-agent discounted returns of ``rp`` ``[E*T, N]`` -> ``[E*T, N]``."""
    x = to_et(rp, t_col)                                    # [E, T, N]
    g = discounted_returns(x.transpose(1, 2), gamma)        # [E, N, T]
    return g.transpose(1, 2).reshape(rp.shape)


class _ScalarCritic(torch.nn.Module):
    """``ac_critic="scalar"``: one learned value per player (the one-shot game has one state)."""

    def __init__(self):
        super().__init__()
        self.value = torch.nn.Parameter(torch.zeros(()))

    def forward(self) -> torch.Tensor:
        return self.value
