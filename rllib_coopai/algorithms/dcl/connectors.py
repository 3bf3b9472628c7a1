"""Learner connector: joint time-step columns and Monte-Carlo returns for DCL.

For every multi-agent episode it builds, per base (or mega-) step t, the joint quantities the
cross-agent loss needs and adds the SAME joint row to every agent's module batch:

* ``dcl_obs``           concatenated observations of all agents (agent order), (T, sum d_k)
* ``dcl_joint_m/c/a``   proposals, commitments, independent actions of all agents, (T, N)
* ``dcl_joint_e``       executed joint action: m if all committed else a (DCL paper Algorithm 1
                        writes a_t; the authors' code uses this)
* ``dcl_joint_returns`` Monte-Carlo discounted returns G^k_t of all agents, (T, N)
  (DCL paper Algorithm 1, Monte-Carlo returns; hand-computed: rewards [1,2,3], gamma 0.5 -> [2.75, 3.5, 3])

Each row is self-contained, so any split by whole joint time steps (or episodes) gives every
learner shard all agents' data for the same steps, and minibatch shuffling cannot misalign agents.
Episodes must be complete (DCL samples with ``batch_mode="complete_episodes"``) so that the
returns are full Monte-Carlo returns.
"""
from __future__ import annotations

import numpy as np

from ray.rllib.connectors.connector_v2 import ConnectorV2

from rllib_coopai.core.returns import discounted_returns
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M


def executed_actions(m: np.ndarray, c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Deal rule for N agents (DCL paper §2, Figure 1): row t executes m_t iff all c_t == 1, else a_t."""
    deal = np.all(np.asarray(c) == 1, axis=-1, keepdims=True)
    return np.where(deal, m, a)


class DCLJointColumns(ConnectorV2):
    def __init__(self, input_observation_space=None, input_action_space=None, *, gamma: float,
                 agent_ids=None):
        super().__init__(input_observation_space, input_action_space)
        self.gamma = float(gamma)
        self.agent_ids = list(agent_ids) if agent_ids else None

    def __call__(self, *, rl_module, episodes, batch, **kwargs):
        order = self.agent_ids or rl_module._agent_order()
        for ep in episodes:
            sa = {aid: ep.agent_episodes[aid] for aid in order}
            lengths = {len(e) for e in sa.values()}
            if len(lengths) != 1:
                raise ValueError(f"DCL needs all agents to act in every step; episode lengths {lengths}")
            t = lengths.pop()
            if t == 0:
                continue
            idx = slice(0, t)
            obs = np.concatenate(
                [np.asarray(sa[a].get_observations(idx), np.float32).reshape(t, -1) for a in order], -1)
            m = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_M, idx)).reshape(t) for a in order], -1)
            c = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_C, idx)).reshape(t) for a in order], -1)
            a_ = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_A, idx)).reshape(t) for a in order], -1)
            ret = np.stack([discounted_returns(sa[a].get_rewards(idx), self.gamma) for a in order], -1)
            e = executed_actions(m, c, a_)
            cols = {"dcl_obs": obs, "dcl_joint_m": m.astype(np.int64), "dcl_joint_c": c.astype(np.int64),
                    "dcl_joint_a": a_.astype(np.int64), "dcl_joint_e": e.astype(np.int64),
                    "dcl_joint_returns": ret.astype(np.float32)}
            for aid in order:
                for col, val in cols.items():
                    self.add_n_batch_items(batch=batch, column=col, items_to_add=val, num_items=t,
                                           single_agent_episode=sa[aid])
        return batch
