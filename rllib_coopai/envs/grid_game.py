"""DCL's 2-player line-grid social dilemma (DCL paper §4.1.2, Table 6; hand-computed oracles).

A line of ``grid_size`` cells (default 4) indexed ``0 .. N-1``. Player 1 (``player_0``) starts at
cell 0, player 2 (``player_1``) at cell ``N-1``. Both have the same two absolute moves:
``0 = backward`` (``p <- max(p-1, 0)``) and ``1 = forward`` (``p <- min(p+1, N-1)``); moves are
simultaneous and independent (no collisions; cells may be shared or crossed).

Rewards are computed from the positions *after* the move (reference code), with conflict level
``k = conflict`` (default 2)::

    r1 = p1 - k * (N-1 - p2)
    r2 = (N-1 - p2) - k * p1

Moving toward the opponent's start (player 1 forward, player 2 backward) is the dominant "defect"
move; "cooperate" is therefore **action 0 for player 1 and action 1 for player 2** -- reported as
``infos[a]["cooperated"]``. Episodes are truncated after ``horizon`` steps (default 16).

Observation (both players, float32 ``Box``): one-hot(p1) ⊕ one-hot(p2), length ``2N``; at reset
``[1,0,0,0, 0,0,0,1]``. No time index (as in the paper's code).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_float, check_int

BACKWARD, FORWARD = 0, 1


class GridGameEnv(CoopParallelEnv):
    """Args:
        grid_size: number of cells N (>= 2, paper: 4).
        horizon: steps per episode (paper: 16).
        conflict: k, the cost factor of the opponent's advance (paper code: 2).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "grid_game", "is_parallelizable": True}

    def __init__(
        self,
        grid_size: int = 4,
        horizon: int = 16,
        conflict: float = 2.0,
        render_mode: Optional[str] = None,
    ):
        super().__init__(render_mode)
        self.grid_size = check_int("grid_size", grid_size, 2, None)
        self.horizon = check_int("horizon", horizon, 1, None)
        self.conflict = check_float("conflict", conflict, 0.0, None)
        self.possible_agents = ["player_0", "player_1"]
        n = self.grid_size
        space = spaces.Box(0.0, 1.0, (2 * n,), np.float32)
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(2) for a in self.possible_agents}
        self.cooperative_actions = (BACKWARD, FORWARD)
        # Precomputed tables: next position [p, a]; observation [p1, p2]; rewards [p1, p2].
        p = np.arange(n)
        self._next = np.stack([np.maximum(p - 1, 0), np.minimum(p + 1, n - 1)], axis=1)
        eye = np.eye(n, dtype=np.float32)
        self._obs_table = np.concatenate(
            [np.repeat(eye[:, None, :], n, 1), np.repeat(eye[None, :, :], n, 0)], axis=2
        )
        p1, p2 = np.meshgrid(p, p, indexing="ij")
        self._r_table = np.stack(
            [p1 - self.conflict * (n - 1 - p2), (n - 1 - p2) - self.conflict * p1], axis=-1
        ).astype(np.float64)
        self._p1, self._p2 = 0, n - 1
        self._t = 0
        self._last = None

    def _observe(self):
        o = self._obs_table[self._p1, self._p2]
        return {"player_0": o.copy(), "player_1": o.copy()}

    def _reset(self, options):
        self._p1, self._p2 = 0, self.grid_size - 1
        self._t = 0
        self._last = None
        return self._observe(), {a: {} for a in self.agents}

    def _step(self, actions):
        a1, a2 = int(actions["player_0"]), int(actions["player_1"])
        self._p1 = int(self._next[self._p1, a1])
        self._p2 = int(self._next[self._p2, a2])
        self._t += 1
        joint = (a1, a2)
        self._last = joint
        r = self._r_table[self._p1, self._p2]
        rewards = {"player_0": float(r[0]), "player_1": float(r[1])}
        done = self._t >= self.horizon
        infos = {
            "player_0": {"joint_action": joint, "cooperated": a1 == BACKWARD},
            "player_1": {"joint_action": joint, "cooperated": a2 == FORWARD},
        }
        obs = self._observe()
        if done:
            self.agents = []
        return (obs, rewards, {"player_0": False, "player_1": False},
                {"player_0": done, "player_1": done}, infos)

    def _render_text(self) -> str:
        cells = []
        for c in range(self.grid_size):
            s = ("1" if self._p1 == c else "") + ("2" if self._p2 == c else "")
            cells.append(f"[{s:^2}]")
        last = "" if self._last is None else f" last={self._last}"
        return f"GridGame t={self._t}/{self.horizon} {''.join(cells)}{last}"
