"""amTFT's play: ``AmTFTPlayer`` (the decision rule on policy tables) and ``AmTFTModule`` (the
stateful TorchRLModule that serves it in RLlib's env runners, ``rllib evaluate`` and the
cross-play league).

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

Policies are greedy (argmax) at play. On the matrix games' observation (a one-hot of the previous
joint action, plus the start state) a policy is a table over ``n_joint + 1`` states, so the
player works on the greedy tables of the trained policies and simulates rollouts with the payoff
table: no env model is needed beyond it. (The paper's LSTM is not needed either: this memory-one
observation is the full Markov state of the iterated game.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from gymnasium.spaces import Discrete
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule

DEBIT_MEASURES = ("opponent_gain", "own_loss")

# layout of the state vector
_PREV, _DEBIT, _LEFT, _W, _LASTP, _STREAK = 0, 1, 2, 3, 4, 5


@dataclass
class AmTFTPlayer:
    """amTFT's decision rule for seat ``seat`` of a 2-player iterated matrix game.

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
        self.payoffs = np.asarray(self.payoffs, dtype=np.float64)
        self.shape = tuple(self.payoffs.shape[:-1])
        if len(self.shape) != 2 or self.payoffs.shape[-1] != 2:
            raise ValueError(f"amTFT plays 2-player matrix games; payoffs have shape {self.payoffs.shape}")
        if self.debit_measure not in DEBIT_MEASURES:
            raise ValueError(f"debit_measure must be one of {list(DEBIT_MEASURES)}, got {self.debit_measure!r}")
        self.n_joint = int(np.prod(self.shape))
        self.opp = 1 - int(self.seat)

    # ---------------------------------------------------------------- state
    @property
    def n_welfare(self) -> int:
        return len(self.coop)

    def initial_state(self) -> np.ndarray:
        s = np.zeros(_STREAK + self.n_welfare, np.float64)
        s[_PREV] = self.n_joint
        return s

    def _joint(self, mine: int, theirs: int) -> Tuple[int, int]:
        return (mine, theirs) if self.seat == 0 else (theirs, mine)

    def _r(self, mine: int, theirs: int, who: int) -> float:
        return float(self.payoffs[self._joint(mine, theirs)][who])

    # ---------------------------------------------------------------- rules
    def debit_increment(self, mine: int, theirs: int, predicted: int) -> float:
        """The debit one observed step adds (module docstring, rule 1)."""
        if self.debit_measure == "opponent_gain":
            return self._r(mine, theirs, self.opp) - self._r(mine, predicted, self.opp)
        return self._r(mine, predicted, self.seat) - self._r(mine, theirs, self.seat)

    def rollout_value(self, state: int, k: int, w: int) -> float:
        """Opponent's undiscounted reward over ``rollout_length`` steps from ``state``: I punish
        for the first ``k`` steps, then cooperate; the opponent plays its cooperative policy."""
        total, s = 0.0, int(state)
        for j in range(self.rollout_length):
            mine = int(self.punish[w][s]) if j < k else int(self.coop[w][self.seat][s])
            theirs = int(self.coop[w][self.opp][s])
            total += self._r(mine, theirs, self.opp)
            s = int(np.ravel_multi_index(self._joint(mine, theirs), self.shape))
        return total

    def punishment_length(self, debit: float, state: int, w: int) -> int:
        """Smallest k in [1, rollout_length] with rollout loss >= multiplier x debit (rule 2)."""
        base = self.rollout_value(state, 0, w)
        for k in range(1, self.rollout_length + 1):
            if base - self.rollout_value(state, k, w) >= self.punishment_multiplier * debit:
                return k
        return self.rollout_length

    def step(self, state: np.ndarray, obs_state: int) -> Tuple[int, np.ndarray, dict]:
        """One decision: ``obs_state`` is the current state index (the previous joint action, or
        ``n_joint`` at the start). Returns ``(action, new_state, events)``; ``events`` has
        ``debit``, ``punishing`` (bool), ``started_punishment`` (k or 0), ``welfare`` (index of
        the active w) and ``switched_welfare`` (bool)."""
        s = np.array(state, dtype=np.float64, copy=True)
        obs_state = int(obs_state)
        started, switched = 0, False
        if obs_state == self.n_joint:  # episode start
            s = self.initial_state()
        elif s[_LASTP] == 0:
            joint = np.unravel_index(obs_state, self.shape)
            mine, theirs = int(joint[self.seat]), int(joint[self.opp])
            prev = int(s[_PREV])
            w = int(s[_W])
            predicted = int(self.coop[w][self.opp][prev])
            if self.norm_adaptive and self.n_welfare > 1:
                for k in range(self.n_welfare):
                    follows = (k != w and theirs != predicted
                               and theirs == int(self.coop[k][self.opp][prev]))
                    s[_STREAK + k] = s[_STREAK + k] + 1 if follows else 0
                hits = [k for k in range(self.n_welfare) if s[_STREAK + k] >= self.detection_steps]
                if hits:  # rule 3: a different welfare function, not a defection
                    s[_W], s[_DEBIT], switched = hits[0], 0.0, True
                    s[_STREAK:] = 0
            if not switched:
                s[_DEBIT] = max(0.0, s[_DEBIT] + self.debit_increment(mine, theirs, predicted))
                if s[_DEBIT] > self.debit_threshold:  # rule 2
                    started = self.punishment_length(s[_DEBIT], obs_state, w)
                    s[_LEFT], s[_DEBIT] = started, 0.0
        w = int(s[_W])
        punishing = s[_LEFT] > 0
        if punishing:
            action = int(self.punish[w][obs_state])
            s[_LEFT] -= 1
        else:
            action = int(self.coop[w][self.seat][obs_state])
        s[_LASTP] = 1.0 if punishing else 0.0
        s[_PREV] = obs_state
        return action, s, {"debit": float(s[_DEBIT]), "punishing": bool(punishing),
                           "started_punishment": int(started), "welfare": w,
                           "switched_welfare": switched}


class AmTFTModule(TorchRLModule):
    """amTFT(W) for one seat as a stateful TorchRLModule (see the module docstring).

    It holds copies of the trained policies (every seat's cooperative policy per w in W and this
    seat's punishment policy per w; the ``AmTFT`` algorithm copies them in after each iteration)
    and plays ``AmTFTPlayer`` on their greedy tables. Its RNN-style state (``state_in`` /
    ``state_out``, key ``"amtft"``) is ``[previous state, debit, punishment steps left, active w,
    last action was punishment, one detection streak per w]``.

    ``model_config``: ``seat``, ``payoffs``, ``welfare`` (names of W, in preference order),
    ``policy_spec`` (dict ``module_class``, ``catalog_class``, ``model_config`` of the trained
    policies), and the ``AmTFTPlayer`` settings ``debit_threshold``, ``punishment_multiplier``,
    ``rollout_length``, ``norm_adaptive``, ``detection_steps``, ``debit_measure``.
    """

    def setup(self):
        cfg = dict(self.model_config or {})
        self.seat = int(cfg["seat"])
        self.payoffs = np.asarray(cfg["payoffs"], dtype=np.float64)
        self.welfare = list(cfg["welfare"])
        self.game_shape = tuple(self.payoffs.shape[:-1])
        self.n_states = int(np.prod(self.game_shape)) + 1
        if self.observation_space.shape != (self.n_states,):
            raise ValueError(f"AmTFTModule plays matrix games whose observation is a one-hot of the "
                             f"previous joint action ({self.n_states} entries); got "
                             f"{self.observation_space}")
        spec = dict(cfg["policy_spec"])

        def build(seat):
            return RLModuleSpec(module_class=spec["module_class"], catalog_class=spec.get("catalog_class"),
                                observation_space=self.observation_space,
                                action_space=Discrete(self.game_shape[seat]),
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

    def player(self) -> AmTFTPlayer:
        """``AmTFTPlayer`` on the current weights' greedy tables."""
        n = len(self.welfare)
        coop = [[self.greedy_table(self.coop[policy_key("coop", k, s)]) for s in (0, 1)] for k in range(n)]
        punish = [self.greedy_table(self.punish[policy_key("punish", k, self.seat)]) for k in range(n)]
        return AmTFTPlayer(self.payoffs, self.seat, coop, punish, **self._player_kwargs)

    # ---------------------------------------------------------------- RLModule API
    def get_initial_state(self):
        s = np.zeros(_STREAK + len(self.welfare), np.float32)
        s[_PREV] = self.n_states - 1
        return {"amtft": torch.from_numpy(s)}

    @torch.no_grad()
    def _forward(self, batch, **kwargs):
        obs = batch[Columns.OBS]
        state = batch[Columns.STATE_IN]["amtft"]
        timed = obs.dim() == 3  # [B, T, D] from RLlib's time-rank connector for stateful modules
        obs3 = obs if timed else obs.unsqueeze(1)
        player = self.player()
        B, T = obs3.shape[0], obs3.shape[1]
        actions = np.zeros((B, T), np.int64)
        out_state = state.detach().cpu().numpy().astype(np.float64).copy()
        idx = obs3.argmax(-1).cpu().numpy()
        for b in range(B):
            for t in range(T):
                actions[b, t], out_state[b], _ = player.step(out_state[b], int(idx[b, t]))
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
