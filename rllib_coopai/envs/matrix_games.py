"""Matrix games: one family, many presets, one-shot or repeated.

A game is a payoff tensor ``payoffs[a_1, ..., a_N, i]`` (reward of agent ``i`` under the joint
action). ``horizon=1`` is the one-shot game (DCL's PD, AMD's games); ``horizon=H`` repeats it H
times. The observation of every agent is the same one-hot vector of length ``prod(|A_i|) + 1``:
the previous joint action (index ``np.ravel_multi_index(a, shape)``; for 2x2 games ``2*a1 + a2``)
or, at the first step, the start flag in the last slot (LIO thesis §5.3.1, LOLA's layout).
For ``horizon=1`` every observation is the start state, i.e. a constant dummy state.

Action indices: the cooperative action is 0 (C=0, D=1) where one exists.

Presets (``PRESETS``):

=============================  =====================================================  =========
name                           payoffs (row, column) for (00; 01; 10; 11)             source
=============================  =====================================================  =========
prisoners_dilemma              (-1,-1); (-3,0); (0,-3); (-2,-2)                       DCL paper Table 1, LIO thesis §5.3.1
stag_hunt                      greed=-1, fear=1: (3,3); (0,2); (2,0); (1,1)           AMD thesis Table 4.1
chicken                        greed=0.5, fear=-1: (3,3); (2,3.5); (3.5,2); (1,1)     AMD thesis Table 4.1
greed_fear                     R=3, P=1, T=3+greed, S=1-fear (default PD: greed=fear=1) AMD thesis Table 4.1
bach_or_stravinsky             (3,2); (0,0); (0,0); (2,3)  (asymmetric=True: (4,1)/(2,2)) normative-disagreement paper Fig. 2
asymmetric_bach_or_stravinsky  (4,1); (0,0); (0,0); (2,2)                             normative-disagreement paper Fig. 2
iterated_asymmetric_bos        the same, horizon 20 (IAsymBoS)                        normative-disagreement paper §4.1, Table 4
iterated_prisoners_dilemma     prisoners_dilemma's payoffs, horizon 20                 normative-disagreement paper's code, Table 4
pure_coordination              (1,1); (0,0); (0,0); (1,1)                             normative-disagreement paper Fig. 2
purely_conflicting             (0,0); (-1,2); (2,-1); (0,0), horizon 16               DCL paper Table 2
matching_pennies               (1,-1); (-1,1); (-1,1); (1,-1)                         standard
matrix_game                    any ``payoffs`` table you pass                          --
=============================  =====================================================  =========
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_bool, check_float, check_int


def greed_fear_payoffs(greed: float = 1.0, fear: float = 1.0) -> np.ndarray:
    """Symmetric 2x2 dilemma of AMD thesis Table 4.1: R=3, P=1, T=3+greed, S=1-fear."""
    R, P, T, S = 3.0, 1.0, 3.0 + greed, 1.0 - fear
    return np.array([[[R, R], [S, T]], [[T, S], [P, P]]], dtype=np.float64)


PD_PAYOFFS = [[[-1, -1], [-3, 0]], [[0, -3], [-2, -2]]]
BOS_PAYOFFS = [[[3, 2], [0, 0]], [[0, 0], [2, 3]]]
ASYM_BOS_PAYOFFS = [[[4, 1], [0, 0]], [[0, 0], [2, 2]]]
PURE_COORDINATION_PAYOFFS = [[[1, 1], [0, 0]], [[0, 0], [1, 1]]]
RPC_PAYOFFS = [[[0, 0], [-1, 2]], [[2, -1], [0, 0]]]
MATCHING_PENNIES_PAYOFFS = [[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]]


class MatrixGameEnv(CoopParallelEnv):
    """N-player normal-form game, one-shot or repeated.

    Args:
        payoffs: nested list / array of shape ``(|A_1|, ..., |A_N|, N)``.
        horizon: rounds per episode (>= 1).
        cooperative_actions: per agent, the index of its cooperative action, or ``None`` where the
            game defines no cooperation (then ``cooperation_rate`` is not reported).
        action_names: optional names per action index, for rendering.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "matrix_game", "is_parallelizable": True}

    def __init__(
        self,
        payoffs: Sequence = PD_PAYOFFS,
        horizon: int = 1,
        cooperative_actions: Optional[Sequence[int]] = None,
        action_names: Optional[Sequence[str]] = None,
        render_mode: Optional[str] = None,
        name: str = "matrix_game",
    ):
        super().__init__(render_mode)
        table = np.asarray(payoffs, dtype=np.float64)
        if table.ndim < 3 or table.shape[-1] != table.ndim - 1:
            raise ValueError(
                "payoffs must have shape (|A_1|, ..., |A_N|, N) with N >= 2 players, "
                f"got shape {table.shape}"
            )
        if not np.all(np.isfinite(table)):
            raise ValueError("payoffs must be finite numbers")
        self.payoffs = table
        self.horizon = check_int("horizon", horizon, 1, None)
        self.shape = table.shape[:-1]
        n = len(self.shape)
        self.possible_agents = [f"player_{i}" for i in range(n)]
        self.metadata = dict(self.metadata, name=name)
        if cooperative_actions is not None:
            if len(cooperative_actions) != n:
                raise ValueError(f"cooperative_actions must have one entry per player ({n})")
            for i, c in enumerate(cooperative_actions):
                check_int(f"cooperative_actions[{i}]", c, 0, self.shape[i] - 1)
            cooperative_actions = [int(c) for c in cooperative_actions]
        self.cooperative_actions = cooperative_actions
        self.action_names = list(action_names) if action_names else None
        self.n_joint = int(np.prod(self.shape))
        obs_space = spaces.Box(0.0, 1.0, (self.n_joint + 1,), np.float32)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {
            a: spaces.Discrete(int(k)) for a, k in zip(self.possible_agents, self.shape)
        }
        self._t = 0
        self._last = None
        self._obs = np.zeros(self.n_joint + 1, np.float32)

    # ------------------------------------------------------------------------------------
    def _observe(self, joint_index: Optional[int]):
        self._obs = np.zeros(self.n_joint + 1, np.float32)
        self._obs[self.n_joint if joint_index is None else joint_index] = 1.0
        return {a: self._obs.copy() for a in self.agents}

    def _reset(self, options):
        self._t = 0
        self._last = None
        return self._observe(None), {a: {} for a in self.agents}

    def _step(self, actions):
        joint = tuple(int(actions[a]) for a in self.possible_agents)
        r = self.payoffs[joint]
        self._t += 1
        self._last = joint
        rewards = {a: float(r[i]) for i, a in enumerate(self.possible_agents)}
        obs = self._observe(int(np.ravel_multi_index(joint, self.shape)))
        done = self._t >= self.horizon
        infos = {}
        for i, a in enumerate(self.possible_agents):
            info = {"joint_action": joint}
            if self.cooperative_actions is not None:
                info["cooperated"] = joint[i] == self.cooperative_actions[i]
            infos[a] = info
        terminations = {a: False for a in self.possible_agents}
        truncations = {a: done for a in self.possible_agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _render_text(self) -> str:
        if self._last is None:
            return f"t={self._t}/{self.horizon} start"
        names = [
            self.action_names[k] if self.action_names else str(k) for k in self._last
        ]
        pay = self.payoffs[self._last]
        return f"t={self._t}/{self.horizon} joint=({', '.join(names)}) rewards={tuple(pay.tolist())}"


# ----------------------------------------------------------------------------------------------
# Presets: factories with the papers' defaults, all keyword-configurable.
# ----------------------------------------------------------------------------------------------
_CD = ["C", "D"]


def prisoners_dilemma(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """DCL paper Table 1 (also LIO's IPD, LIO thesis §5.3.1, with ``horizon=5``). C=0, D=1."""
    return MatrixGameEnv(PD_PAYOFFS, horizon, (0, 0), _CD, name="prisoners_dilemma", render_mode=render_mode)


def greed_fear(greed: float = 1.0, fear: float = 1.0, horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """The AMD family (AMD thesis Table 4.1): R=3, P=1, T=3+greed, S=1-fear. C=0, D=1."""
    greed = check_float("greed", greed)
    fear = check_float("fear", fear)
    return MatrixGameEnv(
        greed_fear_payoffs(greed, fear), horizon, (0, 0), _CD, name="greed_fear", render_mode=render_mode
    )


def stag_hunt(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """AMD thesis Table 4.1: greed=-1, fear=1 -> (3,3);(0,2);(2,0);(1,1). Stag (C)=0."""
    env = greed_fear(-1.0, 1.0, horizon, render_mode=render_mode)
    env.metadata = dict(env.metadata, name="stag_hunt")
    return env


def chicken(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """AMD thesis Table 4.1: greed=0.5, fear=-1 -> (3,3);(2,3.5);(3.5,2);(1,1). Swerve (C)=0."""
    env = greed_fear(0.5, -1.0, horizon, render_mode=render_mode)
    env.metadata = dict(env.metadata, name="chicken")
    return env


def bach_or_stravinsky(horizon: int = 1, asymmetric: bool = False, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """normative-disagreement paper Fig. 2: BoS (3,2)/(2,3); ``asymmetric=True``: (4,1)/(2,2). B=0, S=1."""
    table = ASYM_BOS_PAYOFFS if check_bool("asymmetric", asymmetric) else BOS_PAYOFFS
    return MatrixGameEnv(table, horizon, None, ["B", "S"], name="bach_or_stravinsky", render_mode=render_mode)


def asymmetric_bach_or_stravinsky(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """normative-disagreement paper Fig. 2: asymmetric BoS (B,B)=(4,1), (S,S)=(2,2), else (0,0)."""
    env = bach_or_stravinsky(horizon, asymmetric=True, render_mode=render_mode)
    env.metadata = dict(env.metadata, name="asymmetric_bach_or_stravinsky")
    return env


def iterated_asymmetric_bos(horizon: int = 20, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """IAsymBoS (normative-disagreement paper §4.1): asymmetric BoS (B,B)=(4,1), (S,S)=(2,2), else
    (0,0), played every step with simultaneous moves; each player observes the previous joint
    action. Horizon 20 is the amTFT episode length of the paper's Table 4. B=0, S=1. Its
    cross-play disagreement profile is (0,0) per step (paper App. B.2)."""
    env = bach_or_stravinsky(horizon, asymmetric=True, render_mode=render_mode)
    env.metadata = dict(env.metadata, name="iterated_asymmetric_bos")
    return env


def iterated_prisoners_dilemma(horizon: int = 20, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """IPD of the normative-disagreement paper: the payoffs of its code, CC (-1,-1), CD (-3,0),
    DC (0,-3), DD (-2,-2) (the same table as ``prisoners_dilemma``), horizon 20 (Table 4, amTFT
    episode length). C=0, D=1. Its cross-play disagreement profile is (-3,-3) per step (App. B.2)."""
    env = prisoners_dilemma(horizon, render_mode=render_mode)
    env.metadata = dict(env.metadata, name="iterated_prisoners_dilemma")
    return env


def pure_coordination(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """normative-disagreement paper Fig. 2 (left): (B,B)=(S,S)=(1,1), else (0,0). Both
    coordinated outcomes are optimal for every welfare function; not a bargaining problem. B=0, S=1."""
    return MatrixGameEnv(PURE_COORDINATION_PAYOFFS, horizon, None, ["B", "S"], name="pure_coordination",
                         render_mode=render_mode)


def purely_conflicting(horizon: int = 16, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """DCL paper Table 2, the Repeated Purely Conflicting game (A1=0, A2=1), horizon 16."""
    return MatrixGameEnv(RPC_PAYOFFS, horizon, None, ["A1", "A2"], name="purely_conflicting", render_mode=render_mode)


def matching_pennies(horizon: int = 1, render_mode: Optional[str] = None) -> MatrixGameEnv:
    """Zero-sum: player 0 wins on a match (H=0, T=1)."""
    return MatrixGameEnv(MATCHING_PENNIES_PAYOFFS, horizon, None, ["H", "T"], name="matching_pennies", render_mode=render_mode)


def matrix_game(payoffs: Sequence, horizon: int = 1, cooperative_actions=None, action_names=None,
                render_mode: Optional[str] = None):
    """Any normal-form game: ``payoffs`` of shape (|A_1|, ..., |A_N|, N)."""
    return MatrixGameEnv(payoffs, horizon, cooperative_actions, action_names, render_mode=render_mode)


PRESETS = {
    "prisoners_dilemma": prisoners_dilemma,
    "stag_hunt": stag_hunt,
    "chicken": chicken,
    "greed_fear": greed_fear,
    "bach_or_stravinsky": bach_or_stravinsky,
    "asymmetric_bach_or_stravinsky": asymmetric_bach_or_stravinsky,
    "iterated_asymmetric_bos": iterated_asymmetric_bos,
    "iterated_prisoners_dilemma": iterated_prisoners_dilemma,
    "pure_coordination": pure_coordination,
    "purely_conflicting": purely_conflicting,
    "matching_pennies": matching_pennies,
    "matrix_game": matrix_game,
}
