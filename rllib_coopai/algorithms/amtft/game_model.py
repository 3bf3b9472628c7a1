"""The model of the game that amTFT's play rule needs, and nothing more (normative-disagreement
paper §4.1, App. C: amTFT needs the other player's reward function at deployment, and its
punishment length comes from rollouts of the game).

A ``GameModel`` works on batches of *states*, int64 arrays ``[B, F]`` (one row per state):

* ``decode(obs, seat)``: the state behind one seat's observations ``[B, ...]``;
* ``reward(s, joint)``: ``[B, 2]`` rewards of the joint actions ``[B, 2]`` (deterministic: the
  games' rewards never depend on a random draw);
* ``next_state(s, joint, rng)``: the next states, random draws from ``rng`` exactly as the env
  draws them (so a model and an env seeded alike step alike);
* ``observe(s, seat)``: the observation the env gives that seat in state ``s``;
* ``rollout_step(s, joint, draws)``: next states and rewards with the draws of a rollout
  (``rllib_coopai.envs.coin_game.SharedDraws``: common random numbers across the batch);
* ``infer_joint(prev, cur)``: the joint action that led from ``prev`` to ``cur`` (-1 where none
  can), ``equivalent(s, seat, a, b)``: whether two actions of a seat have the same effect in s.

Two implementations: ``MatrixGameModel`` (an iterated matrix game: the state is the previous joint
action, ``n_joint`` at the start; rewards from the payoff table) and ``CoinGameModel`` (the Coin
Game and ABCG, on the rules of ``rllib_coopai.envs.coin_game``: one definition shared with the
envs). ``game_spec(env)`` describes a probed env as a picklable dict and ``build_game_model(spec)``
rebuilds the model from it (inside each ``AmTFTModule``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from rllib_coopai.envs.coin_game import (
    AsymmetricBargainingCoinGameEnv,
    BargainingCoinGameRules,
    CoinGameEnv,
    CoinGameRules,
    EnvDraws,
)
from rllib_coopai.envs.matrix_games import MatrixGameEnv

SUPPORTED = ("2-player iterated matrix games (a MatrixGameEnv, e.g. 'iterated_prisoners_dilemma' "
             "or 'iterated_asymmetric_bos'), the Coin Game ('coin_game', CoinGameEnv) and the "
             "asymmetric bargaining Coin Game ('asymmetric_coin_game', AsymmetricBargainingCoinGameEnv)")


def _rows(s) -> np.ndarray:
    return np.atleast_2d(np.asarray(s, np.int64))


class GameModel:
    """Interface (module docstring)."""

    state_size: int
    n_actions: tuple

    def start_code(self) -> np.ndarray:
        """The state code of "no previous state" kept in a fresh player state."""
        raise NotImplementedError

    def is_start(self, s: np.ndarray) -> np.ndarray:
        """[B] whether the observed states are an episode's start (known from the observation)."""
        return np.zeros(len(s), bool)

    def valid(self, s: np.ndarray) -> np.ndarray:
        """[B] whether a stored code is a state (not ``start_code()``'s "none")."""
        raise NotImplementedError

    def decode(self, obs, seat: int) -> np.ndarray:
        raise NotImplementedError

    def reward(self, s, joint) -> np.ndarray:
        raise NotImplementedError

    def next_state(self, s, joint, rng) -> np.ndarray:
        return self.rollout_step(s, joint, EnvDraws(rng))[0]

    def rollout_step(self, s, joint, draws):
        raise NotImplementedError

    def observe(self, s, seat: int) -> np.ndarray:
        raise NotImplementedError

    def infer_joint(self, prev, cur) -> np.ndarray:
        raise NotImplementedError

    def equivalent(self, s, seat: int, a, b) -> np.ndarray:
        return np.asarray(a) == np.asarray(b)


class MatrixGameModel(GameModel):
    """An iterated 2-player matrix game: state = ``ravel_multi_index`` of the previous joint
    action, ``n_joint`` at the start (the one-hot observation of ``MatrixGameEnv``)."""

    state_size = 1

    def __init__(self, payoffs):
        self.payoffs = np.asarray(payoffs, np.float64)
        self.shape = tuple(self.payoffs.shape[:-1])
        if len(self.shape) != 2 or self.payoffs.shape[-1] != 2:
            raise ValueError(f"amTFT plays 2-player matrix games; payoffs have shape {self.payoffs.shape}")
        self.n_actions = self.shape
        self.n_joint = int(np.prod(self.shape))

    def start_code(self):
        return np.array([self.n_joint], np.int64)

    def is_start(self, s):
        return _rows(s)[:, 0] == self.n_joint

    def valid(self, s):
        return np.ones(len(_rows(s)), bool)

    def decode(self, obs, seat):
        obs = np.asarray(obs)
        return obs.reshape(len(obs), -1).argmax(-1).astype(np.int64)[:, None]

    def reward(self, s, joint):
        joint = _rows(joint)
        return self.payoffs[joint[:, 0], joint[:, 1]]

    def rollout_step(self, s, joint, draws=None):
        joint = _rows(joint)
        nxt = np.ravel_multi_index((joint[:, 0], joint[:, 1]), self.shape).astype(np.int64)[:, None]
        return nxt, self.reward(s, joint)

    def observe(self, s, seat):
        s = _rows(s)
        out = np.zeros((len(s), self.n_joint + 1), np.float32)
        out[np.arange(len(s)), s[:, 0]] = 1.0
        return out

    def infer_joint(self, prev, cur):
        cur = _rows(cur)[:, 0]
        ok = cur < self.n_joint
        a0, a1 = np.unravel_index(np.where(ok, cur, 0), self.shape)
        return np.where(ok[:, None], np.stack([a0, a1], -1), -1).astype(np.int64)


class CoinGameModel(GameModel):
    """The Coin Game / ABCG on the envs' own rules (``CoinGameRules`` /
    ``BargainingCoinGameRules``). ``obs_mode`` ``"relative"`` and ``"global"`` are decoded;
    ``"egocentric"`` is refused: it centres the observer, so its absolute cell (and with it the
    state that ``observe`` must reproduce) is not in the observation."""

    n_actions = (4, 4)

    def __init__(self, rules, obs_mode: str = "relative"):
        if obs_mode not in ("relative", "global"):
            raise ValueError(
                f"amTFT on the coin games decodes the state from obs_mode 'relative' or 'global'; got "
                f"obs_mode={obs_mode!r}: an egocentric observation does not say which cell the "
                "observer is on, so the state is ambiguous. Set env_config obs_mode='relative'.")
        self.rules = rules
        self.obs_mode = obs_mode
        self.abcg = isinstance(rules, BargainingCoinGameRules)
        self.state_size = 5 if self.abcg else 4

    def start_code(self):
        return np.full(self.state_size, -1, np.int64)

    def valid(self, s):
        return _rows(s)[:, 0] >= 0

    def decode(self, obs, seat):
        obs = np.asarray(obs)
        B = len(obs)
        pic = obs.reshape(B, -1, obs.shape[-1]).transpose(0, 2, 1)  # [B, C, n_cells]
        if self.obs_mode == "relative" and seat == 1:
            pic = pic[:, self.rules.swap]  # own-first -> red-first (the swap is an involution)
        p0, p1 = pic[:, 0].argmax(-1), pic[:, 1].argmax(-1)
        if self.abcg:
            col = (pic[:, 4].max(-1) < 0.5).astype(np.int64)  # CC colour: 0 red, 1 blue
            cc = (pic[:, 4] + pic[:, 5]).argmax(-1)
            dc = (pic[:, 2] + pic[:, 3]).argmax(-1)
            return np.stack([p0, p1, cc, dc, col], -1).astype(np.int64)
        red = (pic[:, 2].max(-1) > 0.5).astype(np.int64)
        coin = (pic[:, 2] + pic[:, 3]).argmax(-1)
        return np.stack([p0, p1, coin, red], -1).astype(np.int64)

    def reward(self, s, joint):
        return self.rules.rewards(_rows(s), _rows(joint))[1]

    def rollout_step(self, s, joint, draws):
        nxt, r, _ = self.rules.step(_rows(s), _rows(joint), draws)
        return nxt, r

    def observe(self, s, seat):
        return self.rules.observe(_rows(s), seat, self.obs_mode)

    def infer_joint(self, prev, cur):
        prev, cur = _rows(prev), _rows(cur)
        moved = self.rules.next_cell[prev[:, :2]]  # [B, 2, 4] cell after each action
        hit = moved == cur[:, :2, None]
        return np.where(hit.any(-1), hit.argmax(-1), -1).astype(np.int64)

    def equivalent(self, s, seat, a, b):
        pos = _rows(s)[:, seat]
        nc = self.rules.next_cell
        return nc[pos, np.asarray(a)] == nc[pos, np.asarray(b)]


def _unwrap(env):
    game = getattr(env, "par_env", env)
    while (not isinstance(game, (CoinGameEnv, AsymmetricBargainingCoinGameEnv, MatrixGameEnv))
           and hasattr(game, "env")):
        game = game.env
    return game


def game_spec(env) -> dict:
    """A picklable description of the (possibly wrapped) env's game for ``build_game_model``;
    ``ValueError`` listing the supported games for any other env."""
    game = _unwrap(env)
    if isinstance(game, MatrixGameEnv) and len(game.possible_agents) == 2:
        return {"kind": "matrix", "payoffs": np.asarray(game.payoffs, np.float64).tolist()}
    if isinstance(game, CoinGameEnv):
        spec = {"kind": "coin_game", "grid_size": game.grid_size, "obs_mode": game.obs_mode,
                "coin_colour": game.coin_colour}
    elif isinstance(game, AsymmetricBargainingCoinGameEnv):
        spec = {"kind": "asymmetric_coin_game", "grid_size": game.grid_size, "obs_mode": game.obs_mode,
                "coop_reward": list(game._coop_reward), "disagreement_reward": game.disagreement_reward,
                "punishment_helped": game.punishment_helped}
    else:
        n = len(getattr(game, "possible_agents", ()) or ())
        raise ValueError(f"AmTFT plays {SUPPORTED}; got {type(game).__name__}"
                         + (f" with {n} players" if n else "")
                         + ". Its play rule needs a model of the game (rewards and transitions).")
    build_game_model(spec)  # e.g. an egocentric obs_mode fails here, at build_algo()
    return spec


def build_game_model(spec: dict, payoffs: Optional[list] = None) -> GameModel:
    """The ``GameModel`` of a ``game_spec`` dict (or, for old configs, of a payoff table)."""
    if spec is None:
        return MatrixGameModel(payoffs)
    kind = spec["kind"]
    if kind == "matrix":
        return MatrixGameModel(spec["payoffs"])
    if kind == "coin_game":
        return CoinGameModel(CoinGameRules(spec["grid_size"], spec.get("coin_colour", "random")),
                             spec.get("obs_mode", "relative"))
    if kind == "asymmetric_coin_game":
        return CoinGameModel(BargainingCoinGameRules(
            spec["grid_size"], spec.get("coop_reward", (2.0, 3.0)), spec.get("disagreement_reward", 1.0),
            spec.get("punishment_helped", 0.0)), spec.get("obs_mode", "relative"))
    raise ValueError(f"unknown game kind {kind!r}; AmTFT plays {SUPPORTED}")
