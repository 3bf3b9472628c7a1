"""DCL's TorchLearner: the cross-agent losses of Lemma 3.1 in ``compute_losses``.

Per agent i (module id = agent id), on the batch of joint time steps built by
``DCLJointColumns``:

    loss_i = L_Q^i                                      critic regression on MC returns (Algorithm 1)
             - [ J_pi + J_psi + J_phi                   eqs. (3), (4), (5) (direct + indirect)
                 + ic_lambda * J_IC                     eq. (7), 0 = DCL, 1 = DCL-IC
                 + entropy_coeff * (H_phi + H_psi + H_pi) ]

``mode="centralized"`` (Algorithm 2): agent i differentiates through the *actual* commitment
policies and critics of the other agents (their parameters detached, so only agent i's own
parameters move). ``mode="decentralized"`` (Algorithm 3): module i holds estimates of every other
agent b and runs b's DCL update on those estimates ("simulated DCL learning", Algorithm 3); agent i's own
update differentiates through its estimates only. The counterfactual independent actions of the
others are taken from the shared data (Algorithm 3 leaves this open).

Policy and critic parameters have separate Adam optimizers ("policy" at ``lr``, "critic" at
``critic_lr``). With ``critic_first=True`` (default) each update first fits the critics (one
step on L_Q) and then computes the policy terms with the *updated* critics Q_{w_{k+1}}, as
DCL paper Algorithms 1-2 (and the authors' code) do; ``critic_first=False`` takes one joint step
with the critics of before the update. Gumbel temperature and entropy coefficient decay linearly
per training iteration (DCL paper Tables 5-7): ``max(min, start - decay * iteration)``; with
``entropy_schedule="agent_update"`` the entropy coefficient decays once per agent update instead
(the authors' code: agent i of N at iteration k uses ``start - decay * (N * k + i)``).

``agent_updates="sequential"`` (the authors' code, trainer/base_trainer.py ``_update_agents``)
updates the agents one after the other in agent order: agent k's critic step, then a fresh
forward pass and agent k's policy step, whose loss reads agents 0..k-1's networks as already
updated this iteration and agents k+1..N-1's as before it. ``"joint"`` (default) builds all
agents' losses from one forward pass and takes one step.
"""
from __future__ import annotations

import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from rllib_coopai.algorithms.dcl.losses import dcl_agent_objective, dcl_agent_terms
from rllib_coopai.core.nonfinite import FiniteUpdateLearnerMixin
from rllib_coopai.core.differentiable import call_with

ITERATION_KEY = "dcl_training_iteration"


def linear_schedule(start: float, decay: float, minimum: float, iteration: int) -> float:
    return max(float(minimum), float(start) - float(decay) * int(iteration))


class DCLTorchLearner(FiniteUpdateLearnerMixin, TorchLearner):
    def build(self) -> None:
        if getattr(self.config, "torch_threads", None):
            torch.set_num_threads(int(self.config.torch_threads))
        super().build()
        self._dcl_iteration = 0

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self._module[module_id]
        named = list(module.named_parameters())
        critic = [p for n, p in named if ".critic." in n]
        policy = [p for n, p in named if ".critic." not in n]
        self.register_optimizer(module_id=module_id, optimizer_name="policy",
                                optimizer=torch.optim.Adam(policy), params=policy,
                                lr_or_lr_schedule=config.lr)
        self.register_optimizer(module_id=module_id, optimizer_name="critic",
                                optimizer=torch.optim.Adam(critic), params=critic,
                                lr_or_lr_schedule=config.critic_lr)

    def before_gradient_based_update(self, *, timesteps) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        self._dcl_iteration = int((timesteps or {}).get(ITERATION_KEY, self._dcl_iteration))

    # ------------------------------------------------------------------------------------
    def _schedules(self):
        cfg = self.config
        tau = linear_schedule(cfg.temperature, cfg.temperature_decay, cfg.min_temperature,
                              self._dcl_iteration)
        ent = linear_schedule(cfg.entropy_coeff, cfg.entropy_decay, cfg.min_entropy_coeff,
                              self._dcl_iteration)
        return tau, ent

    def _entropy_coeff(self, k: int, n: int) -> float:
        """Entropy coefficient of agent ``k`` of ``n`` in the current update."""
        cfg = self.config
        steps = self._dcl_iteration
        if getattr(cfg, "entropy_schedule", "iteration") == "agent_update":
            steps = n * self._dcl_iteration + k
        return linear_schedule(cfg.entropy_coeff, cfg.entropy_decay, cfg.min_entropy_coeff, steps)

    # ----------------------------------------------------------- critic before the actors
    def _critic_losses(self, batch, only=None):
        """L_Q of every learning slot (DCL paper Algorithm 1: MSE of Q(s, e) to the MC return);
        of module ``only`` alone if given."""
        from rllib_coopai.modules.dcl_module import joint_onehot

        losses = {}
        for mid in self.module.keys():
            unit = self.module[mid].unwrapped()
            if not hasattr(unit, "slots") or mid not in batch or (only is not None and mid != only):
                continue
            b = batch[mid]
            obs, e = b["dcl_obs"].float(), b["dcl_joint_e"].long()
            ret = b["dcl_joint_returns"].float()
            e_oh = joint_onehot([e[:, j] for j in range(e.shape[1])], unit.action_sizes)
            slots = unit.slots if self.config.mode == "decentralized" else [unit.agent_index]
            losses[mid] = sum(torch.mean((unit.slot(k).q(unit.split_obs(obs, k), e_oh) - ret[:, k]) ** 2)
                              for k in slots)
        return losses

    def _critic_step(self, batch, only=None) -> None:
        """One step of every critic optimizer (of module ``only`` alone if given) on L_Q alone
        (gradients averaged over Learners, clipped as configured), before the policy terms are
        computed."""
        from ray.rllib.utils.torch_utils import clip_gradients

        from rllib_coopai.core.distributed import all_reduce_

        losses = self._critic_losses(batch, only=only)
        for mid, loss in losses.items():
            opt = self.get_optimizer(mid, "critic")
            params = [p for g in opt.param_groups for p in g["params"]]
            opt.zero_grad(set_to_none=True)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
            all_reduce_(grads, mean=True)
            gd = dict(enumerate(grads))
            clip_gradients(gd, grad_clip=self.config.grad_clip, grad_clip_by=self.config.grad_clip_by)
            for p, g in zip(params, gd.values()):
                p.grad = g
            opt.step()
            opt.zero_grad(set_to_none=True)

    def _uncompiled_update(self, batch, **kwargs):
        if getattr(self.config, "agent_updates", "joint") == "sequential":
            return self._sequential_update(batch, **kwargs)
        self._dcl_critic_done = False
        if getattr(self.config, "critic_first", False):
            self._critic_step(batch)
            self._dcl_critic_done = True
        try:
            return super()._uncompiled_update(batch, **kwargs)
        finally:
            self._dcl_critic_done = False

    def _sequential_update(self, batch, **kwargs):
        """The authors' code's order (trainer/base_trainer.py ``_update_agents``): for each agent
        in turn, its critic step (``critic_first``), then a forward pass of all modules with the
        parameters as they are now and a step of that agent's policies alone."""
        order = [mid for mid in self._agent_order() if mid in batch]
        critic_first = getattr(self.config, "critic_first", False)
        losses, fwd_out = {}, None
        try:
            for mid in order:
                self._dcl_only = mid
                self._dcl_critic_done = False
                if critic_first:
                    self._critic_step(batch, only=mid)
                    self._dcl_critic_done = True
                fwd_out, loss, _ = super()._uncompiled_update(batch, **kwargs)
                losses.update(loss)
        finally:
            self._dcl_only = None
            self._dcl_critic_done = False
        return fwd_out, losses, {}

    def apply_gradients(self, gradients_dict) -> None:
        # Parameters outside this backward pass (the other agents' with sequential updates) get
        # no gradient: their optimizers do not move them.
        gradients_dict = {pid: g for pid, g in gradients_dict.items() if g is not None}
        if getattr(self, "_dcl_critic_done", False):
            # The critics already took this update's step: drop their (zero) gradients so Adam
            # does not move them a second time.
            critic = set()
            for mid in self.module.keys():
                try:
                    opt = self.get_optimizer(mid, "critic")
                except (KeyError, ValueError):
                    continue
                critic |= {id(p) for g in opt.param_groups for p in g["params"]}
            gradients_dict = {pid: g for pid, g in gradients_dict.items()
                              if g is not None and id(self._params[pid]) not in critic}
            for p in self._params.values():
                if id(p) in critic:
                    p.grad = None
        super().apply_gradients(gradients_dict)

    @staticmethod
    def _frozen(nets, s):
        """psi and Q of ``nets`` at observation ``s`` with detached parameters (input-differentiable)."""
        params = {n: p.detach() for n, p in nets.named_parameters()}
        commit = lambda jm: call_with(nets, params, s, jm, method="commit_logits")  # noqa: E731
        q = lambda ja: call_with(nets, params, s, ja, method="q")  # noqa: E731
        return commit, q

    def compute_losses(self, *, fwd_out, batch):
        order = [mid for mid in self._agent_order() if mid in fwd_out]
        only = getattr(self, "_dcl_only", None)  # agent_updates="sequential": one agent's loss
        n = len(order)
        tau, _ = self._schedules()
        lam = float(self.config.ic_lambda)
        decentralized = self.config.mode == "decentralized"
        losses = {}
        units = {mid: self.module[mid].unwrapped() for mid in order}
        sizes = units[order[0]].action_sizes
        for i, mid in enumerate(order):
            if only is not None and mid != only:
                continue
            b = batch[mid]
            obs = b["dcl_obs"].float()
            m, c, a = b["dcl_joint_m"], b["dcl_joint_c"], b["dcl_joint_a"]
            ret = b["dcl_joint_returns"].float()
            out = fwd_out[mid]
            # Whose networks agent k's update differentiates through: actual ones (centralized)
            # or module i's estimates (decentralized).
            if decentralized:
                world = [(units[mid].slot(j), out, j) for j in range(n)]
                learners_of = list(range(n))  # module i runs the DCL update of every slot
            else:
                world = [(units[order[j]].slot(j), fwd_out[order[j]], j) for j in range(n)]
                learners_of = [i]
            frozen = [self._frozen(nets, units[mid].split_obs(obs, j)) for nets, _, j in world]
            commit_fns = [f[0] for f in frozen]
            q_fns = [f[1] for f in frozen]
            total = 0.0
            for k in learners_of:
                prop = [world[j][1][f"prop_logits_{j}"] for j in range(n)]
                terms = dcl_agent_terms(
                    k, sizes=sizes, prop_logits=prop, commit_logits_at_m=out[f"commit_logits_{k}"],
                    act_logits=out[f"act_logits_{k}"], commit_fns=commit_fns, q_fns=q_fns,
                    m=m, c=c, a=a, tau=tau, ic_mode=self.config.ic_mode,
                    entropy_reduction=getattr(self.config, "entropy_reduction", "sum"),
                    action_weight=getattr(self.config, "action_weight", "no_deal"),
                    pathwise=getattr(self.config, "pathwise", "paper"),
                    action_baseline=getattr(self.config, "action_baseline", "none"))
                ent = self._entropy_coeff(k, n)
                objective = dcl_agent_objective(terms, lam, ent)
                critic_loss = torch.mean((out[f"q_e_{k}"] - ret[:, k]) ** 2)  # Algorithm 1: MSE to G^k_t
                if getattr(self, "_dcl_critic_done", False):
                    # Critic already stepped (critic_first): keep it in the graph with weight 0
                    # (DDP expects every parameter to get a gradient), apply_gradients drops it.
                    critic_loss_term = 0.0 * critic_loss
                else:
                    critic_loss_term = critic_loss
                total = total + critic_loss_term - objective
                if k == i:  # detached tensors: the MetricsLogger reduces them on their device
                    # (no per-metric GPU->CPU sync inside the loss)
                    keys = ("J_pi", "J_psi_score", "J_psi_path", "J_phi_score", "J_phi_path",
                            "J_ic", "H_phi", "H_psi", "H_pi", "q_m_mean", "q_a_mean")
                    stats = {key: torch.as_tensor(terms[key]).detach() for key in keys}
                    stats["critic_loss"] = critic_loss.detach()
                    self.metrics.log_dict(stats, key=mid, window=1)
            losses[mid] = total
        self.metrics.log_value("temperature", tau, window=1)
        self.metrics.log_value("entropy_coeff", self._entropy_coeff(0, n), window=1)
        return losses

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        """Unused: DCL's loss of one agent needs every agent's networks, so all losses are built
        together in ``compute_losses`` (which RLlib calls instead of this per-module hook)."""
        raise RuntimeError("DCLTorchLearner computes its cross-agent losses in compute_losses()")

    def _agent_order(self):
        for mid in self.module.keys():
            ids = getattr(self.module[mid].unwrapped(), "agent_ids", None)
            if ids:
                return list(ids)
        return sorted(self.module.keys())
