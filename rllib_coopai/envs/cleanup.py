"""Cleanup, the sequential social dilemma used by LIO and the incentive designer (LIO thesis §5.3.1).

Maps (``map_size``), row 0 at the top; ``@`` wall, ``H`` waste cell (initially waste), ``R`` river
cell (initially clean), ``B`` apple spawn point, ``P`` agent spawn point, space = floor::

    7x7                 10x10
    @@@@@@@             @@@@@@@@@@
    @H  PB@             @HH   P B@
    @H   B@             @RR    BB@
    @    B@             @HH     B@
    @    B@             @RR    BB@
    @ P  B@             @HH P   B@
    @@@@@@@             @RR    BB@
                        @HH     B@
                        @RRP   BB@
                        @@@@@@@@@@

Dynamics (LIO's modified SSD: no rotation, everyone faces up, no tagging beam):

* Actions (6): ``0 left, 1 right, 2 up, 3 down, 4 stay, 5 clean``. Walls block moves; agents never
  share a cell -- several agents moving onto one cell: a random one gets it, the others stay;
  moving onto a cell whose agent stays is blocked (repeated until consistent).
* Step order: movement -> agents collect the apple on their cell (+1 each) -> cleaning beams (in
  agent order) -> spawn probabilities from the waste density -> apple and waste spawning ->
  observations.
* Cleaning beam: three parallel rays pointing up; the centre ray starts at the cell above the
  agent, the side rays at the agent's left / right neighbours. Each ray travels up to
  ``beam_length`` (5) cells, stops at walls and agents, and turns the first waste cell it meets
  into river (and stops there). No cost.
* Waste density ``d`` = waste cells / (H + R cells). If ``d >= threshold_depletion``: apple and
  waste spawn probabilities are 0. Otherwise the waste probability is ``waste_spawn_prob`` and the
  apple probability is ``apple_respawn_prob`` if ``d <= threshold_restoration`` else
  ``(1 - (d - r) / (D - r)) * apple_respawn_prob``.
* Apples: each B cell with no apple and no agent gets one independently with the apple
  probability. Waste: at most one new waste cell per step -- with ``k`` clean H/R cells one appears
  with probability ``1 - (1 - p)^k`` on a uniformly chosen clean H/R cell (the same distribution as
  the reference code's "shuffle and stop at the first success").
* Episodes start with all H cells waste and no apples; truncated after ``horizon`` (50) steps.
* Spawn points (``shuffle_spawn=False``, reference): agent 0 takes the last ``P`` cell in
  row-major order, agent 1 the one before, ...; when ``n_agents`` exceeds the ``P`` cells the
  remaining agents take free floor cells, again from the bottom-right. ``shuffle_spawn=True``
  draws them at random instead.

Parameters per map (Table B.2): 7x7: apple 0.5, depletion 0.6, restoration 0.0, waste 0.5,
view 4; 10x10: apple 0.3, depletion 0.4, restoration 0.0, waste 0.5, view 7. Each can be
overridden by keyword.

Observation (float32 ``Box(0, 1, (2v+1, 2v+1, 3))``): egocentric RGB window centred on the agent,
spanning the whole map from anywhere (v = ``view_size``), outside of the map padded with 0, RGB
divided by 256. Colours: wall (180,180,180), apple (0,255,0), waste (113,75,24), river
(99,156,194), beam (100,255,255, the cells the beams passed this step), agent 1 (159,67,255),
agent 2 (2,81,154), further agents from a fixed list; floor black. ``state()`` returns the global
RGB image of the whole map (the designer's view).

Info contract: ``joint_action``; ``action_type`` = ``"clean"`` (fired the beam), ``"collect"``
(collected an apple, not firing) or ``"other"`` -- the designer's three incentive types;
``fired_beam`` (bool, the incentive modules' multi-hot vector), ``cleaned`` (number of waste cells
this agent's beam cleared) and ``cooperated`` = the agent cleared at least one waste cell this step
(firing without hitting waste is not counted).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_bool, check_choice, check_float, check_int

MAPS = {
    "7x7": [
        "@@@@@@@",
        "@H  PB@",
        "@H   B@",
        "@    B@",
        "@    B@",
        "@ P  B@",
        "@@@@@@@",
    ],
    "10x10": [
        "@@@@@@@@@@",
        "@HH   P B@",
        "@RR    BB@",
        "@HH     B@",
        "@RR    BB@",
        "@HH P   B@",
        "@RR    BB@",
        "@HH     B@",
        "@RRP   BB@",
        "@@@@@@@@@@",
    ],
}
MAP_DEFAULTS = {
    "7x7": dict(apple_respawn_prob=0.5, threshold_depletion=0.6, threshold_restoration=0.0,
                waste_spawn_prob=0.5, view_size=4),
    "10x10": dict(apple_respawn_prob=0.3, threshold_depletion=0.4, threshold_restoration=0.0,
                  waste_spawn_prob=0.5, view_size=7),
}
LEFT, RIGHT, UP, DOWN, STAY, CLEAN = range(6)
ACTION_NAMES = ("left", "right", "up", "down", "stay", "clean")
_DELTA = np.array([[0, -1], [0, 1], [-1, 0], [1, 0], [0, 0], [0, 0]])

# Palette indices of the colour map.
FLOOR, WALL, APPLE, WASTE, RIVER, BEAM, AGENT0 = range(7)
_COLOURS = [
    (0, 0, 0), (180, 180, 180), (0, 255, 0), (113, 75, 24), (99, 156, 194), (100, 255, 255),
    (159, 67, 255), (2, 81, 154),  # agents 1, 2 (reference colours)
    (204, 0, 204), (216, 30, 54), (254, 151, 0), (238, 223, 16), (255, 255, 255),
    (120, 120, 0), (0, 128, 128), (255, 140, 200),
]


class CleanupEnv(CoopParallelEnv):
    """Args:
        map_size: ``"7x7"`` (default) or ``"10x10"``.
        n_agents: number of agents (default 2), up to the free cells of the map.
        horizon: steps per episode (50).
        beam_length: cells each beam ray travels (5).
        apple_respawn_prob, waste_spawn_prob, threshold_depletion, threshold_restoration,
        view_size: override the map's Table B.2 values (``None`` = map default).
        shuffle_spawn: random spawn cells instead of the reference's fixed order.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "cleanup", "is_parallelizable": True}
    #: every value the ``action_type`` info can take (metrics per action type use this order)
    ACTION_TYPES = ("clean", "collect", "other")
    #: what an incentive head sees of another agent's action (LIO thesis §5.3.1; the authors' code's
    #: ``obs_cleaned_1hot=True``): only whether it fired the cleaning beam
    #: (``LIOConfig.incentive_observed_actions="auto"``)
    INCENTIVE_OBSERVED_ACTIONS = (CLEAN,)

    def __init__(
        self,
        map_size: str = "7x7",
        n_agents: int = 2,
        horizon: int = 50,
        beam_length: int = 5,
        apple_respawn_prob: Optional[float] = None,
        waste_spawn_prob: Optional[float] = None,
        threshold_depletion: Optional[float] = None,
        threshold_restoration: Optional[float] = None,
        view_size: Optional[int] = None,
        shuffle_spawn: bool = False,
        render_mode: Optional[str] = None,
    ):
        super().__init__(render_mode)
        self.map_size = check_choice("map_size", map_size, list(MAPS))
        d = MAP_DEFAULTS[self.map_size]
        self.horizon = check_int("horizon", horizon, 1, None)
        self.beam_length = check_int("beam_length", beam_length, 1, None)
        pick = lambda v, k: d[k] if v is None else v
        self.apple_respawn_prob = check_float("apple_respawn_prob", pick(apple_respawn_prob, "apple_respawn_prob"), 0.0, 1.0)
        self.waste_spawn_prob = check_float("waste_spawn_prob", pick(waste_spawn_prob, "waste_spawn_prob"), 0.0, 1.0)
        self.threshold_depletion = check_float(
            "threshold_depletion", pick(threshold_depletion, "threshold_depletion"), 0.0, 1.0, low_open=True)
        self.threshold_restoration = check_float(
            "threshold_restoration", pick(threshold_restoration, "threshold_restoration"),
            0.0, self.threshold_depletion, high_open=True)
        self.view_size = check_int("view_size", pick(view_size, "view_size"), 1, None)
        self.shuffle_spawn = check_bool("shuffle_spawn", shuffle_spawn)

        rows = MAPS[self.map_size]
        self.height, self.width = len(rows), len(rows[0])
        grid = np.array([list(r) for r in rows])
        self._wall = grid == "@"
        self._potential_waste = np.flatnonzero((grid == "H") | (grid == "R"))
        self._initial_waste = (grid == "H").ravel()
        self._apple_cells = np.flatnonzero(grid == "B")
        p_cells = [int(c) for c in np.flatnonzero(grid == "P")][::-1]
        floor = [int(c) for c in np.flatnonzero(grid == " ")][::-1]
        self._spawn_order = p_cells + floor
        self._n_p_cells = len(p_cells)
        n = check_int("n_agents", n_agents, 1, min(len(self._spawn_order), len(_COLOURS) - AGENT0))
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self._n = n

        v = self.view_size
        side = 2 * v + 1
        space = spaces.Box(0.0, 1.0, (side, side, 3), np.float32)
        self.observation_spaces = {a: space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(6) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, 1.0, (self.height, self.width, 3), np.float32)
        self._palette = np.array(_COLOURS, np.float32) / 256.0

        H, W = self.height, self.width
        n_cells = H * W
        self._n_cells = n_cells
        r, c = np.divmod(np.arange(n_cells), W)
        # Movement table: next cell for (cell, action); walls block.
        nr = np.clip(r[:, None] + _DELTA[None, :, 0], 0, H - 1)
        nc = np.clip(c[:, None] + _DELTA[None, :, 1], 0, W - 1)
        nxt = nr * W + nc
        self._move = np.where(self._wall.ravel()[nxt], np.arange(n_cells)[:, None], nxt)
        # Beam rays: for each cell, 3 rays x beam_length cells; out-of-map -> sentinel n_cells
        # (treated as wall).
        L = self.beam_length
        steps = np.arange(L)
        ray_r = np.stack([r[:, None] - 1 - steps, r[:, None] - steps, r[:, None] - steps], 1)
        ray_c = np.stack([np.repeat(c[:, None], L, 1), np.repeat(c[:, None] - 1, L, 1),
                          np.repeat(c[:, None] + 1, L, 1)], 1)
        inside = (ray_r >= 0) & (ray_r < H) & (ray_c >= 0) & (ray_c < W)
        self._rays = np.where(inside, ray_r * W + ray_c, n_cells)  # (n_cells, 3, L)
        self._wall_ext = np.append(self._wall.ravel(), True)
        # Base palette-index map (walls / floor), padded for the egocentric windows.
        self._base = np.where(self._wall.ravel(), WALL, FLOOR).astype(np.int64)
        self._pad_idx = np.zeros((H + 2 * v, W + 2 * v), np.int64)
        self._side = side

        self._waste = self._initial_waste.copy()
        self._apples = np.zeros(n_cells, bool)
        self._pos = np.zeros(n, np.int64)
        self._beam = np.zeros(n_cells, bool)
        self._t = 0
        self._last = None

    # ------------------------------------------------------------------------------------
    def spawn_probabilities(self):
        """(apple probability, waste probability) for the current waste density."""
        density = np.count_nonzero(self._waste[self._potential_waste]) / self._potential_waste.size
        D, r = self.threshold_depletion, self.threshold_restoration
        if density >= D:
            return 0.0, 0.0
        if density <= r:
            return self.apple_respawn_prob, self.waste_spawn_prob
        return (1.0 - (density - r) / (D - r)) * self.apple_respawn_prob, self.waste_spawn_prob

    def _spawn(self):
        p_apple, p_waste = self.spawn_probabilities()
        if p_apple > 0.0:
            cells = self._apple_cells
            occupied = np.zeros(self._n_cells, bool)
            occupied[self._pos] = True
            free = ~(self._apples[cells] | occupied[cells])
            grow = free & (self.np_random.random(cells.size) < p_apple)
            self._apples[cells[grow]] = True
        if p_waste > 0.0:
            clean = self._potential_waste[~self._waste[self._potential_waste]]
            k = clean.size
            if k and self.np_random.random() < 1.0 - (1.0 - p_waste) ** k:
                self._waste[clean[self.np_random.integers(k)]] = True

    def _index_map(self):
        idx = self._base.copy()
        idx[self._potential_waste] = RIVER
        idx[self._waste] = WASTE
        idx[self._apples] = APPLE
        idx[self._beam] = BEAM
        idx[self._pos] = AGENT0 + np.arange(self._n)
        return idx.reshape(self.height, self.width)

    def _observe(self):
        v = self.view_size
        self._pad_idx[v:v + self.height, v:v + self.width] = self._index_map()
        rgb = self._palette[self._pad_idx]
        rr, cc = np.divmod(self._pos, self.width)
        s = self._side
        return {a: rgb[rr[i]:rr[i] + s, cc[i]:cc[i] + s].copy()
                for i, a in enumerate(self.possible_agents)}

    def state(self) -> np.ndarray:
        return self._palette[self._index_map()]

    def _reset(self, options):
        self._waste = self._initial_waste.copy()
        self._apples[:] = False
        self._beam[:] = False
        if self.shuffle_spawn:
            order = np.array(self._spawn_order)
            p = self.np_random.permutation(self._n_p_cells)
            rest = self._n_p_cells + self.np_random.permutation(len(order) - self._n_p_cells)
            self._pos = order[np.concatenate([p, rest])[: self._n]].astype(np.int64)
        else:
            self._pos = np.array(self._spawn_order[: self._n], np.int64)
        self._t = 0
        self._last = None
        return self._observe(), {a: {} for a in self.agents}

    def _resolve_moves(self, target):
        """No two agents end on one cell: contested cells go to a staying agent, else to a random
        mover; the losers stay (repeated until no cell is claimed twice)."""
        if self._n == 1:
            return target
        cur = self._pos.tolist()
        tgt = target.tolist()
        if len(set(tgt)) == self._n:
            return target
        while True:
            claims = {}
            for i, t in enumerate(tgt):
                claims.setdefault(t, []).append(i)
            conflict = False
            for t, who in claims.items():
                if len(who) > 1:
                    conflict = True
                    stay = [i for i in who if cur[i] == t]
                    keep = stay[0] if stay else who[int(self.np_random.integers(len(who)))]
                    for i in who:
                        if i != keep:
                            tgt[i] = cur[i]
            if not conflict:
                return np.array(tgt, np.int64)

    def _step(self, actions):
        agents = self.possible_agents
        act = np.fromiter((actions[a] for a in agents), np.int64, self._n)
        joint = tuple(act.tolist())
        self._t += 1
        # 1. movement
        self._pos = self._resolve_moves(self._move[self._pos, act])
        # 2. apples
        collected = self._apples[self._pos]
        self._apples[self._pos] = False
        # 3. cleaning beams
        self._beam[:] = False
        fired = act == CLEAN
        cleaned = np.zeros(self._n, np.int64)
        if fired.any():
            occupied = np.zeros(self._n_cells + 1, bool)
            occupied[self._pos] = True
            waste_ext = np.append(self._waste, False)
            block = self._wall_ext | occupied
            L = self.beam_length
            for i in np.flatnonzero(fired):
                rays = self._rays[self._pos[i]]  # (3, L)
                hit_wall = block[rays]
                hit_waste = waste_ext[rays]
                stop = hit_wall | hit_waste
                first = np.where(stop.any(1), stop.argmax(1), L)  # index of first stop per ray
                for k in range(3):
                    f = first[k]
                    if f < L and hit_waste[k, f] and not hit_wall[k, f]:
                        cell = rays[k, f]
                        waste_ext[cell] = False
                        cleaned[i] += 1
                        self._beam[rays[k, : f + 1]] = True
                    else:
                        self._beam[rays[k, :f]] = True
            self._waste = waste_ext[:-1]
        # 4. spawning
        self._spawn()
        self._last = joint
        obs = self._observe()
        rewards = {a: float(collected[i]) for i, a in enumerate(agents)}
        done = self._t >= self.horizon
        infos = {}
        for i, a in enumerate(agents):
            infos[a] = {
                "joint_action": joint,
                "action_type": "clean" if fired[i] else ("collect" if collected[i] else "other"),
                "fired_beam": bool(fired[i]),
                "cleaned": int(cleaned[i]),
                "cooperated": bool(cleaned[i] > 0),
            }
        if done:
            self.agents = []
        return (obs, rewards, {a: False for a in agents}, {a: done for a in agents}, infos)

    def _render_text(self) -> str:
        chars = np.array(list(" @AHR*"))
        idx = self._index_map()
        lines = []
        for row in idx:
            lines.append("".join(chars[k] if k < AGENT0 else str(k - AGENT0) for k in row))
        p_apple, p_waste = self.spawn_probabilities()
        head = (f"Cleanup {self.map_size} t={self._t}/{self.horizon} apples={int(self._apples.sum())} "
                f"waste={int(self._waste.sum())}/{self._potential_waste.size} "
                f"p_apple={p_apple:.3f} p_waste={p_waste:.2f}")
        legend = "(@ wall, A apple, H waste, R river, * beam, digits = agents)"
        return "\n".join([head, legend] + lines)
