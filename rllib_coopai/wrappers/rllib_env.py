"""Thin adapter from a PettingZoo ``ParallelEnv`` to RLlib's ``MultiAgentEnv``.

RLlib's own ``ParallelPettingZooEnv`` only exposes Dict spaces and derives ``__all__`` from the
agents present in a step; this adapter exposes per-agent ``observation_spaces`` /
``action_spaces`` (what the new API stack reads) and ends the episode when the PettingZoo env has
no live agents left.

Seeding: RLlib 2.60's ``MultiAgentEnvRunner.sample(num_episodes=...)`` resets with the runner's
seed on *every* call (it sets ``_needs_initial_reset`` again after each such call), which
would restart a random env's stream (Cleanup's spawns, the coin games, GTB) from the same state
at every iteration of the algorithms that sample whole episodes (LIO, the designer, DCL). The
adapter therefore honours a seed only when it differs from the last one it was given; a repeated
identical seed continues the env's stream. Runs stay reproducible (the sequence of seeds is).
"""
from __future__ import annotations

from typing import Optional

from ray.rllib.env.multi_agent_env import MultiAgentEnv


class RLlibParallelEnv(MultiAgentEnv):
    """Wrap ``par_env`` (a PettingZoo ParallelEnv) for RLlib's EnvRunners."""

    def __init__(self, par_env):
        self.par_env = par_env
        self.possible_agents = list(par_env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {a: par_env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: par_env.action_space(a) for a in self.possible_agents}
        self.render_mode = getattr(par_env, "render_mode", None)
        self._last_seed: Optional[int] = None
        super().__init__()

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:  # see the module docstring: a repeated seed continues the stream
            seed, self._last_seed = (None if seed == self._last_seed else seed), seed
        obs, infos = self.par_env.reset(seed=seed, options=options)
        self.agents = list(self.par_env.agents)
        return obs, infos or {}

    def step(self, action_dict):
        obs, rew, term, trunc, infos = self.par_env.step(action_dict)
        done = not self.par_env.agents
        # On the last step keep the agents that just acted (RLlib checks the returned ids
        # against ``agents``); otherwise mirror the PettingZoo env.
        self.agents = list(obs) if done else list(self.par_env.agents)
        term = dict(term)
        trunc = dict(trunc)
        term["__all__"] = done and all(term.values()) if term else done
        trunc["__all__"] = done and not term["__all__"]
        return obs, rew, term, trunc, infos

    def render(self):
        return self.par_env.render()

    def close(self):
        self.par_env.close()
