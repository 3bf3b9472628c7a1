"""RLModules of Differentiable Commitment Learning (DCL paper §2-3, App. 10).

``DCLTorchRLModule`` is one agent's module with the four networks of the paper, each a 2-hidden-
layer ReLU MLP (DCL paper App. 10; layout from github.com/shuhui-zhu/DCL):

* proposal  phi^i(m^i | s)          input s,               output |A^i| logits
* commitment psi^i(c^i | s, m)      input s + joint proposal one-hot (all agents, agent order),
                                    output 2 logits (index 1 = commit)
* action    pi^i(a^i | s)           input s,               output |A^i| logits
* critic    Q^i(s, a)               input s + joint action one-hot, linear scalar output; the same
                                    net gives Q^i(s, m) at the joint proposal (M^i = A^i)

With ``decentralized=True`` (DCL paper Algorithm 3, App. 8.2) the module also holds its *estimates* of every other
agent's four networks ("slots"; slot ``agent_index`` is its own, the rest are estimates), so agent
i's update never reads another agent's parameters.

``DCLMultiRLModule`` runs the MCG protocol (propose -> commit on the joint proposal -> act;
execute the proposals iff all commit, DCL paper §2, Figure 1) for all agents in ONE forward pass on the env
runner. The env then steps once per base step with the executed joint action; proposals,
commitments and independent actions travel in the episode as extra model outputs ``dcl_m``,
``dcl_c``, ``dcl_a``. This is exactly the staged protocol of ``CommitmentGameWrapper`` (each
policy sees only what its stage allows: proposals and actions see s only, commitments see s and
the joint proposal), done in one env step instead of three so DCL samples at the base env's rate.
Partner modules (e.g. the scripted partners of ``rllib_coopai.algorithms.dcl.partners``) take part
in the protocol through the same three methods ``propose_logits``, ``commit_logits``,
``action_logits``.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule
from ray.rllib.core.rl_module.torch import TorchRLModule

from rllib_coopai.modules.encoders import ObsEncoder

DCL_M, DCL_C, DCL_A = "dcl_m", "dcl_c", "dcl_a"


def mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    """Linear-ReLU-Linear-ReLU-Linear (two hidden layers of width ``hidden``)."""
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out))


def joint_onehot(actions: List[torch.Tensor], sizes: List[int]) -> torch.Tensor:
    """Concatenated one-hots of a joint action; entries may already be (relaxed) one-hots."""
    parts = [a if a.dim() == 2 else F.one_hot(a.long(), n).float() for a, n in zip(actions, sizes)]
    return torch.cat(parts, dim=-1)


class AgentNets(nn.Module):
    """The four networks of one agent (own, or an estimate of another agent's).

    Each network reads the observation through its own :class:`ObsEncoder` (``encoders``):
    parameter-free flattening for vectors, a conv encoder (``conv_filters``) for images.
    """

    def __init__(self, obs_dim: int, n_actions: int, joint_dim: int, hidden: int,
                 obs_shape=None, conv_filters=None):
        super().__init__()
        shape = tuple(obs_shape) if obs_shape is not None else (obs_dim,)
        self.encoders = nn.ModuleDict(
            {name: ObsEncoder(shape, conv_filters) for name in ("proposal", "commit", "action", "critic")})
        feat = self.encoders["proposal"].out_dim
        self.proposal = mlp(feat, hidden, n_actions)
        self.commit = mlp(feat + joint_dim, hidden, 2)
        self.action = mlp(feat, hidden, n_actions)
        self.critic = mlp(feat + joint_dim, hidden, 1)

    def proposal_logits(self, obs):
        return self.proposal(self.encoders["proposal"](obs))

    def action_logits(self, obs):
        return self.action(self.encoders["action"](obs))

    def commit_logits(self, obs, joint_m):
        return self.commit(torch.cat([self.encoders["commit"](obs), joint_m], -1))

    def q(self, obs, joint_a):
        return self.critic(torch.cat([self.encoders["critic"](obs), joint_a], -1)).squeeze(-1)


class DCLTorchRLModule(TorchRLModule):
    """One agent's DCL module. ``model_config`` keys: ``agent_ids`` (list, agent order),
    ``agent_index``, ``obs_dims`` and ``action_sizes`` (per agent), ``obs_shapes`` (per agent,
    default ``(obs_dim,)``; an ``H x W x C`` shape gets the conv encoder), ``conv_filters``,
    ``hidden_dim`` (default 8), ``decentralized`` (bool)."""

    def setup(self):
        cfg = self.model_config
        self.agent_ids = list(cfg["agent_ids"])
        self.agent_index = int(cfg["agent_index"])
        self.obs_dims = [int(d) for d in cfg["obs_dims"]]
        self.action_sizes = [int(n) for n in cfg["action_sizes"]]
        self.hidden_dim = int(cfg.get("hidden_dim", 8))
        self.decentralized = bool(cfg.get("decentralized", False))
        shapes = cfg.get("obs_shapes") or [(d,) for d in self.obs_dims]
        conv_filters = cfg.get("conv_filters")
        if cfg.get("torch_threads"):
            torch.set_num_threads(int(cfg["torch_threads"]))  # tiny nets: avoid thread hand-offs
        joint = sum(self.action_sizes)
        self.slots = list(range(len(self.agent_ids))) if self.decentralized else [self.agent_index]
        self.nets = nn.ModuleDict({
            str(k): AgentNets(self.obs_dims[k], self.action_sizes[k], joint, self.hidden_dim,
                              obs_shape=shapes[k], conv_filters=conv_filters)
            for k in self.slots
        })
        offs = [0]
        for d in self.obs_dims:
            offs.append(offs[-1] + d)
        self.obs_offsets = offs

    # ---------------------------------------------------------------- protocol heads
    def slot(self, k=None) -> AgentNets:
        return self.nets[str(self.agent_index if k is None else k)]

    def propose_logits(self, obs, k=None):
        return self.slot(k).proposal_logits(obs)

    def commit_logits(self, obs, joint_m, k=None):
        return self.slot(k).commit_logits(obs, joint_m)

    def action_logits(self, obs, k=None):
        return self.slot(k).action_logits(obs)

    def split_obs(self, joint_obs: torch.Tensor, k: int) -> torch.Tensor:
        return joint_obs[:, self.obs_offsets[k]: self.obs_offsets[k + 1]]

    # ---------------------------------------------------------------- RLlib forwards
    def _forward(self, batch, **kwargs):
        # Alone (outside DCLMultiRLModule) a module cannot negotiate: it plays its no-deal policy.
        return {Columns.ACTION_DIST_INPUTS: self.action_logits(batch[Columns.OBS].float())}

    def _forward_train(self, batch, **kwargs) -> Dict[str, torch.Tensor]:
        """Everything of this module's own parameters that the DCL loss needs, per slot k:
        proposal / action logits at s_k, commitment logits at (s_k, stored joint proposal m),
        and Q_k(s_k, executed joint action) for the critic regression (DCL paper Algorithm 1, critic fit)."""
        obs = batch["dcl_obs"].float()
        m, e = batch["dcl_joint_m"].long(), batch["dcl_joint_e"].long()
        n = len(self.agent_ids)
        m_oh = joint_onehot([m[:, j] for j in range(n)], self.action_sizes)
        e_oh = joint_onehot([e[:, j] for j in range(n)], self.action_sizes)
        out = {}
        for k in self.slots:
            s = self.split_obs(obs, k)
            nets = self.slot(k)
            out[f"prop_logits_{k}"] = nets.proposal_logits(s)
            out[f"commit_logits_{k}"] = nets.commit_logits(s, m_oh)
            out[f"act_logits_{k}"] = nets.action_logits(s)
            out[f"q_e_{k}"] = nets.q(s, e_oh)
        return out


class DCLMultiRLModule(MultiRLModule):
    """Runs the Markov Commitment Game protocol for all agents in one forward pass."""

    def _agent_order(self) -> List[str]:
        for mid in self.keys():
            mod = self[mid]
            ids = getattr(mod, "agent_ids", None)
            if ids:
                return list(ids)
        return sorted(self.keys())

    def _forward_exploration(self, batch, **kwargs):
        return self.negotiate(batch, greedy=False)

    def _forward_inference(self, batch, **kwargs):
        # Evaluation plays the same stochastic protocol: DCL's equilibria can be mixed
        # (e.g. the no-deal action policy), so argmax would change the game being evaluated.
        return self.negotiate(batch, greedy=False)

    @staticmethod
    def _draw(logits, greedy):
        if greedy:
            return logits.argmax(-1)
        # Gumbel-max: an exact categorical sample, much cheaper than torch.distributions here.
        u = torch.rand_like(logits).clamp_(1e-10, 1.0)
        return (logits - torch.log(-torch.log(u))).argmax(-1)

    def negotiate(self, batch, greedy: bool = False):
        order = self._agent_order()
        missing = [a for a in order if a not in batch]
        if missing:
            raise ValueError(
                f"DCL needs every agent in every step (simultaneous moves); missing {missing}. "
                "Markov Commitment Games are defined for envs where all agents act each step."
            )
        obs = {a: batch[a][Columns.OBS].float() for a in order}
        sizes = []
        m, c, act = {}, {}, {}
        for a in order:  # stage 1: proposals from s only
            logits = self[a].propose_logits(obs[a])
            sizes.append(logits.shape[-1])
            m[a] = self._draw(logits, greedy)
        joint_m = joint_onehot([m[a] for a in order], sizes)
        for a in order:  # stage 2: commitments on (s, joint proposal), simultaneous
            c[a] = self._draw(self[a].commit_logits(obs[a], joint_m), greedy)
            act[a] = self._draw(self[a].action_logits(obs[a]), greedy)  # stage 3, sampled always
        deal = torch.stack([c[a] for a in order], 0).prod(0).bool()  # deal rule, DCL paper §2, Figure 1
        return {
            a: {Columns.ACTIONS: torch.where(deal, m[a], act[a]), DCL_M: m[a], DCL_C: c[a],
                DCL_A: act[a]}
            for a in order
        }
