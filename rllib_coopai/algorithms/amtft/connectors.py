"""amTFT's training plumbing: which module each agent plays per episode, and the training rewards.

* ``AmTFTMapping``: the policy mapping of one training phase. Each new episode is one *task*,
  assigned round-robin (deterministic under a seed): ``("coop", w)`` -- both agents play their
  cooperative module of w (self-play on the welfare reward) -- or ``("punish", w, i)`` -- agent i
  plays its punishment module of w, the other agent its cooperative module of w. Without an
  episode (``rllib evaluate``, the cross-play league) every agent maps to its ``AmTFTModule``.
* ``AmTFTTrainingRewards``: the first learner-connector piece; it rewrites each agent's rewards in
  the sampled episodes to the training reward of the module it played, with the one definition of
  ``rllib_coopai.wrappers.welfare_reward``: the welfare reward ``w(r^t)`` for a cooperative module,
  ``-r_opp^t`` for a punishment module (other agents' rewards are not trained on).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ray.rllib.connectors.connector_v2 import ConnectorV2

from rllib_coopai.wrappers.welfare_reward import punishment_rewards, welfare_rewards


def coop_module_id(welfare: str, agent: str) -> str:
    return f"coop_{welfare}_{agent}"


def punish_module_id(welfare: str, agent: str) -> str:
    return f"punish_{welfare}_{agent}"


def play_module_id(agent: str) -> str:
    return f"amtft_{agent}"


def phase_tasks(phase: str, welfare: Sequence[str], n_agents: int = 2) -> List[Tuple]:
    """The tasks of a training phase (``"cooperative"`` or ``"punishment"``)."""
    if phase == "cooperative":
        return [("coop", w) for w in welfare]
    if phase == "punishment":
        return [("punish", w, i) for w in welfare for i in range(n_agents)]
    return [("play",)]


class AmTFTMapping:
    """Agent -> module id for one phase (see the module docstring); picklable."""

    def __init__(self, agents: Sequence[str], tasks: Sequence[Tuple]):
        self.agents = list(agents)
        self.tasks = [tuple(t) for t in tasks]
        self._count = 0
        self._seen: "OrderedDict[str, Tuple]" = OrderedDict()

    def task_of(self, episode) -> Tuple:
        key = str(getattr(episode, "id_", id(episode))).split("_")[0]
        if key not in self._seen:
            self._seen[key] = self.tasks[self._count % len(self.tasks)]
            self._count += 1
            while len(self._seen) > 256:
                self._seen.popitem(last=False)
        return self._seen[key]

    def __call__(self, agent_id, episode=None, **kwargs):
        if episode is None:
            return play_module_id(agent_id)
        task = self.task_of(episode)
        if task[0] == "coop":
            return coop_module_id(task[1], agent_id)
        if task[0] == "punish":
            i = self.agents.index(agent_id)
            return punish_module_id(task[1], agent_id) if i == task[2] else coop_module_id(task[1], agent_id)
        return play_module_id(agent_id)


class AmTFTTrainingRewards(ConnectorV2):
    """Learner-connector piece: each agent's rewards become the training reward of its module."""

    def __init__(self, input_observation_space=None, input_action_space=None, *, agents=(),
                 welfare=(), welfare_kwargs=None, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.agents = list(agents)
        self.welfare_kwargs = dict(welfare_kwargs or {})
        self.roles: Dict[str, Tuple] = {}
        for w in welfare:
            for i, a in enumerate(self.agents):
                self.roles[coop_module_id(w, a)] = ("coop", w)
                self.roles[punish_module_id(w, a)] = ("punish", i)

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        for episode in episodes:
            sa = episode.agent_episodes
            if any(a not in sa for a in self.agents):
                continue
            rewards = [np.asarray(sa[a].get_rewards(), np.float64) for a in self.agents]
            if len({len(r) for r in rewards}) != 1:
                raise ValueError("amTFT trains on simultaneous-move games: every agent must act at "
                                 "every step (reward sequences of different lengths)")
            profile = np.stack(rewards, -1)  # [T, 2]
            for a in self.agents:
                role = self.roles.get(sa[a].module_id)
                if role is None:
                    continue
                if role[0] == "coop":
                    w = role[1]
                    new = welfare_rewards(profile, w, **dict(self.welfare_kwargs.get(w, {})))
                else:
                    new = punishment_rewards(profile, role[1])
                sa[a].set_rewards(new_data=new.astype(np.float32))
        return batch
