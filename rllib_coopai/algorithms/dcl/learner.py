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
``critic_lr``). Gumbel temperature and entropy coefficient decay linearly per training
iteration (DCL paper Tables 5-7): ``max(min, start - decay * iteration)``.
"""
from __future__ import annotations

import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from rllib_coopai.algorithms.dcl.connectors import DCLJointColumns
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
        if self.config.add_default_connectors_to_learner_pipeline:
            self._learner_connector.prepend(DCLJointColumns(gamma=self.config.gamma))

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

    @staticmethod
    def _frozen(nets, s):
        """psi and Q of ``nets`` at observation ``s`` with detached parameters (input-differentiable)."""
        params = {n: p.detach() for n, p in nets.named_parameters()}
        commit = lambda jm: call_with(nets, params, s, jm, method="commit_logits")  # noqa: E731
        q = lambda ja: call_with(nets, params, s, ja, method="q")  # noqa: E731
        return commit, q

    def compute_losses(self, *, fwd_out, batch):
        order = [mid for mid in self._agent_order() if mid in fwd_out]
        n = len(order)
        tau, ent = self._schedules()
        lam = float(self.config.ic_lambda)
        decentralized = self.config.mode == "decentralized"
        losses = {}
        units = {mid: self.module[mid].unwrapped() for mid in order}
        sizes = units[order[0]].action_sizes
        for i, mid in enumerate(order):
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
                    m=m, c=c, a=a, tau=tau, ic_mode=self.config.ic_mode)
                objective = dcl_agent_objective(terms, lam, ent)
                critic_loss = torch.mean((out[f"q_e_{k}"] - ret[:, k]) ** 2)  # Algorithm 1: MSE to G^k_t
                total = total + critic_loss - objective
                if k == i:  # detached tensors: the MetricsLogger reduces them on their device
                    # (no per-metric GPU->CPU sync inside the loss)
                    keys = ("J_pi", "J_psi_score", "J_psi_path", "J_phi_score", "J_phi_path",
                            "J_ic", "H_phi", "H_psi", "H_pi", "q_m_mean", "q_a_mean")
                    stats = {key: torch.as_tensor(terms[key]).detach() for key in keys}
                    stats["critic_loss"] = critic_loss.detach()
                    self.metrics.log_dict(stats, key=mid, window=1)
            losses[mid] = total
        self.metrics.log_value("temperature", tau, window=1)
        self.metrics.log_value("entropy_coeff", ent, window=1)
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
