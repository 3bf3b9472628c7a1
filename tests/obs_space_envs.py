"""Small PettingZoo envs with every common observation-space kind, for tests/test_obs_spaces.py.

``ObsKindsEnv(obs=KIND or [KIND_0, KIND_1], actions=[n_0, n_1], horizon=H)``: two agents play a repeated
coordination game (both get 1 when their actions agree modulo 2, else 0) for ``H`` steps and
observe the previous joint action (and the time) as:

* ``"discrete"``: ``Discrete(n_0 * n_1 + 1)``: the joint-action index, ``n_0 * n_1`` at the start;
* ``"multidiscrete"``: ``MultiDiscrete([n_0 + 1, n_1 + 1], start=[-1, -1])``: each last action,
  -1 at the start;
* ``"dict"``: ``Dict(last=MultiDiscrete([n_0 + 1, n_1 + 1]), t=Box(0, 1, (1,)))``;
* ``"tuple"``: ``Tuple(Discrete(n_0 + 1), Discrete(n_1 + 1), Box(0, 1, (2, 2)))`` (a rank-2 Box);
* ``"image"``: ``Box(0, 1, (3, 3, 2))``: channel k has a 1 at the row of agent k's last action.

Registered with Ray as ``"obs_kinds_test"`` (``env_config`` = the keyword arguments).
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

KINDS = ("discrete", "multidiscrete", "dict", "tuple", "image")
ENV_NAME = "obs_kinds_test"


class ObsKindsEnv(ParallelEnv):
    metadata = {"name": "obs_kinds_v0", "render_modes": []}

    def __init__(self, obs: str = "discrete", actions=(2, 2), horizon: int = 5):
        self.kinds = [obs, obs] if isinstance(obs, str) else list(obs)
        if len(self.kinds) != 2 or any(k not in KINDS for k in self.kinds):
            raise ValueError(f"obs must be one of {KINDS} or a list of two, got {obs!r}")
        self.n = [int(a) for a in actions]
        self.horizon = int(horizon)
        self.possible_agents = ["a0", "a1"]
        self.agents = []
        n0, n1 = self.n
        make = lambda kind: {  # noqa: E731
            "discrete": spaces.Discrete(n0 * n1 + 1),
            "multidiscrete": spaces.MultiDiscrete([n0 + 1, n1 + 1], start=[-1, -1]),
            "dict": spaces.Dict({"last": spaces.MultiDiscrete([n0 + 1, n1 + 1]),
                                 "t": spaces.Box(0.0, 1.0, (1,), np.float32)}),
            "tuple": spaces.Tuple((spaces.Discrete(n0 + 1), spaces.Discrete(n1 + 1),
                                   spaces.Box(0.0, 1.0, (2, 2), np.float32))),
            "image": spaces.Box(0.0, 1.0, (3, 3, 2), np.float32),
        }[kind]
        self.observation_spaces = {a: make(k) for a, k in zip(self.possible_agents, self.kinds)}
        self.action_spaces = {a: spaces.Discrete(k) for a, k in zip(self.possible_agents, self.n)}
        self._t = 0
        self._last = None

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def _obs(self):
        return {a: self._obs_of(k) for a, k in zip(self.possible_agents, self.kinds) if a in self.agents}

    def _obs_of(self, kind):
        last, t = self._last, self._t / self.horizon
        if kind == "discrete":
            o = self.n[0] * self.n[1] if last is None else last[0] * self.n[1] + last[1]
        elif kind == "multidiscrete":
            o = np.array([-1, -1] if last is None else last, np.int64)
        elif kind == "dict":
            o = {"last": np.array([0, 0] if last is None else [last[0] + 1, last[1] + 1], np.int64),
                 "t": np.array([t], np.float32)}
        elif kind == "tuple":
            grid = np.zeros((2, 2), np.float32)
            if last is not None:
                grid[last[0] % 2, last[1] % 2] = 1.0
            o = (0 if last is None else last[0] + 1, 0 if last is None else last[1] + 1, grid)
        else:
            o = np.zeros((3, 3, 2), np.float32)
            if last is not None:
                o[min(last[0], 2), 0, 0] = 1.0
                o[min(last[1], 2), 0, 1] = 1.0
        return o

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self._t, self._last = 0, None
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        acts = [int(actions[a]) for a in self.possible_agents]
        self._t += 1
        self._last = acts
        r = float(acts[0] % 2 == acts[1] % 2)
        done = self._t >= self.horizon
        obs = self._obs()
        rewards = {a: r for a in self.agents}
        terms = {a: done for a in self.agents}
        truncs = {a: False for a in self.agents}
        infos = {a: {} for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos


def make_rllib_env(env_config=None):
    """RLlib creator: the env behind the package's PettingZoo adapter."""
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

    return RLlibParallelEnv(ObsKindsEnv(**dict(env_config or {})))


def register() -> str:
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_rllib_env)
    return ENV_NAME
