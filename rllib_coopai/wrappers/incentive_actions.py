"""Incentives as ordinary actions learned by plain RL: LIO's PG-d / PG-c / AC-d / AC-c baselines.

``IncentiveActionsWrapper(env, incentive_type=...)`` extends every agent's Discrete action space
with a "give-reward" action for each other agent (LIO thesis §5.3.2, App. B.4.2). Any RL algorithm
then learns to give as it learns to move (PG-d / PG-c with policy gradient, AC-d / AC-c with
actor-critic; IPPO here), unlike LIO, whose incentive function is trained by differentiating
through the recipients' learning.

``incentive_type="discrete"`` (PG-d / AC-d): per other agent one of ``levels`` (default
``(0.0, 2.0)``: {no-op, give-reward with R_a = 2.0}, the thesis's value in Escape Room and Cleanup;
it also tried R_a in {2, 1.5, 1.1}). ``discrete_layout``:

* ``"multi_discrete"`` (default): ``MultiDiscrete([|A|] + [len(levels)] * (N-1))``, RLlib's
  factorised categorical (one head for the move, one per recipient);
* ``"flat"``: one ``Discrete(|A| * len(levels)**(N-1))`` over the joint choice, index
  ``np.ravel_multi_index((move, level_1, ..., level_{N-1}), dims)`` (the reference code's layout,
  3 moves x {no-op, give}^{N-1} in Escape Room); this also suits algorithms that need Discrete.

``incentive_type="continuous"`` (PG-c / AC-c): a vector in ``[0, R_max]^{N-1}`` (thesis R_max = 2.0).
The action is ``Tuple(Discrete(|A|), Box(N-1))``, RLlib's product of a categorical and a diagonal
Gaussian. ``continuous_output``:

* ``"sigmoid"`` (default, the thesis's parametrisation, App. B.4.2): the Box is unbounded, its value
  is ``u`` and the amount given is ``R_max * sigmoid(u)``. The thesis samples
  ``u ~ N(f_eta(o), 1)`` and uses the density of ``a_r`` by change of variables; the Jacobian term
  does not depend on the policy's parameters, so the policy gradient on ``u`` is the thesis's
  (RLlib's Gaussian also learns its log-std, where the thesis fixes it at 1).
* ``"clip"``: the Box is ``[0, R_max]`` (RLlib maps its policy output onto the bounds with its
  default ``normalize_actions``); the wrapper clips whatever arrives to ``[0, R_max]``.

Rewards: with ``g_{i->j}`` what agent i gives agent j at a step,
``r_j = r_j^env + sum_{i!=j} g_{i->j} - cost_coeff * sum_{k!=j} g_{j->k}``. ``cost_coeff=1``
(default) is the thesis's "giving reward incurs an equivalent cost" (PG-d) and "cost of giving
charged to the policy" (PG-c). Only agents alive at the step give or receive. Incentives are paid
at the step they are chosen (as LIO's incentives are, LIO thesis eq. 5.2).

Observations are the base env's. Where the base env's observation ends with "cumulative incentives
given" slots (Escape Room, ``obs_mode="lio"``, LIO thesis App. B.4.1), ``observe_given=True``
(default) fills them with what the agent has given each other agent so far in the episode.

Info contract: ``extrinsic_reward`` (the env's own reward, so social welfare and returns in the
metrics stay extrinsic); ``move`` (the base action executed); ``incentives_given`` /
``incentives_received`` (dicts by agent, this step); ``totals["incentives_given"]`` and
``totals["incentives_received"]`` (per-episode sums in the metrics); with discrete incentives
``rates["give_rate"]`` (share of recipients given a non-zero level).

For RLlib (any algorithm of the package) use the class path
``rllib_coopai.wrappers.incentive_actions.IncentiveActionsRLlibEnv`` as ``env`` with
``env_config = {"base_env": NAME_OR_CLASS_PATH, "incentive_type": ..., **base env kwargs}``.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_bool, check_choice, check_float
from rllib_coopai.envs.escape_room import given_incentive_slots
from rllib_coopai.wrappers.base import (
    ParallelWrapperBase,
    base_env_from_config,
    discrete_actions,
    rllib_env_class,
)

INCENTIVE_TYPES = ("discrete", "continuous")
DISCRETE_LAYOUTS = ("multi_discrete", "flat")
CONTINUOUS_OUTPUTS = ("sigmoid", "clip")
#: The wrapper's keys in an RLlib ``env_config`` (every other key goes to the base env).
INCENTIVE_OPTIONS = ("incentive_type", "levels", "r_max", "cost_coeff", "discrete_layout",
                     "continuous_output", "observe_given")


class IncentiveActionsWrapper(ParallelWrapperBase):
    """Give-reward actions over ``env`` (see the module docstring).

    Args:
        env: a PettingZoo ParallelEnv with Discrete actions and at least 2 agents.
        incentive_type: ``"discrete"`` (PG-d / AC-d) or ``"continuous"`` (PG-c / AC-c).
        levels: the discrete incentive values (>= 0, at least 2; default ``(0.0, 2.0)``).
        r_max: the continuous bound R_max (> 0; default 2.0).
        cost_coeff: what the giver pays per unit given (>= 0; default 1.0).
        discrete_layout: ``"multi_discrete"`` or ``"flat"``.
        continuous_output: ``"sigmoid"`` or ``"clip"``.
        observe_given: fill the base env's "incentives given" observation slots, where it has them.
    """

    metadata = {"render_modes": ["ansi"], "name": "incentive_actions", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, incentive_type: str = "discrete",
                 levels: Sequence[float] = (0.0, 2.0), r_max: float = 2.0, cost_coeff: float = 1.0,
                 discrete_layout: str = "multi_discrete", continuous_output: str = "sigmoid",
                 observe_given: bool = True):
        self.env = env
        self.incentive_type = check_choice("incentive_type", incentive_type, INCENTIVE_TYPES)
        self.discrete_layout = check_choice("discrete_layout", discrete_layout, DISCRETE_LAYOUTS)
        self.continuous_output = check_choice("continuous_output", continuous_output,
                                              CONTINUOUS_OUTPUTS)
        if isinstance(levels, (str, bytes)) or not hasattr(levels, "__len__") or len(levels) < 2:
            raise ValueError(f"levels must be a list of at least 2 incentive values >= 0 "
                             f"(e.g. [0.0, 2.0]: no-op / give R_a), got {levels!r}")
        self.levels = np.array([check_float(f"levels[{k}]", v, 0.0) for k, v in enumerate(levels)])
        self.r_max = check_float("r_max", r_max, 0.0, low_open=True)
        self.cost_coeff = check_float("cost_coeff", cost_coeff, 0.0)
        self.observe_given = check_bool("observe_given", observe_given)
        self.possible_agents = list(env.possible_agents)
        self.n_agents = len(self.possible_agents)
        if self.n_agents < 2:
            raise ValueError(f"incentive actions need at least 2 agents, the env has {self.n_agents}")
        self.n_moves = {a: discrete_actions(env, a, "incentive actions") for a in self.possible_agents}
        #: the recipients of each agent, in ``possible_agents`` order
        self.recipients = {a: [b for b in self.possible_agents if b != a] for a in self.possible_agents}
        k, n_levels = self.n_agents - 1, len(self.levels)
        self._dims = {a: (self.n_moves[a],) + (n_levels,) * k for a in self.possible_agents}
        self.action_spaces = {a: self._action_space(a) for a in self.possible_agents}
        self.observation_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self.n_given_slots = given_incentive_slots(env) if self.observe_given else 0
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"give_{env.metadata.get('name', 'env')}")
        self.agents = []
        self.given_sums = np.zeros((self.n_agents, self.n_agents), np.float64)

    # ------------------------------------------------------------------ spaces
    def _action_space(self, agent) -> spaces.Space:
        k = self.n_agents - 1
        if self.incentive_type == "discrete":
            if self.discrete_layout == "flat":
                return spaces.Discrete(int(np.prod(self._dims[agent])))
            return spaces.MultiDiscrete(np.array(self._dims[agent], np.int64))
        if self.continuous_output == "sigmoid":
            box = spaces.Box(-np.inf, np.inf, (k,), np.float32)
        else:
            box = spaces.Box(0.0, self.r_max, (k,), np.float32)
        return spaces.Tuple((spaces.Discrete(self.n_moves[agent]), box))

    # ------------------------------------------------------------------ decoding
    def decode(self, agent, action):
        """``(move, given)`` of ``agent``'s action: the base action and the amounts it gives its
        recipients (``self.recipients[agent]`` order)."""
        if self.incentive_type == "discrete":
            if self.discrete_layout == "flat":
                idx = np.unravel_index(int(action), self._dims[agent])
            else:
                idx = np.asarray(action, np.int64).reshape(-1)
                if idx.shape != (len(self._dims[agent]),):
                    raise ValueError(f"agent {agent!r}: expected {len(self._dims[agent])} action "
                                     f"components (move + one level per recipient), got {action!r}")
            move = int(idx[0]) % self.n_moves[agent]
            choice = np.clip(np.asarray(idx[1:], np.int64), 0, len(self.levels) - 1)
            return move, self.levels[choice].astype(np.float64)
        move, raw = action
        raw = np.asarray(raw, np.float64).reshape(-1)
        if self.continuous_output == "sigmoid":  # a_r = R_max * sigmoid(u), LIO thesis App. B.4.2
            given = self.r_max / (1.0 + np.exp(-np.clip(raw, -60.0, 60.0)))
        else:
            given = np.clip(raw, 0.0, self.r_max)
        return int(move) % self.n_moves[agent], np.nan_to_num(given, nan=0.0)

    # ------------------------------------------------------------------ API
    def _fill_given(self, obs):
        if not self.n_given_slots:
            return obs
        out = {}
        for a, o in obs.items():
            i = self.possible_agents.index(a)
            o = np.array(o, np.float32, copy=True)
            o[-self.n_given_slots:] = [self.given_sums[i, self.possible_agents.index(b)]
                                       for b in self.recipients[a]]
            out[a] = o
        return out

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        self.given_sums[:] = 0.0
        return self._fill_given(obs), infos

    def step(self, actions):
        live = list(self.agents)
        moves: Dict = {}
        gives = {a: {} for a in live}  # giver -> recipient -> amount
        for a in live:
            move, given = self.decode(a, actions[a])
            moves[a] = move
            for b, g in zip(self.recipients[a], given):
                if b in live:
                    gives[a][b] = float(g)
        obs, rew, term, trunc, infos = self.env.step(moves)
        received = {a: sum(gives[g].get(a, 0.0) for g in live) for a in live}
        paid = {a: sum(gives[a].values()) for a in live}
        idx = {a: i for i, a in enumerate(self.possible_agents)}
        for a in live:
            for b, g in gives[a].items():
                self.given_sums[idx[a], idx[b]] += g
        rewards, out_infos = {}, {}
        for a, r in rew.items():
            # r_j = r_j^env + sum_i g_{i->j} - cost_coeff * sum_k g_{j->k}
            rewards[a] = float(r) + received.get(a, 0.0) - self.cost_coeff * paid.get(a, 0.0)
        for a in [b for b in self.possible_agents if b in rew or b in infos]:
            info = dict(infos.get(a, {}) or {})
            if a in live:
                info.setdefault("extrinsic_reward", float(rew.get(a, 0.0)))
                info.update(move=moves[a], incentives_given=dict(gives[a]),
                            incentives_received={g: gives[g][a] for g in live if a in gives[g]})
                totals = dict(info.get("totals", {}))
                totals["incentives_given"] = totals.get("incentives_given", 0.0) + paid[a]
                totals["incentives_received"] = totals.get("incentives_received", 0.0) + received[a]
                info["totals"] = totals
                if gives[a] and self.incentive_type == "discrete":
                    rates = dict(info.get("rates", {}))
                    rates["give_rate"] = float(np.mean([g > 0 for g in gives[a].values()]))
                    info["rates"] = rates
            out_infos[a] = info
        self.agents = list(self.env.agents)
        return self._fill_given(obs), rewards, term, trunc, out_infos

    def state(self):
        return self.env.state()



class IncentiveActionsRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of ``IncentiveActionsWrapper``: ``env_config = {"base_env": name or class
    path, "incentive_type": "discrete" | "continuous", "levels": [...], "r_max": ...,
    "cost_coeff": ..., "discrete_layout": ..., "continuous_output": ..., "observe_given": ...,
    **base env kwargs}``. Use ``env: rllib_coopai.wrappers.incentive_actions.IncentiveActionsRLlibEnv``
    in a YAML file or ``config.environment(IncentiveActionsRLlibEnv, env_config={...})``."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, INCENTIVE_OPTIONS, "incentive actions")
        super().__init__(IncentiveActionsWrapper(base, **opts))
