"""Centralized control ("Cen"): one agent that picks every agent's action and earns the sum of rewards.

The LIO thesis's "Cen" baseline (§5.3.2, Cleanup): a fully centralized learner that optimises the
joint reward, an approximate upper bound for decentralized methods. ``CentralizedControlWrapper(env)``
turns an N-agent PettingZoo ``ParallelEnv`` into a one-agent ``ParallelEnv``:

* the agent ``"central"`` observes all agents' observations (images of the same height and width
  stacked along the channels, H x W x sum C, so a conv encoder sees them; anything else flattened
  and concatenated, in ``possible_agents`` order);
* its action is the joint action, ``MultiDiscrete([|A_1|, ..., |A_N|])`` (Discrete base actions);
* its reward is the sum of the agents' rewards (the joint / utilitarian reward).

Any algorithm of the package that takes a ``MultiDiscrete`` action trains it (IPPO / PPO: the
thesis's Cen is an actor-critic). The episode ends when every base agent is done. Infos: the
central agent's ``extrinsic_reward`` is the summed env reward, ``agent_rewards`` the per-agent ones.

For RLlib use ``env: rllib_coopai.wrappers.centralized.CentralizedControlRLlibEnv`` with
``env_config = {"base_env": NAME_OR_CLASS_PATH, **base env kwargs}``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.wrappers.base import (
    ParallelWrapperBase,
    base_env_from_config,
    discrete_actions,
    rllib_env_class,
)

CENTRAL = "central"


class CentralizedControlWrapper(ParallelWrapperBase):
    """One agent controlling all agents of ``env`` (see the module docstring)."""

    metadata = {"render_modes": [], "is_parallelizable": True}

    def __init__(self, env):
        self.env = env
        self.base_agents = list(env.possible_agents)
        self.possible_agents = [CENTRAL]
        self.agents = []
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"cen_{env.metadata.get('name', 'env')}")
        sizes = [discrete_actions(env, a, "centralized control") for a in self.base_agents]
        self.action_spaces = {CENTRAL: spaces.MultiDiscrete(sizes)}
        base = [env.observation_space(a) for a in self.base_agents]
        images = all(isinstance(s, spaces.Box) and len(s.shape) == 3 for s in base) and \
            len({s.shape[:2] for s in base}) == 1
        self._stack_images = images
        if images:
            shape = base[0].shape[:2] + (sum(s.shape[2] for s in base),)
            low = np.concatenate([np.broadcast_to(s.low, s.shape) for s in base], -1).astype(np.float32)
            high = np.concatenate([np.broadcast_to(s.high, s.shape) for s in base], -1).astype(np.float32)
            space = spaces.Box(low, high, shape, np.float32)
        else:
            dim = sum(int(spaces.flatdim(s)) for s in base)
            space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self._base_spaces = base
        self.observation_spaces = {CENTRAL: space}

    def _observe(self, obs: dict) -> dict:
        parts = []
        for a, s in zip(self.base_agents, self._base_spaces):
            o = obs.get(a)
            if o is None:  # an agent already done: zeros in its place
                o = np.zeros(s.shape, np.float32) if self._stack_images else np.zeros(spaces.flatdim(s))
            if self._stack_images:
                parts.append(np.asarray(o, np.float32))
            else:
                parts.append(np.asarray(spaces.flatten(s, o) if a in obs else o, np.float32).reshape(-1))
        return {CENTRAL: np.concatenate(parts, -1).astype(np.float32)}

    def state(self):
        return self.env.state()

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = [CENTRAL]
        return self._observe(obs), {CENTRAL: {}}

    def step(self, actions):
        joint = np.asarray(actions[CENTRAL]).reshape(-1)
        if joint.shape[0] != len(self.base_agents):
            raise ValueError(f"centralized control: the joint action needs one entry per agent "
                             f"({len(self.base_agents)}), got {actions[CENTRAL]!r}")
        index = {a: i for i, a in enumerate(self.base_agents)}
        obs, rew, term, trunc, infos = self.env.step({a: int(joint[index[a]]) for a in self.env.agents})
        total = float(sum(rew.values()))
        done = not self.env.agents
        info = {"extrinsic_reward": total, "agent_rewards": {a: float(r) for a, r in rew.items()}}
        if done:
            self.agents = []
        terminated = done and all(term.get(a, False) for a in rew)
        return (self._observe(obs), {CENTRAL: total}, {CENTRAL: terminated},
                {CENTRAL: done and not terminated}, {CENTRAL: info})


class CentralizedControlRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv (one agent, ``"central"``) of ``CentralizedControlWrapper``:
    ``env_config = {"base_env": name or class path, **base env kwargs}``."""

    def __init__(self, env_config: Optional[dict] = None):
        base, _ = base_env_from_config(env_config, (), "centralized control")
        super().__init__(CentralizedControlWrapper(base))
