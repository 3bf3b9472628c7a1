"""Markov Commitment Games (DCL paper §2) as PettingZoo wrappers, plus mega-step commitments (DCL paper §4.1.3).

``CommitmentGameWrapper(env)`` turns any discrete-action PettingZoo ``ParallelEnv`` with N agents
into its Markov Commitment Game. Every base-env step becomes three wrapper steps (stages):

====== ================================== ==========================================================
stage  the agent sees                     the agent outputs
====== ================================== ==========================================================
0      base obs, stage one-hot            proposal ``m^i`` (its own action for this step)
1      base obs, stage, joint proposal    commitment ``c^i`` in {0, 1} (1 = commit)
2      base obs, stage, joint proposal    independent action ``a^i`` (sampled every step, DCL paper §2)
====== ================================== ==========================================================

After stage 2 the base env executes ``m`` if *all* N agents committed, else ``a`` (the deal rule
of DCL paper §2, Figure 1). Rewards and transitions come only from the base env on the executed
joint action; stages 0 and 1 give reward 0 to everyone.

Design (documented choice): the observation is one flat ``Box`` =
``[flattened base obs | stage one-hot (3) | joint proposal one-hot (sum_i |M^i|)]`` and every agent
has the same ``Discrete(max(max_i |M^i|, 2))`` action space, so any RLlib algorithm (IPPO
included) trains in the wrapped game unchanged. What is invalid in a stage is given as an
``action_mask`` in ``infos[agent]`` every step and, with ``action_mask_in_obs=True``, in a Dict
observation ``{"observations": Box, "action_mask": Box}`` (RLlib's action-masking module layout).
Invalid actions from an unmasked learner are mapped deterministically: a proposal/action index
``k >= |A^i|`` means ``k % |A^i|``; a commitment ``k`` means ``k % 2``.

``mega_steps=K > 1`` composes ``MegaStepWrapper(env, K)`` underneath: proposals and independent
actions are K-step open-loop sequences of own actions (index ``np.ravel_multi_index(seq,
(|A|,)*K)``, as in github.com/shuhui-zhu/DCL), commitment is decided once per mega-step.

DCL itself (``rllib_coopai.algorithms.dcl``) runs the very same protocol inside its MultiRLModule in
one env step (so it samples at the base env's rate); this wrapper is the protocol as an
environment, for any other RLlib algorithm (IPPO in an MCG) and for evaluating DCL agents against
scripted partners (``rllib_coopai.algorithms.dcl.partners.play_commitment_game``).

Info contract (``rllib_coopai.envs.base``): after the action stage each agent's info keeps the base
env's keys (``cooperated`` / ``joint_action`` on *executed* actions) and adds ``rates``:
``agreement_rate`` (1 if all committed), ``commit_rate`` (own commitment) and, where the proposal
space is small (<= ``max_dist_actions``), ``propose/<k>`` and ``act/<k>`` indicators whose episode
means are the proposal and independent-action distributions. ``extrinsic_reward`` is the base
env's (undiscounted) reward, so social welfare stays the base game's.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_choice, check_float, check_int
from rllib_coopai.wrappers.base import (
    ParallelWrapperBase,
    base_env_from_config,
    discrete_actions,
    rllib_env_class,
)

PROPOSE, COMMIT, ACT = 0, 1, 2
STAGE_NAMES = ("propose", "commit", "act")
REWARD_AGGREGATIONS = ("discounted", "reference")


class MegaStepWrapper(ParallelWrapperBase):
    """One step = K base steps played open loop from a sequence action (DCL paper §4.1.3; K and the
    layout from github.com/shuhui-zhu/DCL).

    Args:
        env: a PettingZoo ParallelEnv with Discrete action spaces.
        mega_steps: K >= 1. The action of agent i is an index into ``|A^i|^K`` sequences,
            ``np.ravel_multi_index(seq, (|A^i|,)*K)``; for K=2, |A|=2: (0,0),(0,1),(1,0),(1,1).
        reward_aggregation: ``"discounted"`` (default, conventional): the mega reward is
            ``sum_k gamma^k r_{t+k}``; ``"reference"``: the authors' code, ``R <- gamma*R + r``,
            i.e. ``gamma r_t + r_{t+1}`` for K=2 (weights the later reward more).
        gamma: discount used inside the mega-step.

    The state is observed only at mega-step boundaries. If the base episode ends inside a
    mega-step, the rest of the sequence is dropped. ``infos[agent]["extrinsic_reward"]`` is the
    undiscounted sum of the base rewards, ``rates["cooperation_rate"]`` the share of base steps
    with ``cooperated`` (where the base env defines it), ``joint_actions`` the executed list.
    """

    metadata = {"render_modes": ["ansi"], "name": "mega_step", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, mega_steps: int = 2, reward_aggregation: str = "discounted",
                 gamma: float = 0.99):
        self.env = env
        self.mega_steps = check_int("mega_steps", mega_steps, 1, 16)
        self.reward_aggregation = check_choice("reward_aggregation", reward_aggregation,
                                               REWARD_AGGREGATIONS)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self.possible_agents = list(env.possible_agents)
        self.base_n = {a: discrete_actions(env, a, "Markov Commitment Games") for a in self.possible_agents}
        self.action_spaces = {
            a: spaces.Discrete(n ** self.mega_steps) for a, n in self.base_n.items()
        }
        self.observation_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"mega{self.mega_steps}_"
                             f"{env.metadata.get('name', 'env')}")
        self.agents = []

    def decode(self, agent, index: int):
        """Sequence of K base actions encoded by ``index``."""
        return np.unravel_index(int(index), (self.base_n[agent],) * self.mega_steps)

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        return obs, infos

    def step(self, actions):
        seqs = {a: self.decode(a, actions[a]) for a in self.agents}
        total = {a: 0.0 for a in self.agents}
        extrinsic = {a: 0.0 for a in self.agents}
        coop = {a: [0, 0] for a in self.agents}
        joint_actions = []
        obs = rew = term = trunc = infos = None
        for k in range(self.mega_steps):
            live = list(self.env.agents)
            if not live:
                break
            obs, rew, term, trunc, infos = self.env.step({a: int(seqs[a][k]) for a in live})
            for a, r in rew.items():
                info = infos.get(a, {}) or {}
                r_ext = float(info.get("extrinsic_reward", r))
                if self.reward_aggregation == "discounted":
                    total[a] += (self.gamma ** k) * float(r)
                else:  # the accumulation of the authors' code, github.com/shuhui-zhu/DCL
                    total[a] = self.gamma * total[a] + float(r)
                extrinsic[a] += r_ext
                if "cooperated" in info:
                    coop[a][0] += int(bool(info["cooperated"]))
                    coop[a][1] += 1
            joint_actions.append(tuple(int(seqs[a][k]) for a in self.possible_agents if a in seqs))
        self.agents = list(self.env.agents)
        out_infos = {}
        for a in obs:
            info = {kk: v for kk, v in (infos.get(a, {}) or {}).items()
                    if kk not in ("cooperated", "extrinsic_reward", "joint_action")}
            info["joint_actions"] = joint_actions
            info["extrinsic_reward"] = extrinsic.get(a, 0.0)
            rates = dict(info.get("rates", {}))
            if coop.get(a, [0, 0])[1]:
                rates["cooperation_rate"] = coop[a][0] / coop[a][1]
            if rates:
                info["rates"] = rates
            out_infos[a] = info
        rewards = {a: total[a] for a in obs}
        return obs, rewards, term, trunc, out_infos



# =============================================================================================
# The staged Markov Commitment Game (DCL paper §2, eq. (1), Figure 1)
# =============================================================================================
class CommitmentGameWrapper(ParallelWrapperBase):
    """Markov Commitment Game over ``env`` for N agents (see the module docstring).

    Args:
        env: PettingZoo ParallelEnv with Discrete actions and Box (or flattenable) observations.
        mega_steps: K; > 1 wraps ``MegaStepWrapper(env, K, reward_aggregation, gamma)``.
        reward_aggregation, gamma: see ``MegaStepWrapper`` (used only when K > 1).
        action_mask_in_obs: Dict observation with ``action_mask`` instead of the flat Box.
        max_dist_actions: report ``propose/<k>`` and ``act/<k>`` rates only if |M^i| <= this.
    """

    metadata = {"render_modes": ["ansi"], "name": "commitment_game", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, mega_steps: int = 1, reward_aggregation: str = "discounted",
                 gamma: float = 0.99, action_mask_in_obs: bool = False, max_dist_actions: int = 8):
        mega_steps = check_int("mega_steps", mega_steps, 1, 16)
        if mega_steps > 1:
            env = MegaStepWrapper(env, mega_steps, reward_aggregation, gamma)
        self.env = env
        self.mega_steps = mega_steps
        self.possible_agents = list(env.possible_agents)
        self.n_agents = len(self.possible_agents)
        self.n_actions = {a: discrete_actions(env, a, "Markov Commitment Games") for a in self.possible_agents}
        self._sizes = [self.n_actions[a] for a in self.possible_agents]
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(int)
        self.n_uniform = max(max(self._sizes), 2)
        self.base_obs_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self._flat_dims = {a: int(spaces.flatdim(s)) for a, s in self.base_obs_spaces.items()}
        self.action_mask_in_obs = bool(action_mask_in_obs)
        self.max_dist_actions = check_int("max_dist_actions", max_dist_actions, 0, None)
        self.observation_spaces = {}
        for a in self.possible_agents:
            flat = spaces.Box(-np.inf, np.inf, (self._flat_dims[a] + 3 + int(self._offsets[-1]),),
                              np.float32)
            if self.action_mask_in_obs:
                self.observation_spaces[a] = spaces.Dict({
                    "observations": flat,
                    "action_mask": spaces.Box(0.0, 1.0, (self.n_uniform,), np.float32),
                })
            else:
                self.observation_spaces[a] = flat
        self.action_spaces = {a: spaces.Discrete(self.n_uniform) for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"mcg_{env.metadata.get('name', 'env')}")
        self.agents = []
        self.stage = PROPOSE
        self._base_obs: Dict = {}
        self._m: Dict = {}
        self._c: Dict = {}

    # ------------------------------------------------------------------ spaces
    def action_mask(self, agent, stage: Optional[int] = None) -> np.ndarray:
        """1 for the actions valid for ``agent`` in ``stage`` (default: the current stage)."""
        stage = self.stage if stage is None else stage
        mask = np.zeros(self.n_uniform, np.float32)
        mask[: (2 if stage == COMMIT else self.n_actions[agent])] = 1.0
        return mask

    # ------------------------------------------------------------------ helpers
    def _proposal_onehot(self) -> np.ndarray:
        out = np.zeros(int(self._offsets[-1]), np.float32)
        for i, a in enumerate(self.possible_agents):
            if a in self._m:
                out[self._offsets[i] + self._m[a]] = 1.0
        return out

    def _observe(self):
        stage_oh = np.zeros(3, np.float32)
        stage_oh[self.stage] = 1.0
        prop = self._proposal_onehot() if self.stage != PROPOSE else np.zeros(
            int(self._offsets[-1]), np.float32)
        obs = {}
        for a in self.agents:
            base = spaces.flatten(self.base_obs_spaces[a], self._base_obs[a]).astype(np.float32)
            flat = np.concatenate([base, stage_oh, prop])
            if self.action_mask_in_obs:
                obs[a] = {"observations": flat, "action_mask": self.action_mask(a)}
            else:
                obs[a] = flat
        return obs

    # ------------------------------------------------------------------ API
    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        self._base_obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        self.stage = PROPOSE
        self._m, self._c = {}, {}
        infos = {a: dict(infos.get(a, {}) or {}, stage=STAGE_NAMES[PROPOSE],
                         action_mask=self.action_mask(a)) for a in self.agents}
        return self._observe(), infos

    def step(self, actions):
        zero = {a: 0.0 for a in self.agents}
        no = {a: False for a in self.agents}
        if self.stage == PROPOSE:
            self._m = {a: int(actions[a]) % self.n_actions[a] for a in self.agents}
            self.stage = COMMIT
        elif self.stage == COMMIT:
            self._c = {a: int(actions[a]) % 2 for a in self.agents}
            self.stage = ACT
        else:
            return self._act(actions)
        infos = {a: {"stage": STAGE_NAMES[self.stage], "action_mask": self.action_mask(a)}
                 for a in self.agents}
        return self._observe(), zero, no, dict(no), infos

    def _act(self, actions):
        a_ind = {a: int(actions[a]) % self.n_actions[a] for a in self.agents}
        deal = all(self._c.get(a, 0) == 1 for a in self.agents)  # deal rule, DCL paper §2, Figure 1
        executed = dict(self._m) if deal else a_ind
        base_obs, rew, term, trunc, binfos = self.env.step(executed)
        self._base_obs = base_obs
        infos = {}
        for a in base_obs:
            info = dict(binfos.get(a, {}) or {})
            rates = dict(info.get("rates", {}))
            rates["agreement_rate"] = float(deal)
            rates["commit_rate"] = float(self._c.get(a, 0))
            if self.n_actions[a] <= self.max_dist_actions:
                for k in range(self.n_actions[a]):
                    rates[f"propose/{k}"] = float(self._m.get(a) == k)
                    rates[f"act/{k}"] = float(a_ind.get(a) == k)
            info["rates"] = rates
            info.setdefault("extrinsic_reward", float(rew.get(a, 0.0)))
            info.update(proposal=self._m.get(a), commitment=self._c.get(a),
                        independent_action=a_ind.get(a), executed_action=executed.get(a),
                        deal=deal, stage=STAGE_NAMES[PROPOSE], action_mask=self.action_mask(a, PROPOSE))
            infos[a] = info
        self.agents = list(self.env.agents)
        self.stage = PROPOSE
        self._m, self._c = {}, {}
        # Observations for every agent that just acted (also on the final step).
        live = self.agents
        self.agents = list(base_obs)
        obs = self._observe()
        self.agents = live
        return obs, rew, term, trunc, infos



# =============================================================================================
# RLlib adapters (env classes usable as ``config.environment(env=Class, env_config={...})``)
# =============================================================================================
_MCG_OPTIONS = ("mega_steps", "reward_aggregation", "gamma", "action_mask_in_obs")


def _base_from_config(env_config: dict, options=_MCG_OPTIONS, wrapper: str = "the commitment protocol"):
    return base_env_from_config(env_config, options, wrapper)


_rllib_env_class = rllib_env_class


class CommitmentGameRLlibEnv(_rllib_env_class()):
    """RLlib MultiAgentEnv of the staged MCG: ``env_config = {"base_env": name, "mega_steps": K,
    "reward_aggregation": ..., "gamma": ..., "action_mask_in_obs": ..., **base env kwargs}``.
    Use it to train any RLlib algorithm (e.g. IPPO) in a Markov Commitment Game."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = _base_from_config(env_config)
        super().__init__(CommitmentGameWrapper(base, **opts))


class MegaStepRLlibEnv(_rllib_env_class()):
    """RLlib MultiAgentEnv of ``MegaStepWrapper``: ``env_config = {"base_env": name,
    "mega_steps": K, "reward_aggregation": ..., "gamma": ..., **base env kwargs}``. DCL uses it
    for mega-step commitments (its module runs the MCG protocol over this env)."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = _base_from_config(env_config)
        opts.pop("action_mask_in_obs", None)
        super().__init__(MegaStepWrapper(base, **opts))
