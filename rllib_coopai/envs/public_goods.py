"""N-player public goods game with binary contributions (DCL paper §5.1, App. 11; hand-computed oracles).

Each of ``n_agents`` players chooses ``0 = contribute`` (C^i = 1) or ``1 = free-ride``
(C^i = 0), so the cooperative action is index 0 as in every other game of the package ("C=0").
Rewards, with benefit factor ``factor`` (beta, paper: 1.5):

* ``form="per_capita"`` (default): ``R^i = (beta/N) * sum_j C^j - C^i``. This is the reading that
  reproduces the paper's Table 8 and makes free-riding dominant for ``beta < N`` (DCL paper §5.1,
  App. 11).
* ``form="literal"``: ``R^i = beta * sum_j C^j - C^i``, the formula exactly as printed in the paper
  (contributing then *raises* one's own reward when beta > 1).

One-shot by default (``horizon=1``); ``horizon=H`` repeats the stage game H times. The observation
is a constant dummy state ``[1.0]`` (float32 ``Box`` of shape (1,)). ``infos[a]["cooperated"]`` is
whether agent ``a`` contributed; ``infos[a]["joint_action"]`` is the tuple of choices.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_choice, check_float, check_int

CONTRIBUTE, FREE_RIDE = 0, 1


class PublicGoodsEnv(CoopParallelEnv):
    """Args:
        n_agents: number of players N >= 2 (paper: 2, 3, 5, 10; default 2).
        factor: benefit factor beta > 0 (paper: 1.5).
        form: ``"per_capita"`` (default) or ``"literal"``, see module docstring.
        horizon: rounds per episode (default 1, one-shot).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "public_goods", "is_parallelizable": True}

    def __init__(
        self,
        n_agents: int = 2,
        factor: float = 1.5,
        form: str = "per_capita",
        horizon: int = 1,
        render_mode: Optional[str] = None,
    ):
        super().__init__(render_mode)
        n = check_int("n_agents", n_agents, 2, None)
        self.factor = check_float("factor", factor, 0.0, None, low_open=True)
        self.form = check_choice("form", form, ("per_capita", "literal"))
        self.horizon = check_int("horizon", horizon, 1, None)
        self.possible_agents = [f"player_{i}" for i in range(n)]
        self._n = n
        self._mult = self.factor / n if self.form == "per_capita" else self.factor
        space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(2) for a in self.possible_agents}
        self._dummy = np.ones(1, np.float32)
        self._t = 0
        self._last = None
        self._last_rewards = None

    def payoffs(self, contributions) -> np.ndarray:
        """Rewards for a 0/1 vector of contributions C (1 = contributed)."""
        c = np.asarray(contributions, dtype=np.float64)
        return self._mult * c.sum() - c

    def _obs(self):
        return {a: self._dummy.copy() for a in self.possible_agents}

    def _reset(self, options):
        self._t = 0
        self._last = None
        self._last_rewards = None
        return self._obs(), {a: {} for a in self.agents}

    def _step(self, actions):
        agents = self.possible_agents
        act = np.fromiter((actions[a] for a in agents), np.int64, self._n)
        contributed = act == CONTRIBUTE
        r = self.payoffs(contributed)
        joint = tuple(act.tolist())
        self._t += 1
        self._last, self._last_rewards = joint, r
        done = self._t >= self.horizon
        rewards = {a: float(r[i]) for i, a in enumerate(agents)}
        infos = {a: {"joint_action": joint, "cooperated": bool(contributed[i])}
                 for i, a in enumerate(agents)}
        if done:
            self.agents = []
        return (self._obs(), rewards, {a: False for a in agents}, {a: done for a in agents}, infos)

    def _render_text(self) -> str:
        head = f"PublicGoods N={self._n} beta={self.factor} ({self.form}) t={self._t}/{self.horizon}"
        if self._last is None:
            return head + " start"
        marks = "".join("C" if k == CONTRIBUTE else "." for k in self._last)
        rew = ", ".join(f"{x:.3g}" for x in self._last_rewards)
        return f"{head} contributions=[{marks}] rewards=({rew})"
