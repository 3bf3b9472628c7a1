"""Coin games on a small toroidal grid: the 2-player Coin Game and the asymmetric bargaining
Coin Game (ABCG).

Common mechanics (the reference dynamics of github.com/alshedivat/lola and
github.com/longtermrisk/marltoolbox):

* Two players, red = ``player_0`` (player 1) and blue = ``player_1``, on a ``grid_size`` x
  ``grid_size`` grid (default 3x3) that wraps around at the edges (torus).
* 4 actions: ``0 = right``, ``1 = left``, ``2 = down``, ``3 = up`` (no "stay", as in the reference
  code). Moves are simultaneous; players may share a cell.
* Episodes are truncated after ``horizon`` steps (default 100, AMD thesis §4.3.1;
  normative-disagreement paper App. B).
* Observations are float32 ``Box(0, 1, (grid_size, grid_size, C))`` (height, width, channels)
  selected by ``obs_mode``:

  - ``"relative"`` (default): channels ordered from the observer's point of view (own player,
    other player, own-colour coin, other-colour coin, ...); absolute positions. The same policy
    network can then play either colour (marltoolbox's default).
  - ``"global"``: the same picture for both players, channels in fixed colour order (red player,
    blue player, red ..., blue ...) -- LOLA's original layout.
  - ``"egocentric"``: ``"relative"`` channels with the grid rolled so the observer sits at the
    centre cell (exact on a torus; for even ``grid_size`` at ``(g//2, g//2)``).

Coin Game (``CoinGameEnv``, Lerer & Peysakhovich rules, AMD thesis §4.3.1)
-------------------------------------------------------------------------
One coin, red or blue. Any player stepping on it picks it up: +1 to the picker; if the coin has
the *other* player's colour, that other player gets -2. Both players can pick the same coin in the
same step (then both get +1 and the owner also -2). A new coin appears right after a pickup, on a
cell not occupied by a player, with colour per ``coin_colour``: ``"random"`` (default, the AMD
paper's text) or ``"alternate"`` (LOLA/marltoolbox code). Channels: 4.
``infos[a]["cooperated"]`` is reported on pickup steps only, for each picker: True iff it picked
its own colour. ``infos[a]["picked"]`` / ``["picked_own"]`` are always present.

ABCG (``AsymmetricBargainingCoinGameEnv``, normative-disagreement paper §4.1, rewards of its reference code)
-------------------------------------------------------------------------------------
Two coins at a time: a Cooperation coin (CC) of one colour and a Disagreement coin (DC) of the
other colour. The CC is consumed only when *both* players step onto it in the same step and pays
its colour's owner ``red_coop_reward`` (2.0) or ``blue_coop_reward`` (3.0), the other player 0.
The DC is consumed only by the player of its colour and pays that player ``disagreement_reward``
(1.0). When a coin is consumed both coins are re-placed (on distinct cells free of players) and
the CC colour alternates (the initial CC colour is random). Players start on distinct cells.
Channels: 6 = players (2), DC (own, other), CC (own, other) -- in ``"global"`` mode red before blue.
``infos[a]["cooperated"]`` on consumption steps only: True for both players on a joint CC pickup,
False for the player that took its DC. ``infos[a]["coin_event"]`` is "cc", "dc" or None.
``punishment_helped`` (default 0) is the reference code's optional penalty to the DC's owner when
the other player stands on the DC as it is taken (the code's value is 0.75). One deliberate
difference from the reference code: there, a red player standing alone on a red CC blocks blue
from taking its DC in that step (an ``elif``); here, as in the paper's text, the DC is taken by its
owner whenever the CC is not consumed jointly.
"""
from __future__ import annotations

import abc

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_choice, check_float, check_int

RIGHT, LEFT, DOWN, UP = 0, 1, 2, 3
_MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])
AGENTS = ("player_0", "player_1")
COLOURS = ("red", "blue")


class _GridCoinBase(CoopParallelEnv):
    n_channels = 4

    def __init__(self, grid_size, horizon, obs_mode, render_mode):
        super().__init__(render_mode)
        g = self.grid_size = check_int("grid_size", grid_size, 2, None)
        self.horizon = check_int("horizon", horizon, 1, None)
        self.obs_mode = check_choice("obs_mode", obs_mode, ("relative", "global", "egocentric"))
        self.possible_agents = list(AGENTS)
        self.n_cells = g * g
        space = spaces.Box(0.0, 1.0, (g, g, self.n_channels), np.float32)
        self.observation_spaces = {a: space for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(4) for a in AGENTS}
        rows, cols = np.divmod(np.arange(self.n_cells), g)
        # next_cell[cell, action] on the torus.
        self._next = (((rows[:, None] + _MOVES[None, :, 0]) % g) * g
                      + (cols[:, None] + _MOVES[None, :, 1]) % g)
        # roll[cell] = permutation of cells putting `cell` at the centre (for "egocentric").
        c = g // 2
        self._roll = np.stack([
            (((rows + r - c) % g) * g + (cols + k - c) % g) for r, k in zip(rows, cols)
        ])
        self._pos = np.zeros(2, np.int64)
        self._t = 0
        self._last = None

    def _free_cell(self, taken) -> int:
        while True:
            cell = int(self.np_random.integers(self.n_cells))
            if cell not in taken:
                return cell

    @abc.abstractmethod
    def _layers(self):
        """(n_channels, n_cells) picture in global (red-first) channel order."""

    @abc.abstractmethod
    def _swap_index(self):
        """Channel permutation that turns the red-first picture into blue's own-first view."""

    def _observe(self):
        glob = self._layers()
        if self.obs_mode == "global":
            o = glob.T.reshape(self.grid_size, self.grid_size, self.n_channels)
            return {"player_0": o, "player_1": o.copy()}
        out = {}
        for i, a in enumerate(AGENTS):
            pic = glob if i == 0 else glob[self._swap_index()]
            if self.obs_mode == "egocentric":
                pic = pic[:, self._roll[self._pos[i]]]
            out[a] = np.ascontiguousarray(pic.T).reshape(self.grid_size, self.grid_size, -1)
        return out

    def _move(self, actions):
        a0, a1 = int(actions["player_0"]), int(actions["player_1"])
        self._pos = np.array([self._next[self._pos[0], a0], self._next[self._pos[1], a1]])
        self._t += 1
        self._last = (a0, a1)
        return (a0, a1)

    def _finish(self, joint, r0, r1, extra):
        done = self._t >= self.horizon
        obs = self._observe()
        rewards = {"player_0": float(r0), "player_1": float(r1)}
        infos = {a: dict(joint_action=joint, **extra[i]) for i, a in enumerate(AGENTS)}
        if done:
            self.agents = []
        return (obs, rewards, {a: False for a in AGENTS}, {a: done for a in AGENTS}, infos)

    def _grid_text(self, symbols):
        g = self.grid_size
        cells = [["." for _ in range(g)] for _ in range(g)]
        for cell, s in symbols:
            r, c = divmod(int(cell), g)
            cells[r][c] = s if cells[r][c] == "." else cells[r][c] + s
        return "\n".join(" ".join(f"{x:>3}" for x in row) for row in cells)


class CoinGameEnv(_GridCoinBase):
    """2-player Coin Game.

    Args:
        grid_size: side of the square torus (default 3).
        horizon: steps per episode (default 100; the AMD code used 20).
        obs_mode: ``"relative"`` (default), ``"global"`` or ``"egocentric"``.
        coin_colour: ``"random"`` (default) or ``"alternate"`` colour for each new coin.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "coin_game", "is_parallelizable": True}
    n_channels = 4

    def __init__(self, grid_size: int = 3, horizon: int = 100, obs_mode: str = "relative",
                 coin_colour: str = "random", render_mode: Optional[str] = None):
        super().__init__(grid_size, horizon, obs_mode, render_mode)
        self.coin_colour = check_choice("coin_colour", coin_colour, ("random", "alternate"))
        self._coin = 0
        self._coin_red = True

    def _swap_index(self):
        return [1, 0, 3, 2]

    def _layers(self):
        lay = np.zeros((4, self.n_cells), np.float32)
        lay[0, self._pos[0]] = 1.0
        lay[1, self._pos[1]] = 1.0
        lay[2 if self._coin_red else 3, self._coin] = 1.0
        return lay

    def _reset(self, options):
        rng = self.np_random
        self._pos = rng.integers(self.n_cells, size=2)
        self._coin_red = bool(rng.integers(2))
        self._coin = self._free_cell((int(self._pos[0]), int(self._pos[1])))
        self._t = 0
        self._last = None
        return self._observe(), {a: {} for a in self.agents}

    def _step(self, actions):
        joint = self._move(actions)
        p0, p1 = int(self._pos[0]), int(self._pos[1])
        pick0, pick1 = p0 == self._coin, p1 == self._coin
        r0 = r1 = 0.0
        owner = 0 if self._coin_red else 1
        extra = [{"picked": pick0, "picked_own": pick0 and owner == 0},
                 {"picked": pick1, "picked_own": pick1 and owner == 1}]
        if pick0 or pick1:
            if pick0:
                r0 += 1.0
                if owner == 1:
                    r1 -= 2.0
                extra[0]["cooperated"] = owner == 0
            if pick1:
                r1 += 1.0
                if owner == 0:
                    r0 -= 2.0
                extra[1]["cooperated"] = owner == 1
            if self.coin_colour == "alternate":
                self._coin_red = not self._coin_red
            else:
                self._coin_red = bool(self.np_random.integers(2))
            self._coin = self._free_cell((p0, p1))
        return self._finish(joint, r0, r1, extra)

    def _render_text(self) -> str:
        coin = "r" if self._coin_red else "b"
        grid = self._grid_text([(self._pos[0], "R"), (self._pos[1], "B"), (self._coin, coin)])
        last = "" if self._last is None else f" last={self._last}"
        return f"CoinGame t={self._t}/{self.horizon}{last} (R/B players, r/b coin)\n{grid}"


class AsymmetricBargainingCoinGameEnv(_GridCoinBase):
    """Asymmetric bargaining Coin Game (ABCG).

    Args:
        grid_size: side of the square torus (default 3).
        horizon: steps per episode (default 100).
        obs_mode: ``"relative"`` (default), ``"global"`` or ``"egocentric"``.
        red_coop_reward: red's payoff for a jointly taken red Cooperation coin (2.0).
        blue_coop_reward: blue's payoff for a jointly taken blue Cooperation coin (3.0).
        disagreement_reward: owner's payoff for its Disagreement coin (1.0).
        punishment_helped: penalty (>= 0) to the DC's owner when the other player is on the DC as
            it is taken (0 = off; the reference code's ``punishment_helped=True`` is 0.75).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "asymmetric_coin_game", "is_parallelizable": True}
    n_channels = 6

    def __init__(self, grid_size: int = 3, horizon: int = 100, obs_mode: str = "relative",
                 red_coop_reward: float = 2.0, blue_coop_reward: float = 3.0,
                 disagreement_reward: float = 1.0, punishment_helped: float = 0.0,
                 render_mode: Optional[str] = None):
        super().__init__(grid_size, horizon, obs_mode, render_mode)
        self.red_coop_reward = check_float("red_coop_reward", red_coop_reward)
        self.blue_coop_reward = check_float("blue_coop_reward", blue_coop_reward)
        self.disagreement_reward = check_float("disagreement_reward", disagreement_reward)
        self.punishment_helped = check_float("punishment_helped", punishment_helped, 0.0)
        self._coop_reward = (self.red_coop_reward, self.blue_coop_reward)
        self._cc = 0  # cell of the Cooperation coin
        self._dc = 1  # cell of the Disagreement coin
        self._cc_colour = 0  # 0 = red CC (so the DC is blue), 1 = blue CC (DC red)

    def _swap_index(self):
        return [1, 0, 3, 2, 5, 4]

    def _layers(self):
        lay = np.zeros((6, self.n_cells), np.float32)
        lay[0, self._pos[0]] = 1.0
        lay[1, self._pos[1]] = 1.0
        dc_colour = 1 - self._cc_colour
        lay[2 + dc_colour, self._dc] = 1.0
        lay[4 + self._cc_colour, self._cc] = 1.0
        return lay

    def _place_coins(self):
        taken = (int(self._pos[0]), int(self._pos[1]))
        self._cc = self._free_cell(taken)
        self._dc = self._free_cell(taken + (self._cc,))

    def _reset(self, options):
        rng = self.np_random
        p0 = int(rng.integers(self.n_cells))
        p1 = self._free_cell((p0,))
        self._pos = np.array([p0, p1])
        self._cc_colour = int(rng.integers(2))
        self._place_coins()
        self._t = 0
        self._last = None
        return self._observe(), {a: {} for a in self.agents}

    def _step(self, actions):
        joint = self._move(actions)
        p0, p1 = int(self._pos[0]), int(self._pos[1])
        r = [0.0, 0.0]
        extra = [{"coin_event": None}, {"coin_event": None}]
        dc_owner = 1 - self._cc_colour
        consumed = False
        if p0 == self._cc and p1 == self._cc:
            r[self._cc_colour] += self._coop_reward[self._cc_colour]
            for e in extra:
                e.update(coin_event="cc", cooperated=True)
            consumed = True
        elif int(self._pos[dc_owner]) == self._dc:
            r[dc_owner] += self.disagreement_reward
            if int(self._pos[1 - dc_owner]) == self._dc:
                r[dc_owner] -= self.punishment_helped
            extra[dc_owner].update(coin_event="dc", cooperated=False)
            extra[1 - dc_owner]["coin_event"] = "dc"
            consumed = True
        if consumed:
            self._cc_colour = 1 - self._cc_colour
            self._place_coins()
        return self._finish(joint, r[0], r[1], extra)

    def _render_text(self) -> str:
        cc = "Cr" if self._cc_colour == 0 else "Cb"
        dc = "Db" if self._cc_colour == 0 else "Dr"
        grid = self._grid_text([(self._pos[0], "R"), (self._pos[1], "B"), (self._cc, cc), (self._dc, dc)])
        last = "" if self._last is None else f" last={self._last}"
        return (f"ABCG t={self._t}/{self.horizon}{last} (R/B players, C=cooperation coin, "
                f"D=disagreement coin, r/b colour)\n{grid}")
