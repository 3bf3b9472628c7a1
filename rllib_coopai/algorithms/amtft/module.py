"""amTFT's play: the decision rule ``AmTFTRule`` (``AmTFTPlayer`` on policy tables of an
iterated matrix game, ``NetworkAmTFTPlayer`` on policy networks and a model of the coin games) and
``AmTFTModule`` (the stateful TorchRLModule that serves it in RLlib's env runners, ``rllib
evaluate`` and the cross-play league).

Approximate Markov tit-for-tat (Lerer & Peysakhovich 2017) with the normative-disagreement
paper's changes (§3.4, §4.1, App. C.1) and its code's matrix-game settings. Per step, seeing the
previous joint action ``(a_me, a_opp)`` taken in state ``s_prev``:

1. **Debit** (no rollouts, the paper's change (2)): with ``a_hat = pi^C_w,opp(s_prev)`` the action
   the cooperative policy of the active welfare function w predicts for the opponent,
   ``debit += r_opp(a_me, a_opp) - r_opp(a_me, a_hat)`` (``debit_measure="opponent_gain"``: what
   the opponent gained by deviating, Lerer & Peysakhovich's debit) or
   ``r_me(a_me, a_hat) - r_me(a_me, a_opp)`` (``"own_loss"``: what the deviation cost me). The
   debit never goes below 0; steps that answer one of my punishment actions add nothing.
2. **Punishment**: when ``debit > debit_threshold`` (10.0 in the authors' matrix-game code)
   I play the punishment policy for ``k`` steps, starting at this step, then cooperate again with
   the debit reset to 0. ``k`` is the smallest length such that, in ``rollout_length`` (20)-step
   rollouts from the current state, punishing for ``k`` steps and then cooperating costs the
   opponent at least ``punishment_multiplier`` (3.0) x debit compared with cooperating throughout
   (both rollouts: the opponent plays its cooperative policy; undiscounted; greedy actions);
   ``rollout_length`` if none suffices.
3. **amTFT(W)** (norm-adaptive, paper §3.4): before the debit, if the opponent's action differs
   from the active w's prediction but equals another w' in W's prediction for the last
   ``detection_steps`` consecutive steps, it is taken to follow w' (normative disagreement, not
   defection): w' becomes the active welfare function (the deterministic "guess the
   counterpart's w" re-sampling the paper allows), the debit is reset, and that step adds no
   debit. The paper leaves this detector open (its code announces welfare sets instead);
   ``norm_adaptive=False`` is the alternative: every deviation from the active w is defection.
   The first active w is the first of W (a preference order).

Policies are greedy (argmax) at play. The rule needs a model of the game
(``game_model.GameModel``: rewards, transitions, observations), not the env itself:

* Matrix games: the observation (a one-hot of the previous joint action, plus the start state) is
  the state, so a policy is a table over ``n_joint + 1`` states; ``AmTFTPlayer`` works on the
  greedy tables and simulates rollouts with the payoff table. (The paper's LSTM is not needed
  either: this memory-one observation is the full Markov state of the iterated game.)
* Coin Game / ABCG (paper §4.1, Table 1): the state (players' cells, coins and colours) is decoded
  from one seat's grid observation (``obs_mode`` ``"relative"`` or ``"global"``), which is the full
  Markov state. The prediction ``a_hat`` is the greedy action of the opponent's cooperative
  network on the observation it had in the previous state; the joint action is recovered from
  the players' moves; the rollouts of rule 2 advance the ``rollout_length + 1`` candidate
  punishment lengths k = 0..rollout_length as one batch (one forward pass per policy and step)
  with common random numbers for the coin respawns (``envs.coin_game.SharedDraws``). The
  authors' coin-game settings: debit threshold 3.0, multiplier 6.0, rollouts of 20.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from gymnasium.spaces import Discrete
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule

from rllib_coopai.algorithms.amtft.game_model import MatrixGameModel, build_game_model
from rllib_coopai.envs.coin_game import SharedDraws

DEBIT_MEASURES = ("opponent_gain", "own_loss")

# layout of the state vector
_PREV, _DEBIT, _LEFT, _W, _LASTP, _STREAK = 0, 1, 2, 3, 4, 5


class AmTFTRule:
    """amTFT's decision rule for one seat of a 2-player game, on any ``GameModel``
    (``rllib_coopai.algorithms.amtft.game_model``); rules 1-3 of the module docstring, once.
    Subclasses say how a policy acts (``act``): ``AmTFTPlayer`` on greedy policy tables of an
    iterated matrix game, ``NetworkAmTFTPlayer`` on policy networks (the coin games).

    The player state is a float vector ``[previous state's code (model.state_size entries),
    debit, punishment steps left, active w, last action was punishment, one detection streak per
    w]`` (for the matrix games the code is one entry, the previous joint action: ``state_fields``).
    """

    model = None
    seat: int
    debit_threshold: float
    punishment_multiplier: float
    rollout_length: int
    norm_adaptive: bool
    detection_steps: int
    debit_measure: str
    rollout_seed: int = 0

    def _init_rule(self) -> None:
        if self.debit_measure not in DEBIT_MEASURES:
            raise ValueError(f"debit_measure must be one of {list(DEBIT_MEASURES)}, got {self.debit_measure!r}")
        self.seat = int(self.seat)
        self.opp = 1 - self.seat
        F = self.n_code = int(self.model.state_size)
        self._debit, self._left, self._w, self._lastp, self._streak = F, F + 1, F + 2, F + 3, F + 4

    # ---------------------------------------------------------------- policies
    @property
    def n_welfare(self) -> int:
        return len(self.coop)

    def act(self, kind: str, w: int, seat: int, states: np.ndarray) -> np.ndarray:
        """Greedy actions ``[B]`` of ``seat``'s cooperative (``kind="coop"``) or, for my seat,
        punishment (``"punish"``) policy of welfare function ``w`` in the states ``[B, F]``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- state
    def initial_state(self) -> np.ndarray:
        s = np.zeros(self._streak + self.n_welfare, np.float64)
        s[:self.n_code] = self.model.start_code()
        return s

    def _joint(self, mine, theirs) -> np.ndarray:
        """[B, 2] joint actions in seat order."""
        mine, theirs = np.atleast_1d(mine), np.atleast_1d(theirs)
        return np.stack([mine, theirs] if self.seat == 0 else [theirs, mine], -1).astype(np.int64)

    # ---------------------------------------------------------------- rules
    def debit_increment(self, prev: np.ndarray, mine: int, theirs: int, predicted: int) -> float:
        """The debit one observed step from state ``prev`` ([1, F]) adds (module docstring,
        rule 1; no rollouts: the paper's change (2))."""
        actual = self.model.reward(prev, self._joint(mine, theirs))[0]
        expected = self.model.reward(prev, self._joint(mine, predicted))[0]
        if self.debit_measure == "opponent_gain":
            return float(actual[self.opp]) - float(expected[self.opp])
        return float(expected[self.seat]) - float(actual[self.seat])

    def rollout_values(self, state, w: int) -> np.ndarray:
        """Opponent's undiscounted reward over ``rollout_length`` steps from ``state``, for every
        k in 0..rollout_length at once (one batch): I punish for the first ``k`` steps, then
        cooperate; the opponent plays its cooperative policy; greedy actions. Random respawns
        come from one ``SharedDraws`` stream (seed ``rollout_seed``) shared by the batch: the
        rollouts compared use common random numbers."""
        L = int(self.rollout_length)
        states = np.repeat(np.atleast_2d(np.asarray(state, np.int64)), L + 1, axis=0)
        k = np.arange(L + 1)
        draws = SharedDraws(np.random.default_rng(self.rollout_seed))
        total = np.zeros(L + 1, np.float64)
        for j in range(L):
            mine = np.array(self.act("coop", w, self.seat, states), np.int64)
            punish = j < k
            if punish.any():
                mine[punish] = self.act("punish", w, self.seat, states[punish])
            theirs = self.act("coop", w, self.opp, states)
            states, r = self.model.rollout_step(states, self._joint(mine, theirs), draws)
            total += r[:, self.opp]
        return total

    def rollout_value(self, state, k: int, w: int) -> float:
        """``rollout_values(state, w)[k]``."""
        return float(self.rollout_values(state, w)[k])

    def punishment_length(self, debit: float, state, w: int) -> int:
        """Smallest k in [1, rollout_length] with rollout loss >= multiplier x debit (rule 2)."""
        values = self.rollout_values(state, w)
        enough = values[0] - values[1:] >= self.punishment_multiplier * debit
        return int(np.argmax(enough)) + 1 if enough.any() else int(self.rollout_length)

    def step(self, state: np.ndarray, obs_state) -> Tuple[int, np.ndarray, dict]:
        """One decision: ``obs_state`` is the current state (a ``GameModel`` state row; for the
        matrix games the state index: the previous joint action, or ``n_joint`` at the start).
        Returns ``(action, new_state, events)``; ``events`` has ``debit``, ``punishing`` (bool),
        ``started_punishment`` (k or 0), ``welfare`` (index of the active w) and
        ``switched_welfare`` (bool)."""
        F, model = self.n_code, self.model
        s = np.array(state, dtype=np.float64, copy=True)
        cur = np.atleast_1d(np.asarray(obs_state, np.int64))[None]
        prev = s[None, :F].astype(np.int64)
        started, switched = 0, False
        if model.is_start(cur)[0]:  # episode start
            s = self.initial_state()
        elif s[self._lastp] == 0 and model.valid(prev)[0]:
            joint = model.infer_joint(prev, cur)[0]
            if (joint >= 0).all():
                mine, theirs = int(joint[self.seat]), int(joint[self.opp])
                w = int(s[self._w])
                n = self.n_welfare
                adaptive = self.norm_adaptive and n > 1
                preds = [int(self.act("coop", k, self.opp, prev)[0]) if (k == w or adaptive) else -1
                         for k in range(n)]
                predicted = preds[w]

                def same(a, b):
                    return bool(model.equivalent(prev, self.opp, [a], [b])[0])

                if adaptive:
                    deviated = not same(theirs, predicted)
                    for k in range(n):
                        follows = k != w and deviated and same(theirs, preds[k])
                        s[self._streak + k] = s[self._streak + k] + 1 if follows else 0
                    hits = [k for k in range(n) if s[self._streak + k] >= self.detection_steps]
                    if hits:  # rule 3: a different welfare function, not a defection
                        s[self._w], s[self._debit], switched = hits[0], 0.0, True
                        s[self._streak:] = 0
                if not switched:
                    s[self._debit] = max(0.0, s[self._debit]
                                         + self.debit_increment(prev, mine, theirs, predicted))
                    if s[self._debit] > self.debit_threshold:  # rule 2
                        started = self.punishment_length(s[self._debit], cur, w)
                        s[self._left], s[self._debit] = started, 0.0
        w = int(s[self._w])
        punishing = s[self._left] > 0
        if punishing:
            action = int(self.act("punish", w, self.seat, cur)[0])
            s[self._left] -= 1
        else:
            action = int(self.act("coop", w, self.seat, cur)[0])
        s[self._lastp] = 1.0 if punishing else 0.0
        s[:F] = cur[0]
        return action, s, {"debit": float(s[self._debit]), "punishing": bool(punishing),
                           "started_punishment": int(started), "welfare": w,
                           "switched_welfare": switched}


@dataclass
class AmTFTPlayer(AmTFTRule):
    """amTFT's decision rule (``AmTFTRule``) for seat ``seat`` of a 2-player iterated matrix game,
    on greedy policy tables.

    Args:
        payoffs: ``[A_0, A_1, 2]`` payoff table.
        seat: my index (0 or 1).
        coop: per welfare function in W (in preference order), the greedy cooperative action of
            each seat per state: ``coop[k][seat]`` is an int array of ``n_joint + 1`` entries
            (states = ``ravel_multi_index`` of the previous joint action; last: the start state).
        punish: per welfare function, my punishment policy's greedy action per state.
        debit_threshold, punishment_multiplier, rollout_length, norm_adaptive, detection_steps,
        debit_measure: see the module docstring.
    """

    payoffs: np.ndarray
    seat: int
    coop: List[Sequence[np.ndarray]]
    punish: List[np.ndarray]
    debit_threshold: float = 10.0
    punishment_multiplier: float = 3.0
    rollout_length: int = 20
    norm_adaptive: bool = True
    detection_steps: int = 2
    debit_measure: str = "opponent_gain"
    shape: Tuple[int, ...] = field(init=False)

    def __post_init__(self):
        self.model = MatrixGameModel(self.payoffs)
        self.payoffs = self.model.payoffs
        self.shape = self.model.shape
        self.n_joint = self.model.n_joint
        self._init_rule()

    def act(self, kind, w, seat, states):
        idx = np.atleast_2d(np.asarray(states, np.int64))[:, 0]
        table = self.coop[w][seat] if kind == "coop" else self.punish[w]
        return np.asarray(table, np.int64)[idx]


def greedy_actions(policy, obs: np.ndarray) -> np.ndarray:
    """Greedy actions ``[B]`` of ``policy`` on observations ``[B, ...]``: an RLModule (argmax of
    its ``forward_inference`` action-distribution inputs, one batched forward pass) or a callable
    ``obs -> actions`` (e.g. a scripted policy)."""
    if isinstance(policy, RLModule):
        with torch.no_grad():
            out = policy.forward_inference({Columns.OBS: torch.as_tensor(obs, dtype=torch.float32)})
        return out[Columns.ACTION_DIST_INPUTS].argmax(-1).cpu().numpy().astype(np.int64)
    return np.asarray(policy(obs), np.int64).reshape(len(obs))


class NetworkAmTFTPlayer(AmTFTRule):
    """amTFT's decision rule (``AmTFTRule``) on policy networks and a ``GameModel`` (the coin
    games): a policy acts greedily on the observation ``model.observe(state, seat)`` that seat
    would get, all states of a call in one forward pass.

    Args:
        model: the ``GameModel``.
        seat: my index (0 or 1).
        coop: per welfare function in W, ``coop[k][seat]`` the cooperative policy of each seat
            (an RLModule or a callable ``obs [B, ...] -> actions [B]``).
        punish: per welfare function, my punishment policy.
        the rest: as ``AmTFTPlayer`` (module docstring); ``rollout_seed`` seeds the common random
        numbers of the punishment-length rollouts.
    """

    def __init__(self, model, seat: int, coop, punish, *, debit_threshold: float = 3.0,
                 punishment_multiplier: float = 6.0, rollout_length: int = 20, norm_adaptive: bool = True,
                 detection_steps: int = 2, debit_measure: str = "opponent_gain", rollout_seed: int = 0):
        self.model, self.seat, self.coop, self.punish = model, seat, list(coop), list(punish)
        self.debit_threshold, self.punishment_multiplier = float(debit_threshold), float(punishment_multiplier)
        self.rollout_length, self.norm_adaptive = int(rollout_length), bool(norm_adaptive)
        self.detection_steps, self.debit_measure = int(detection_steps), debit_measure
        self.rollout_seed = int(rollout_seed)
        self._init_rule()

    def act(self, kind, w, seat, states):
        policy = self.coop[w][seat] if kind == "coop" else self.punish[w]
        return greedy_actions(policy, self.model.observe(states, seat))


class AmTFTModule(TorchRLModule):
    """amTFT(W) for one seat as a stateful TorchRLModule (see the module docstring).

    It holds copies of the trained policies (every seat's cooperative policy per w in W and this
    seat's punishment policy per w; the ``AmTFT`` algorithm copies them in after each iteration)
    and plays ``AmTFTPlayer`` on their greedy tables (matrix games) or ``NetworkAmTFTPlayer`` on
    the copies (coin games). Its RNN-style state (``state_in`` / ``state_out``, key ``"amtft"``)
    is ``[previous state (the game model's state code: the previous joint action, or the coin
    game's cells and colours), debit, punishment steps left, active w, last action was
    punishment, one detection streak per w]``.

    ``model_config``: ``seat``, ``game`` (a ``game_model.game_spec`` dict; or ``payoffs``, a
    matrix game's table), ``welfare`` (names of W, in preference order),
    ``policy_spec`` (dict ``module_class``, ``catalog_class``, ``model_config`` of the trained
    policies), and the ``AmTFTPlayer`` settings ``debit_threshold``, ``punishment_multiplier``,
    ``rollout_length``, ``norm_adaptive``, ``detection_steps``, ``debit_measure``.
    """

    def setup(self):
        cfg = dict(self.model_config or {})
        self.seat = int(cfg["seat"])
        self.welfare = list(cfg["welfare"])
        self.game = build_game_model(cfg.get("game"), cfg.get("payoffs"))
        self.matrix = isinstance(self.game, MatrixGameModel)
        if self.matrix:
            self.payoffs = self.game.payoffs
            self.game_shape = self.game.shape
            self.n_states = self.game.n_joint + 1
            if self.observation_space.shape != (self.n_states,):
                raise ValueError(f"AmTFTModule plays matrix games whose observation is a one-hot of the "
                                 f"previous joint action ({self.n_states} entries); got "
                                 f"{self.observation_space}")
        else:
            rules = self.game.rules
            expected = (rules.grid_size, rules.grid_size, rules.n_channels)
            if self.observation_space.shape != expected:
                raise ValueError(f"AmTFTModule's coin game has observations of shape {expected}; got "
                                 f"{self.observation_space}")
        spec = dict(cfg["policy_spec"])

        def build(seat):
            return RLModuleSpec(module_class=spec["module_class"], catalog_class=spec.get("catalog_class"),
                                observation_space=self.observation_space,
                                action_space=Discrete(self.game.n_actions[seat]),
                                model_config=spec.get("model_config")).build()

        self.coop = nn.ModuleDict({policy_key("coop", k, s): build(s)
                                   for k in range(len(self.welfare)) for s in (0, 1)})
        self.punish = nn.ModuleDict({policy_key("punish", k, self.seat): build(self.seat)
                                     for k in range(len(self.welfare))})
        self._player_kwargs = {k: cfg[k] for k in ("debit_threshold", "punishment_multiplier",
                                                   "rollout_length", "norm_adaptive",
                                                   "detection_steps", "debit_measure") if k in cfg}

    # ---------------------------------------------------------------- tables
    @torch.no_grad()
    def greedy_table(self, module) -> np.ndarray:
        eye = torch.eye(self.n_states, dtype=torch.float32)
        logits = module.forward_inference({Columns.OBS: eye})[Columns.ACTION_DIST_INPUTS]
        return logits.argmax(-1).cpu().numpy()

    def player(self) -> AmTFTRule:
        """The decision rule on the current weights: ``AmTFTPlayer`` on the greedy tables (matrix
        games) or ``NetworkAmTFTPlayer`` on the policy copies (coin games)."""
        n = len(self.welfare)
        if not self.matrix:
            coop = [[self.coop[policy_key("coop", k, s)] for s in (0, 1)] for k in range(n)]
            punish = [self.punish[policy_key("punish", k, self.seat)] for k in range(n)]
            return NetworkAmTFTPlayer(self.game, self.seat, coop, punish, **self._player_kwargs)
        coop = [[self.greedy_table(self.coop[policy_key("coop", k, s)]) for s in (0, 1)] for k in range(n)]
        punish = [self.greedy_table(self.punish[policy_key("punish", k, self.seat)]) for k in range(n)]
        return AmTFTPlayer(self.payoffs, self.seat, coop, punish, **self._player_kwargs)

    # ---------------------------------------------------------------- RLModule API
    def get_initial_state(self):
        F = self.game.state_size
        s = np.zeros(F + 4 + len(self.welfare), np.float32)
        s[:F] = self.game.start_code()
        return {"amtft": torch.from_numpy(s)}

    @torch.no_grad()
    def _forward(self, batch, **kwargs):
        obs = batch[Columns.OBS]
        state = batch[Columns.STATE_IN]["amtft"]
        # [B, T, ...] from RLlib's time-rank connector for stateful modules
        timed = obs.dim() == len(self.observation_space.shape) + 2
        obs3 = obs if timed else obs.unsqueeze(1)
        player = self.player()
        B, T = obs3.shape[0], obs3.shape[1]
        actions = np.zeros((B, T), np.int64)
        out_state = state.detach().cpu().numpy().astype(np.float64).copy()
        flat = obs3.reshape(B * T, *obs3.shape[2:]).cpu().numpy()
        cur = self.game.decode(flat, self.seat).reshape(B, T, -1)
        for b in range(B):  # sequential in t (the state carries over); one env per b
            for t in range(T):
                actions[b, t], out_state[b], _ = player.step(out_state[b], cur[b, t])
        acts = torch.from_numpy(actions if timed else actions[:, 0])
        n_act = self.action_space.n
        logits = torch.nn.functional.one_hot(acts, n_act).float() * 30.0 - 15.0
        return {Columns.ACTIONS: acts, Columns.ACTION_DIST_INPUTS: logits,
                Columns.STATE_OUT: {"amtft": torch.from_numpy(out_state.astype(np.float32))}}


def policy_key(kind: str, welfare_index: int, seat: int) -> str:
    """Name of a policy copy inside ``AmTFTModule``."""
    return f"{kind}_w{welfare_index}_s{seat}"


def state_fields() -> Dict[str, int]:
    """Index of each field of the module's state vector (documentation and tests)."""
    return {"previous_state": _PREV, "debit": _DEBIT, "punishment_left": _LEFT,
            "welfare": _W, "last_action_punished": _LASTP, "streak0": _STREAK}
