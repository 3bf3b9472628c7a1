"""A repeated 2-player trust game, written as a user would write it outside the package.

The investor (3 actions) invests 0, 1 or 2 of its 2 coins; the investment is tripled; the trustee
(2 actions) keeps everything (0) or returns half of the tripled amount (1). Moves are simultaneous;
each agent observes the last joint action (one-hot, 3 + 2) and the elapsed fraction of the game.

Variants for the ways a user may hand an environment over:

* ``TrustGame``: PettingZoo ``ParallelEnv`` (keywords ``horizon``, ``render_mode``).
* ``TrustGameAEC``: the same game as a PettingZoo ``AECEnv``.
* ``TrustGameRLlib``: an RLlib ``MultiAgentEnv`` taking one config dict, with ``Dict`` spaces only.
* ``parallel_pettingzoo_env(**kw)``: RLlib's ``ParallelPettingZooEnv(TrustGame(**kw))``.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

INVESTOR, TRUSTEE = "investor", "trustee"
N_ACTIONS = {INVESTOR: 3, TRUSTEE: 2}


def payoffs(invest: int, give_back: int):
    pot = 3 * invest
    returned = pot / 2 if give_back else 0.0
    return 2 - invest + returned, pot - returned


class TrustGame(ParallelEnv):
    metadata = {"render_modes": ["ansi"], "name": "trust_game_v0", "is_parallelizable": True}

    def __init__(self, horizon: int = 5, render_mode=None):
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.horizon, self.render_mode = horizon, render_mode
        self.possible_agents = [INVESTOR, TRUSTEE]
        self._obs_space = spaces.Box(0.0, 1.0, (6,), np.float32)
        self._last = None
        self.t = 0

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return spaces.Discrete(N_ACTIONS[agent])

    def _obs(self):
        o = np.zeros(6, np.float32)
        if self._last is not None:
            o[self._last[0]] = 1.0
            o[3 + self._last[1]] = 1.0
        o[5] = self.t / self.horizon
        return {a: o.copy() for a in self.agents}

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.t, self._last = 0, None
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        joint = (int(actions[INVESTOR]), int(actions[TRUSTEE]))
        r_inv, r_tru = payoffs(*joint)
        self.t += 1
        self._last = joint
        obs = self._obs()
        done = self.t >= self.horizon
        rew = {INVESTOR: float(r_inv), TRUSTEE: float(r_tru)}
        coop = joint[0] > 0 and joint[1] == 1
        infos = {a: {"cooperated": coop} for a in self.agents}
        term = {a: False for a in self.agents}
        trunc = {a: done for a in self.agents}
        if done:
            self.agents = []
        return obs, rew, term, trunc, infos

    def render(self):
        if self.render_mode != "ansi":
            return None
        last = "-" if self._last is None else f"invest {self._last[0]}, return {self._last[1]}"
        return f"t={self.t}/{self.horizon}: {last}"


class TrustGameAEC(parallel_to_aec_wrapper):
    """The trust game as a PettingZoo ``AECEnv`` (agents move in turn, resolved together)."""

    def __init__(self, horizon: int = 5, render_mode=None):
        super().__init__(TrustGame(horizon=horizon, render_mode=render_mode))


class TrustGameRLlib:  # defined below once RLlib is importable (keeps this module Ray-free)
    pass


def parallel_pettingzoo_env(**kwargs):
    """RLlib's own PettingZoo adapter around the game."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    return ParallelPettingZooEnv(TrustGame(**kwargs))


try:
    from ray.rllib.env.multi_agent_env import MultiAgentEnv

    class TrustGameRLlib(MultiAgentEnv):  # noqa: F811
        """The trust game as an RLlib ``MultiAgentEnv`` (config dict; ``Dict`` spaces only)."""

        def __init__(self, config=None):
            super().__init__()
            self.game = TrustGame(**dict(config or {}))
            self.possible_agents = list(self.game.possible_agents)
            self.agents = list(self.possible_agents)
            self.observation_space = spaces.Dict(
                {a: self.game.observation_space(a) for a in self.possible_agents})
            self.action_space = spaces.Dict(
                {a: self.game.action_space(a) for a in self.possible_agents})

        def reset(self, *, seed=None, options=None):
            obs, infos = self.game.reset(seed=seed, options=options)
            self.agents = list(self.game.agents)
            return obs, infos

        def step(self, action_dict):
            obs, rew, term, trunc, infos = self.game.step(action_dict)
            done = not self.game.agents
            term["__all__"] = False
            trunc["__all__"] = done
            return obs, rew, term, trunc, infos
except ImportError:  # pragma: no cover
    pass


class NotAnEnv:
    """A class that is no environment (for the error-message tests)."""
