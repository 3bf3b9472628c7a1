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
OBS_MODES = ("relative", "global", "egocentric")


# ---------------------------------------------------------------------------------------------
# The rules, once: pure functions of a batch of states (int64 arrays, one row per state), used by
# the envs' step() (a batch of one) and by models of the game (e.g. amTFT's punishment rollouts,
# rllib_coopai.algorithms.amtft.game_model). Coin Game state row: (red cell, blue cell, coin
# cell, coin is red); ABCG row: (red cell, blue cell, CC cell, DC cell, CC colour 0=red/1=blue).
# ---------------------------------------------------------------------------------------------
def draw_free_cell(rng, n_cells: int, taken) -> int:
    """A uniform cell not in ``taken``, by rejection (the reference code's respawn draw)."""
    while True:
        cell = int(rng.integers(n_cells))
        if cell not in taken:
            return cell


class EnvDraws:
    """The env's random draws: per state that needs one (in batch order), a colour bit
    ``rng.integers(2)`` and respawn cells by ``draw_free_cell``. On a batch of one state this
    consumes ``rng`` exactly as the env's ``step()`` does."""

    def __init__(self, rng):
        self.rng = rng

    def colour(self, mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(mask), np.int64)
        for b in np.flatnonzero(mask):
            out[b] = int(self.rng.integers(2))
        return out

    def cell(self, taken: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(mask), np.int64)
        for b in np.flatnonzero(mask):
            out[b] = draw_free_cell(self.rng, taken.shape[1], set(np.flatnonzero(taken[b]).tolist()))
        return out


class SharedDraws:
    """Common random numbers for comparing rollouts: each call makes ONE draw that every state of
    the batch uses (one colour bit; one random order of the cells, from which each state takes the
    first free cell, i.e. a uniform free cell as ``draw_free_cell``). Two rollouts of a batch that
    are in the same state at the same step therefore respawn the same coin."""

    def __init__(self, rng):
        self.rng = rng

    def colour(self, mask: np.ndarray) -> np.ndarray:
        return np.full(len(mask), int(self.rng.integers(2)), np.int64)

    def cell(self, taken: np.ndarray, mask: np.ndarray) -> np.ndarray:
        order = self.rng.permutation(taken.shape[1])
        return order[(~taken[:, order]).argmax(1)]


class _GridRules:
    """Torus moves and observations shared by the two coin games."""

    n_channels = 4
    swap = [1, 0, 3, 2]  # red-first picture -> blue's own-first view

    def __init__(self, grid_size: int):
        g = self.grid_size = int(grid_size)
        self.n_cells = g * g
        rows, cols = np.divmod(np.arange(self.n_cells), g)
        # next_cell[cell, action] on the torus.
        self.next_cell = (((rows[:, None] + _MOVES[None, :, 0]) % g) * g
                          + (cols[:, None] + _MOVES[None, :, 1]) % g)
        # roll[cell] = permutation of cells putting `cell` at the centre (for "egocentric").
        c = g // 2
        self.roll = np.stack([
            (((rows + r - c) % g) * g + (cols + k - c) % g) for r, k in zip(rows, cols)
        ])

    def move(self, pos: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """[B, 2] cells after the joint actions [B, 2]."""
        return self.next_cell[pos, np.asarray(actions, np.int64)]

    def taken(self, pos: np.ndarray) -> np.ndarray:
        t = np.zeros((len(pos), self.n_cells), bool)
        t[np.arange(len(pos))[:, None], pos] = True
        return t

    def layers(self, state: np.ndarray) -> np.ndarray:
        """[B, n_channels, n_cells] pictures in global (red-first) channel order."""
        raise NotImplementedError

    def observe(self, state: np.ndarray, seat: int, obs_mode: str) -> np.ndarray:
        """[B, g, g, C] float32 observation of player ``seat`` (module docstring, ``obs_mode``)."""
        glob = self.layers(state)
        g = self.grid_size
        if obs_mode != "global":
            if seat == 1:
                glob = glob[:, self.swap]
            if obs_mode == "egocentric":
                glob = np.take_along_axis(glob, self.roll[state[:, seat]][:, None, :], axis=2)
        return np.ascontiguousarray(glob.transpose(0, 2, 1)).reshape(len(state), g, g, -1)


class CoinGameRules(_GridRules):
    """Coin Game rules (module docstring) on a batch of state rows (red, blue, coin, coin_red)."""

    def __init__(self, grid_size: int = 3, coin_colour: str = "random"):
        super().__init__(grid_size)
        self.coin_colour = coin_colour

    def layers(self, state):
        b = np.arange(len(state))
        lay = np.zeros((len(state), 4, self.n_cells), np.float32)
        lay[b, 0, state[:, 0]] = 1.0
        lay[b, 1, state[:, 1]] = 1.0
        lay[b, 3 - state[:, 3], state[:, 2]] = 1.0
        return lay

    def rewards(self, state, actions):
        """(next positions [B, 2], rewards [B, 2], picked [B, 2]); no randomness."""
        pos = self.move(state[:, :2], actions)
        pick = pos == state[:, 2:3]
        owner = 1 - state[:, 3]  # 0 = red coin
        # +1 to each picker; -2 to the coin's owner when the other player picks it
        penalty = pick[:, ::-1] & (owner[:, None] == np.arange(2))
        return pos, pick.astype(np.float64) - 2.0 * penalty, pick

    def step(self, state, actions, draws):
        """(next state [B, 4], rewards [B, 2], picked [B, 2]); new coins from ``draws``."""
        pos, r, pick = self.rewards(state, actions)
        any_pick = pick.any(1)
        if self.coin_colour == "alternate":
            red = 1 - state[:, 3]
        else:
            red = draws.colour(any_pick)
        coin = draws.cell(self.taken(pos), any_pick)
        nxt = np.column_stack([pos, np.where(any_pick, coin, state[:, 2]),
                               np.where(any_pick, red, state[:, 3])]).astype(np.int64)
        return nxt, r, pick


class BargainingCoinGameRules(_GridRules):
    """ABCG rules (module docstring) on a batch of state rows (red, blue, CC, DC, CC colour)."""

    n_channels = 6
    swap = [1, 0, 3, 2, 5, 4]

    def __init__(self, grid_size: int = 3, coop_reward=(2.0, 3.0), disagreement_reward: float = 1.0,
                 punishment_helped: float = 0.0):
        super().__init__(grid_size)
        self.coop_reward = np.asarray(coop_reward, np.float64)
        self.disagreement_reward = float(disagreement_reward)
        self.punishment_helped = float(punishment_helped)

    def layers(self, state):
        b = np.arange(len(state))
        lay = np.zeros((len(state), 6, self.n_cells), np.float32)
        lay[b, 0, state[:, 0]] = 1.0
        lay[b, 1, state[:, 1]] = 1.0
        lay[b, 3 - state[:, 4], state[:, 3]] = 1.0  # DC, the other colour than the CC
        lay[b, 4 + state[:, 4], state[:, 2]] = 1.0
        return lay

    def rewards(self, state, actions):
        """(next positions [B, 2], rewards [B, 2], event [B]: 0 none, 1 CC, 2 DC); no randomness."""
        pos = self.move(state[:, :2], actions)
        b = np.arange(len(state))
        cc, dc, col = state[:, 2], state[:, 3], state[:, 4]
        dc_owner = 1 - col
        joint = (pos[:, 0] == cc) & (pos[:, 1] == cc)
        took_dc = ~joint & (pos[b, dc_owner] == dc)
        helped = took_dc & (pos[b, col] == dc)
        r = np.zeros((len(state), 2), np.float64)
        r[b, col] = np.where(joint, self.coop_reward[col], 0.0)
        r[b, dc_owner] = np.where(took_dc, self.disagreement_reward
                                  - np.where(helped, self.punishment_helped, 0.0), 0.0)
        return pos, r, np.where(joint, 1, np.where(took_dc, 2, 0))

    def step(self, state, actions, draws):
        """(next state [B, 5], rewards [B, 2], event [B]); new coins from ``draws``."""
        pos, r, event = self.rewards(state, actions)
        consumed = event > 0
        taken = self.taken(pos)
        cc = draws.cell(taken, consumed)
        taken[np.arange(len(state)), cc] |= consumed
        dc = draws.cell(taken, consumed)
        nxt = np.column_stack([pos, np.where(consumed, cc, state[:, 2]),
                               np.where(consumed, dc, state[:, 3]),
                               np.where(consumed, 1 - state[:, 4], state[:, 4])]).astype(np.int64)
        return nxt, r, event


class _GridCoinBase(CoopParallelEnv):
    n_channels = 4

    def __init__(self, grid_size, horizon, obs_mode, render_mode):
        super().__init__(render_mode)
        g = self.grid_size = check_int("grid_size", grid_size, 2, None)
        self.horizon = check_int("horizon", horizon, 1, None)
        self.obs_mode = check_choice("obs_mode", obs_mode, OBS_MODES)
        self.possible_agents = list(AGENTS)
        self.n_cells = g * g
        space = spaces.Box(0.0, 1.0, (g, g, self.n_channels), np.float32)
        self.observation_spaces = {a: space for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(4) for a in AGENTS}
        self._pos = np.zeros(2, np.int64)
        self._t = 0
        self._last = None

    def _free_cell(self, taken) -> int:
        return draw_free_cell(self.np_random, self.n_cells, taken)

    @property
    def rules(self) -> _GridRules:
        """The game's pure rules object (``CoinGameRules`` / ``BargainingCoinGameRules``)."""
        return self._rules

    @abc.abstractmethod
    def state_row(self) -> np.ndarray:
        """The current state as a [1, F] row of the rules' state layout."""

    @abc.abstractmethod
    def _set_state_row(self, row) -> None:
        """Write a state row back into the env's attributes."""

    def _observe(self):
        row = self.state_row()
        if self.obs_mode == "global":
            o = self.rules.observe(row, 0, "global")[0]
            return {"player_0": o, "player_1": o.copy()}
        return {a: self.rules.observe(row, i, self.obs_mode)[0] for i, a in enumerate(AGENTS)}

    def _move(self, actions):
        """The joint action (a0, a1); the rules' ``step`` moves the players."""
        a0, a1 = int(actions["player_0"]), int(actions["player_1"])
        self._t += 1
        self._last = (a0, a1)
        return (a0, a1)

    def _apply(self, joint):
        """One step of the rules on the current state with the env's draws; returns its outputs."""
        nxt, r, info = self.rules.step(self.state_row(), np.array([joint], np.int64), EnvDraws(self.np_random))
        self._set_state_row(nxt[0])
        return r[0], info[0]

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
        self._rules = CoinGameRules(self.grid_size, self.coin_colour)
        self._coin = 0
        self._coin_red = True

    def _swap_index(self):
        return list(self._rules.swap)

    def state_row(self):
        return np.array([[self._pos[0], self._pos[1], self._coin, int(self._coin_red)]], np.int64)

    def _set_state_row(self, row):
        self._pos = np.array(row[:2], np.int64)
        self._coin, self._coin_red = int(row[2]), bool(row[3])

    def _layers(self):
        return self._rules.layers(self.state_row())[0]

    def _reset(self, options):
        rng = self.np_random
        self._pos = rng.integers(self.n_cells, size=2)
        self._coin_red = bool(rng.integers(2))
        self._coin = self._free_cell((int(self._pos[0]), int(self._pos[1])))
        self._t = 0
        self._last = None
        return self._observe(), {a: {} for a in self.agents}

    def _step(self, actions):
        owner = 0 if self._coin_red else 1
        joint = self._move(actions)
        (r0, r1), pick = self._apply(joint)
        extra = [{"picked": bool(pick[i]), "picked_own": bool(pick[i]) and owner == i} for i in (0, 1)]
        for i in (0, 1):
            if pick[i]:
                extra[i]["cooperated"] = owner == i
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
        self._rules = BargainingCoinGameRules(self.grid_size, self._coop_reward,
                                              self.disagreement_reward, self.punishment_helped)
        self._cc = 0  # cell of the Cooperation coin
        self._dc = 1  # cell of the Disagreement coin
        self._cc_colour = 0  # 0 = red CC (so the DC is blue), 1 = blue CC (DC red)

    def _swap_index(self):
        return list(self._rules.swap)

    def state_row(self):
        return np.array([[self._pos[0], self._pos[1], self._cc, self._dc, self._cc_colour]], np.int64)

    def _set_state_row(self, row):
        self._pos = np.array(row[:2], np.int64)
        self._cc, self._dc, self._cc_colour = int(row[2]), int(row[3]), int(row[4])

    def _layers(self):
        return self._rules.layers(self.state_row())[0]

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
        dc_owner = 1 - self._cc_colour
        joint = self._move(actions)
        (r0, r1), event = self._apply(joint)
        extra = [{"coin_event": None}, {"coin_event": None}]
        if event == 1:
            for e in extra:
                e.update(coin_event="cc", cooperated=True)
        elif event == 2:
            extra[dc_owner].update(coin_event="dc", cooperated=False)
            extra[1 - dc_owner]["coin_event"] = "dc"
        return self._finish(joint, r0, r1, extra)

    def _render_text(self) -> str:
        cc = "Cr" if self._cc_colour == 0 else "Cb"
        dc = "Db" if self._cc_colour == 0 else "Dr"
        grid = self._grid_text([(self._pos[0], "R"), (self._pos[1], "B"), (self._cc, cc), (self._dc, dc)])
        last = "" if self._last is None else f" last={self._last}"
        return (f"ABCG t={self._t}/{self.horizon}{last} (R/B players, C=cooperation coin, "
                f"D=disagreement coin, r/b colour)\n{grid}")
