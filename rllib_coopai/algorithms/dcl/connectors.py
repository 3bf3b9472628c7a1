"""Learner connector: joint time-step columns and Monte-Carlo returns for DCL.

For all multi-agent episodes at once it builds, per base (or mega-) step t, the joint quantities
the cross-agent loss needs and gives the SAME joint rows to every agent's module (R = the summed
episode lengths, rows in episode order, then step order):

* ``dcl_obs``           concatenated observations of all agents (agent order), (R, sum d_k) float32
* ``dcl_joint_m/c/a``   proposals, commitments, independent actions of all agents, (R, N) int64
* ``dcl_joint_e``       executed joint action: m if all committed else a (DCL paper Algorithm 1
                        writes a_t; the authors' code uses this), (R, N) int64
* ``dcl_joint_returns`` Monte-Carlo discounted returns G^k_t of all agents, (R, N) float32
  (DCL paper Algorithm 1, Monte-Carlo returns; hand-computed: rewards [1,2,3], gamma 0.5 -> [2.75, 3.5, 3])

Each row is self-contained, so any split by whole joint time steps (or episodes) gives every
learner shard all agents' data for the same steps, and minibatch shuffling cannot misalign agents.
Episodes must be complete (DCL samples with ``batch_mode="complete_episodes"``) so that the
returns are full Monte-Carlo returns.
"""
from __future__ import annotations

import numpy as np
import torch

from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.utils.metrics import WEIGHTS_SEQ_NO

from rllib_coopai.core.episodes import buffer_steps
from rllib_coopai.core.returns import ragged_discounted_returns
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M


def executed_actions(m: np.ndarray, c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Deal rule for N agents (DCL paper §2, Figure 1): row t executes m_t iff all c_t == 1, else a_t."""
    deal = np.all(np.asarray(c) == 1, axis=-1, keepdims=True)
    return np.where(deal, m, a)


class DCLJointColumns(ConnectorV2):
    """The whole learner batch of DCL, built for all episodes at once (see the module docstring).

    Per agent it gathers the episodes' arrays (one slice per episode and buffer, then one
    concatenation), computes every Monte-Carlo return in one call on the episodes x steps grid
    (``core.returns.ragged_discounted_returns``), and hands every module the same joint columns
    as tensors on ``device``, rows in episode order. RLlib's default learner pieces are not part
    of DCL's pipeline: the DCL learner and modules read only these columns. Kept from RLlib's
    columns is ``weights_seq_no`` (per module, from its agent's steps), which RLlib's learner
    reads for its off-policyness metric.
    """

    def __init__(self, input_observation_space=None, input_action_space=None, *, gamma: float,
                 agent_ids=None, device=None):
        super().__init__(input_observation_space, input_action_space)
        self.gamma = float(gamma)
        self.agent_ids = list(agent_ids) if agent_ids else None
        self.device = device

    def __call__(self, *, rl_module, episodes, batch, **kwargs):
        order = self.agent_ids or rl_module._agent_order()
        rows = [[ep.agent_episodes[a] for a in order] for ep in episodes]
        lens = np.array([[len(sa) for sa in row] for row in rows], np.int64).reshape(-1, len(order))
        uneven = np.flatnonzero(lens.min(1) != lens.max(1)) if len(rows) else []
        if len(uneven):
            raise ValueError("DCL needs all agents to act in every step; episode lengths "
                             f"{set(lens[uneven[0]].tolist())}")
        keep = np.flatnonzero(lens[:, 0] > 0) if len(rows) else []
        if not len(keep):
            return batch
        rows = [rows[i] for i in keep]
        L = lens[keep, 0]
        R, steps = int(L.sum()), L.tolist()

        def column(k, get):  # agent k's [R, ...] array, episodes back to back
            return np.concatenate([buffer_steps(get(row[k]), n) for row, n in zip(rows, steps)])

        def extra(key):
            return lambda sa: sa.extra_model_outputs[key]

        agents = range(len(order))
        obs = np.concatenate([column(k, lambda sa: sa.observations).reshape(R, -1).astype(np.float32)
                              for k in agents], -1)
        m, c, a = (np.stack([column(k, extra(key)).reshape(R) for k in agents], -1).astype(np.int64)
                   for key in (DCL_M, DCL_C, DCL_A))
        rewards = np.stack([column(k, lambda sa: sa.rewards) for k in agents])  # [N, R]
        # DCL paper Algorithm 1, Monte-Carlo returns G^k_t of every agent, all episodes at once
        ret = ragged_discounted_returns(rewards, L, self.gamma).T.astype(np.float32)
        e = executed_actions(m, c, a)

        def tensor(x):
            return torch.as_tensor(np.ascontiguousarray(x), device=self.device)

        joint = {"dcl_obs": tensor(obs), "dcl_joint_m": tensor(m), "dcl_joint_c": tensor(c),
                 "dcl_joint_a": tensor(a), "dcl_joint_e": tensor(e), "dcl_joint_returns": tensor(ret)}
        for k, aid in enumerate(order):
            first = rows[0][k]
            cols = dict(joint)  # the same joint tensors for every module (read-only in the learner)
            if all(WEIGHTS_SEQ_NO in row[k].extra_model_outputs for row in rows):
                cols[WEIGHTS_SEQ_NO] = tensor(column(k, extra(WEIGHTS_SEQ_NO)).reshape(R))
            batch[first.module_id if first.module_id is not None else aid] = cols
        return batch
