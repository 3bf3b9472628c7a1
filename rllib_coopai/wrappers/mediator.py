"""Mediated multi-agent RL (Ivanov et al. 2023, "Mediated multi-agent reinforcement learning") as a
PettingZoo wrapper: the Mediated-MARL baseline of the DCL paper (§4, Tables 3-7), trained with any
algorithm.

``MediatorWrapper(env)`` adds one learning agent, the mediator (agent id ``"mediator"``, its own
policy), to any discrete-action PettingZoo ``ParallelEnv`` with N agents. Every base step becomes
two wrapper steps:

====== ====================================== ===================================================
stage  the agent sees                         the agent outputs
====== ====================================== ===================================================
0      base obs, stage one-hot                agent i: an action ``a^i`` in ``0..|A^i|-1`` (act
                                              itself) or ``|A^i|`` (delegate to the mediator);
                                              mediator: ignored
1      (mediator) all base obs, stage,        mediator: one action per agent
       coalition mask                         (``MultiDiscrete([|A^1|, ..., |A^N|])``); only the
                                              entries of the agents that delegated are used;
                                              agents: ignored
====== ====================================== ===================================================

After stage 1 the base env executes the joint action in which the mediator's actions replace
exactly those of the agents that delegated (the coalition ``C``). Agents keep their own base
rewards. Delegation is decided anew at every base step.

**Mediator objective** (DCL paper §4: "trained to maximise utilitarian social welfare"; Ivanov et
al.: the welfare of the agents that delegated):

* ``constrained=False``: ``r_med = sum_{i in C} r_i``.
* ``constrained=True``: the individual-rationality constraint of Ivanov et al. -- an agent in the
  coalition gets at least what it gets acting itself, ``E[r_i | i in C] >= v_i`` -- enforced by
  Lagrangian relaxation with dynamically updated multipliers (DCL paper §4.1.1)::

      r_med = sum_{i in C} r_i + sum_{i in C} lambda_i (r_i - v_i)
      lambda_i <- max(0, lambda_i - lagrange_lr * (r_i - v_i))      after each step with i in C
      v_i      <- v_i + value_lr * (r_i - v_i)                       after each step with i not in C

  ``v_i`` (agent i's outside option) is a running mean of the rewards i got on the steps it acted
  itself; before i has acted itself once, its constraint is inactive (``lambda_i`` stays at its
  initial value ``lagrange_init`` and adds nothing). The estimates are state-independent: exact
  for one-shot games (the DCL PD), an approximation for multi-state games. Each env instance
  keeps its own multipliers (one set per env runner).

Spaces: agents get a flat ``Box`` ``[flattened base obs | stage one-hot (2)]`` and
``Discrete(|A^i| + 1)``; the mediator gets ``[all agents' flattened base obs | stage one-hot (2) |
coalition mask (N)]`` (in ``possible_agents`` order). Every agent acts in every stage (PettingZoo's
parallel API); ``infos[agent]["action_mask"]`` marks what matters.

Info contract (``rllib_coopai.envs.base``): after a base step each agent's info keeps the base
env's keys (``cooperated``, ``joint_action`` of the *executed* actions), ``extrinsic_reward``,
``rates["delegation_rate"]`` (1 if it delegated). The mediator's info has ``extrinsic_reward`` 0
(``social_welfare`` stays the base game's), ``rates["coalition_size"]``,
``rates["lambda/<agent>"]`` (constrained), and ``totals["coalition_welfare"]``.

For RLlib (any algorithm; the DCL paper's Mediated-MARL trains every policy with independent
actor-critic) use the class path ``rllib_coopai.wrappers.mediator.MediatorRLlibEnv`` as ``env`` with
``env_config = {"base_env": NAME_OR_CLASS_PATH, "constrained": ..., **base env kwargs}``.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_bool, check_float
from rllib_coopai.wrappers.base import ParallelWrapperBase, base_env_from_config, rllib_env_class
from rllib_coopai.wrappers.contracts import discrete_size

CHOOSE, MEDIATE = 0, 1
STAGE_NAMES = ("choose", "mediate")
MEDIATOR_ID = "mediator"
#: The wrapper's keys in an RLlib ``env_config`` (every other key goes to the base env).
MEDIATOR_OPTIONS = ("constrained", "lagrange_lr", "lagrange_init", "value_lr", "mediator_id")


class MediatorWrapper(ParallelWrapperBase):
    """Mediated-MARL over ``env`` (see the module docstring).

    Args:
        env: a PettingZoo ParallelEnv with Discrete action spaces.
        constrained: the individual-rationality constraint with Lagrange multipliers (True) or
            plain coalition welfare (False, default).
        lagrange_lr: step size of the multipliers' projected descent (> 0; not given in the
            sources, default 0.05).
        lagrange_init: initial multiplier (>= 0, default 0).
        value_lr: step size of the outside-option running mean ``v_i`` in (0, 1] (default 0.05).
        mediator_id: the mediator's agent id (default ``"mediator"``).
    """

    metadata = {"render_modes": ["ansi"], "name": "mediated", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, constrained: bool = False, lagrange_lr: float = 0.05,
                 lagrange_init: float = 0.0, value_lr: float = 0.05,
                 mediator_id: str = MEDIATOR_ID):
        self.env = env
        self.constrained = check_bool("constrained", constrained)
        self.lagrange_lr = check_float("lagrange_lr", lagrange_lr, 0.0, low_open=True)
        self.lagrange_init = check_float("lagrange_init", lagrange_init, 0.0)
        self.value_lr = check_float("value_lr", value_lr, 0.0, 1.0, low_open=True)
        self.env_agents = list(env.possible_agents)
        if not isinstance(mediator_id, str) or mediator_id in self.env_agents:
            raise ValueError(f"mediator_id must be a string that is not an agent of the base env "
                             f"({self.env_agents}), got {mediator_id!r}")
        self.mediator_id = mediator_id
        self.possible_agents = self.env_agents + [mediator_id]
        self.n_agents = len(self.env_agents)
        self.n_actions = {a: discrete_size(env, a, "mediator") for a in self.env_agents}
        self.base_obs_spaces = {a: env.observation_space(a) for a in self.env_agents}
        self._flat_dims = {a: int(spaces.flatdim(s)) for a, s in self.base_obs_spaces.items()}
        self.observation_spaces = {
            a: spaces.Box(-np.inf, np.inf, (self._flat_dims[a] + 2,), np.float32)
            for a in self.env_agents}
        self.observation_spaces[mediator_id] = spaces.Box(
            -np.inf, np.inf, (sum(self._flat_dims.values()) + 2 + self.n_agents,), np.float32)
        self.action_spaces = {a: spaces.Discrete(n + 1) for a, n in self.n_actions.items()}
        self.action_spaces[mediator_id] = spaces.MultiDiscrete(
            [self.n_actions[a] for a in self.env_agents])
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"mediated_{env.metadata.get('name', 'env')}")
        self.agents = []
        self.stage = CHOOSE
        self._base_obs: Dict = {}
        self._own: Dict = {}  # agent -> own action, for the agents that act themselves
        self.coalition: list = []
        #: Lagrange multipliers lambda_i and outside-option estimates v_i (None: not seen yet)
        self.multipliers = {a: self.lagrange_init for a in self.env_agents}
        self.outside_values: Dict[str, Optional[float]] = {a: None for a in self.env_agents}

    # ------------------------------------------------------------------ spaces
    def action_mask(self, agent, stage: Optional[int] = None) -> np.ndarray:
        """What matters for ``agent`` in ``stage``: for an agent a 0/1 vector over its
        ``Discrete`` actions (all 0 in the mediate stage); for the mediator a 0/1 vector over its
        N action entries (1 for the coalition's, in the mediate stage)."""
        stage = self.stage if stage is None else stage
        if agent == self.mediator_id:
            return np.array([float(stage == MEDIATE and a in self.coalition)
                             for a in self.env_agents], np.float32)
        return np.full(self.n_actions[agent] + 1, float(stage == CHOOSE), np.float32)

    # ------------------------------------------------------------------ the mediator's reward
    def mediator_reward(self, rewards: Dict[str, float], coalition) -> float:
        """``r_med`` for base rewards ``rewards`` and the coalition (module docstring), with the
        current multipliers and outside-option estimates."""
        total = 0.0
        for a in coalition:
            r = float(rewards.get(a, 0.0))
            total += r
            v = self.outside_values[a]
            if self.constrained and v is not None:
                total += self.multipliers[a] * (r - v)
        return total

    def _update_constraints(self, rewards: Dict[str, float], coalition) -> None:
        for a in self.env_agents:
            if a not in rewards:
                continue
            r = float(rewards[a])
            v = self.outside_values[a]
            if a in coalition:
                if v is not None:  # projected dual descent on lambda_i (constraint r_i - v_i >= 0)
                    self.multipliers[a] = max(0.0, self.multipliers[a] - self.lagrange_lr * (r - v))
            else:
                self.outside_values[a] = r if v is None else v + self.value_lr * (r - v)

    # ------------------------------------------------------------------ helpers
    def _observe(self, agents):
        stage_oh = np.zeros(2, np.float32)
        stage_oh[self.stage] = 1.0
        flat = {a: spaces.flatten(self.base_obs_spaces[a], self._base_obs[a]).astype(np.float32)
                if a in self._base_obs else np.zeros(self._flat_dims[a], np.float32)
                for a in self.env_agents}
        obs = {a: np.concatenate([flat[a], stage_oh]) for a in agents if a != self.mediator_id}
        if self.mediator_id in agents:
            mask = np.array([float(a in self.coalition) for a in self.env_agents], np.float32)
            obs[self.mediator_id] = np.concatenate([*(flat[a] for a in self.env_agents),
                                                    stage_oh, mask])
        return obs

    def _stage_infos(self, agents):
        return {a: {"stage": STAGE_NAMES[self.stage], "action_mask": self.action_mask(a)}
                for a in agents}

    # ------------------------------------------------------------------ API
    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        self._base_obs, _ = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents) + [self.mediator_id]
        self.stage = CHOOSE
        self._own, self.coalition = {}, []
        return self._observe(self.agents), self._stage_infos(self.agents)

    def step(self, actions):
        if self.stage == MEDIATE:
            return self._execute(actions)
        live = [a for a in self.agents if a != self.mediator_id]
        self._own, self.coalition = {}, []
        for a in live:
            k = int(actions[a]) % (self.n_actions[a] + 1)
            if k == self.n_actions[a]:
                self.coalition.append(a)
            else:
                self._own[a] = k
        self.stage = MEDIATE
        zero = {a: 0.0 for a in self.agents}
        no = {a: False for a in self.agents}
        return self._observe(self.agents), zero, no, dict(no), self._stage_infos(self.agents)

    def joint_action(self, mediator_action) -> Dict[str, int]:
        """The executed base actions: the agents' own, the mediator's for the coalition."""
        med = np.asarray(mediator_action).reshape(-1)
        out = dict(self._own)
        for a in self.coalition:
            out[a] = int(med[self.env_agents.index(a)]) % self.n_actions[a]
        return out

    def _execute(self, actions):
        executed = self.joint_action(actions[self.mediator_id])
        coalition = list(self.coalition)
        base_obs, rew, term, trunc, binfos = self.env.step(executed)
        self._base_obs = base_obs
        r_med = self.mediator_reward(rew, coalition)
        self._update_constraints(rew, coalition)
        rewards, infos = dict(rew), {}
        for a in base_obs:
            info = dict(binfos.get(a, {}) or {})
            info.setdefault("extrinsic_reward", float(rew.get(a, 0.0)))
            rates = dict(info.get("rates", {}))
            rates["delegation_rate"] = float(a in coalition)
            info.update(rates=rates, delegated=a in coalition, executed_action=executed.get(a))
            infos[a] = info
        med_rates = {"coalition_size": float(len(coalition))}
        if self.constrained:
            med_rates.update({f"lambda/{a}": self.multipliers[a] for a in self.env_agents})
        infos[self.mediator_id] = {"extrinsic_reward": 0.0, "rates": med_rates,
                                   "totals": {"coalition_welfare": float(
                                       sum(rew.get(a, 0.0) for a in coalition))},
                                   "coalition": coalition}
        rewards[self.mediator_id] = r_med
        done_all = not self.env.agents
        term = dict(term)
        trunc = dict(trunc)
        term[self.mediator_id] = done_all and all(term.get(a, False) for a in base_obs)
        trunc[self.mediator_id] = done_all and not term[self.mediator_id]
        self.agents = list(self.env.agents) + ([] if done_all else [self.mediator_id])
        self.stage = CHOOSE
        self._own, self.coalition = {}, []
        acted = list(base_obs) + [self.mediator_id]
        for a in acted:
            infos[a].update(stage=STAGE_NAMES[CHOOSE], action_mask=self.action_mask(a))
        return self._observe(acted), rewards, term, trunc, infos



class MediatorRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of :class:`MediatorWrapper`: ``env_config = {"base_env": NAME_OR_CLASS_PATH,
    "constrained": ..., "lagrange_lr": ..., "lagrange_init": ..., "value_lr": ...,
    **base env kwargs}``. The mediator is the extra agent ``"mediator"``: with the package's
    algorithms it gets its own RLModule (one per agent id)."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, MEDIATOR_OPTIONS, "the mediator wrapper")
        super().__init__(MediatorWrapper(base, **opts))
