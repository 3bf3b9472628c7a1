"""Inequity aversion (Hughes et al. 2018) as a reward-shaping wrapper for any PettingZoo env.

``InequityAversionWrapper(env, alpha=0.0, beta=0.05, gamma=0.99, lam=0.95)`` replaces each
agent's reward by its inequity-averse reward (the IA baseline of LIO thesis §5.3.2, App. B.4.2)::

    e_i^t = gamma * lam * e_i^{t-1} + r_i^t                              (e-traces, e^{-1} = 0)
    w_i^t = r_i^t - alpha/(N-1) sum_{j!=i} max(e_j^t - e_i^t, 0)          (disadvantageous)
                  - beta /(N-1) sum_{j!=i} max(e_i^t - e_j^t, 0)          (advantageous)

computed by the package's one definition (``rllib_coopai.metrics.welfare.eligibility_traces``
and ``inequity_aversion_penalty``; over a whole episode it equals
``inequity_averse_agent_rewards``). The defaults are the LIO thesis's IA settings for Cleanup
(App. B.4.2): disadvantageous coefficient 0, advantageous coefficient 0.05, smoothing
lambda 0.95, with the thesis's discount 0.99 in the trace.

``observe_traces=True`` (the thesis's IA agents "have an additional 1D vector observation of all
agents' temporally smoothed rewards") adds the traces ``e^{t}`` of all agents (in
``possible_agents`` order) to every observation: concatenated to a vector ``Box``, as N constant
extra channels of an image ``Box`` (H x W x C -> H x W x (C+N), so the conv encoder still sees the
image), or as ``{"observations": base, "smoothed_rewards": Box(N)}`` for any other space.

Info contract: ``extrinsic_reward`` is the wrapped env's own reward (or the ``extrinsic_reward``
it already reports, when wrappers are stacked), so ``social_welfare`` and the agents' returns in
the metrics stay the real ones; ``totals["inequity_penalty"]`` is what the shaping subtracted.

For RLlib (any algorithm of the package) use the class path
``rllib_coopai.wrappers.inequity_aversion.InequityAversionRLlibEnv`` as ``env`` with
``env_config = {"base_env": NAME_OR_CLASS_PATH, "alpha": ..., "beta": ..., **base env kwargs}``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_bool, check_float
from rllib_coopai.metrics.welfare import eligibility_traces, inequity_aversion_penalty
from rllib_coopai.wrappers.base import ParallelWrapperBase, base_env_from_config, rllib_env_class

#: The wrapper's keys in an RLlib ``env_config`` (every other key goes to the base env).
IA_OPTIONS = ("alpha", "beta", "gamma", "lam", "observe_traces")
TRACE_KEY = "smoothed_rewards"


class InequityAversionWrapper(ParallelWrapperBase):
    """Inequity-averse rewards over ``env`` (see the module docstring).

    Args:
        env: a PettingZoo ParallelEnv with at least 2 agents.
        alpha: disadvantageous-inequity coefficient (>= 0; LIO thesis IA: 0).
        beta: advantageous-inequity coefficient (>= 0; LIO thesis IA: 0.05).
        gamma: discount inside the e-trace, in [0, 1] (thesis: 0.99).
        lam: trace smoothing lambda, in [0, 1] (thesis: 0.95).
        observe_traces: add all agents' e-traces to the observations (thesis: yes).
    """

    metadata = {"render_modes": ["ansi"], "name": "inequity_aversion", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, alpha: float = 0.0, beta: float = 0.05,
                 gamma: float = 0.99, lam: float = 0.95, observe_traces: bool = True):
        self.env = env
        self.alpha = check_float("alpha (disadvantageous inequity)", alpha, 0.0)
        self.beta = check_float("beta (advantageous inequity)", beta, 0.0)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self.lam = check_float("lam", lam, 0.0, 1.0)
        self.observe_traces = check_bool("observe_traces", observe_traces)
        self.possible_agents = list(env.possible_agents)
        self.n_agents = len(self.possible_agents)
        if self.n_agents < 2:
            raise ValueError(f"inequity aversion needs at least 2 agents, the env has {self.n_agents}")
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.base_obs_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self.observation_spaces = {a: self._obs_space(s) for a, s in self.base_obs_spaces.items()}
        self.action_spaces = {a: env.action_space(a) for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"ia_{env.metadata.get('name', 'env')}")
        self.agents = []
        self.traces = np.zeros(self.n_agents, np.float64)

    # ------------------------------------------------------------------ spaces
    def _obs_space(self, base: spaces.Space) -> spaces.Space:
        if not self.observe_traces:
            return base
        n = self.n_agents
        if isinstance(base, spaces.Box) and len(base.shape) in (1, 3):
            if len(base.shape) == 1:
                low = np.concatenate([base.low, np.full(n, -np.inf)])
                high = np.concatenate([base.high, np.full(n, np.inf)])
            else:
                extra = base.shape[:2] + (n,)
                low = np.concatenate([np.broadcast_to(base.low, base.shape), np.full(extra, -np.inf)], -1)
                high = np.concatenate([np.broadcast_to(base.high, base.shape), np.full(extra, np.inf)], -1)
            return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        return spaces.Dict({"observations": base,
                            TRACE_KEY: spaces.Box(-np.inf, np.inf, (n,), np.float32)})

    # ------------------------------------------------------------------ helpers
    def _observe(self, base_obs):
        if not self.observe_traces:
            return base_obs
        e = self.traces.astype(np.float32)
        out = {}
        for a, o in base_obs.items():
            base = self.base_obs_spaces[a]
            if isinstance(base, spaces.Box) and len(base.shape) == 1:
                out[a] = np.concatenate([np.asarray(o, np.float32), e])
            elif isinstance(base, spaces.Box) and len(base.shape) == 3:
                planes = np.broadcast_to(e, base.shape[:2] + (self.n_agents,))
                out[a] = np.concatenate([np.asarray(o, np.float32), planes], -1)
            else:
                out[a] = {"observations": o, TRACE_KEY: e.copy()}
        return out

    # ------------------------------------------------------------------ API
    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        self.traces = np.zeros(self.n_agents, np.float64)
        return self._observe(obs), infos

    def step(self, actions):
        obs, rew, term, trunc, infos = self.env.step(actions)
        r = np.zeros(self.n_agents, np.float64)
        for a, v in rew.items():
            r[self._index[a]] = float(v)
        # e^t = gamma*lam*e^{t-1} + r^t and the shaped reward (Hughes et al. 2018; LIO thesis App. B.4.2)
        self.traces = eligibility_traces(r[None], self.gamma, self.lam, initial=self.traces)[0]
        penalty = inequity_aversion_penalty(self.traces, self.alpha, self.beta)
        shaped, out_infos = {}, {}
        for a, v in rew.items():
            i = self._index[a]
            shaped[a] = float(v) - float(penalty[i])
        for a in [b for b in self.possible_agents if b in rew or b in infos]:
            info = dict(infos.get(a, {}) or {})
            if a in rew:
                info.setdefault("extrinsic_reward", float(rew[a]))
                totals = dict(info.get("totals", {}))
                totals["inequity_penalty"] = totals.get("inequity_penalty", 0.0) + float(
                    penalty[self._index[a]])
                info["totals"] = totals
            out_infos[a] = info
        self.agents = list(self.env.agents)
        return self._observe(obs), shaped, term, trunc, out_infos

    def state(self):
        return self.env.state()



class InequityAversionRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of ``InequityAversionWrapper``: ``env_config = {"base_env": name or class
    path, "alpha": ..., "beta": ..., "gamma": ..., "lam": ..., "observe_traces": ..., **base env
    kwargs}``. Use ``env: rllib_coopai.wrappers.inequity_aversion.InequityAversionRLlibEnv`` in a
    YAML file or ``config.environment(InequityAversionRLlibEnv, env_config={...})``."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, IA_OPTIONS, "inequity aversion")
        super().__init__(InequityAversionWrapper(base, **opts))
