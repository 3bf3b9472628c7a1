"""Formal contracts (Haupt et al. 2022, "Formal contracts mitigate social dilemmas in multi-agent RL")
as a PettingZoo wrapper: the MOCA baseline of the DCL paper (§4, Table 4), trained with any algorithm.

``ContractWrapper(env)`` adds a contracting stage to any discrete-action PettingZoo ``ParallelEnv``
with N >= 2 agents. One agent, the proposer, proposes a contract from a finite contract space; the
others accept or reject it at once; if everyone accepts, the contract is binding and the wrapper
enforces it exactly on the rewards, otherwise the base game is played as is.

This is the contracting augmentation of the game, the part of MOCA the DCL paper's Table 4
describes (individual returns, reward transfer, independent learners). Haupt et al.'s
Multi-Objective Contract Augmentation *training scheme* (first learning contract-conditioned
welfare-maximising policies, then the contracting game) is not part of it: any learner, e.g. the
package's IPPO, trains directly in the augmented game.

====== ====================================== ===================================================
stage  the agent sees                         the agent outputs
====== ====================================== ===================================================
0      base obs, stage, proposer one-hot      proposer: contract index ``k`` (0 = no contract);
                                              others: ignored
1      ... + proposed contract one-hot        non-proposers: accept (1) / reject (0);
                                              proposer: ignored (it accepts its own proposal)
2      ... + contract in force one-hot        base action (the base env steps)
====== ====================================== ===================================================

**Contract space** (Haupt et al.'s contracts are transfers conditioned on the contractible joint
action; the DCL paper does not give MOCA's, see its §4.1.1): contract 0 is "no contract"; every
other contract ``k`` is a *fee* ``x`` that an agent pays, on every base step, when its own action
is the contract's trigger. The fee is split equally among the other N-1 agents, so the transfers
of a step sum to zero::

    T_i = -x * 1[trigger_i] + x / (N-1) * sum_{j != i} 1[trigger_j]          (zero-sum)
    r_i^contracted = r_i + T_i

``trigger="defect"`` (default): the trigger is "did not cooperate" as the base env reports it
(``infos[agent]["cooperated"] is False``; the package's PD, public goods and grid game report it);
the contracts are the levels of ``transfer_levels``: ``k = 1 + level index``.
``trigger="action"``: the contract also names the base action that triggers the fee:
``k = 1 + action * len(transfer_levels) + level index`` (any discrete-action env).
In the PD (DCL paper Table 1) a defection fee x > 1 makes cooperating strictly dominant.

**Timing** (documented choice): ``contract_period="episode"`` (default) follows Haupt et al.: one
contracting stage at the start of the episode, and an accepted contract binds for every step of
the episode. ``contract_period="step"`` contracts again before every base step (each contract binds
for that one step). In a one-shot game the two are the same.

**Proposer**: ``proposer="random"`` (default, as in Haupt et al.): drawn uniformly at each
contracting stage from the wrapper's RNG (seeded by ``reset(seed=...)``); ``"round_robin"``:
agent ``c mod N`` proposes at the c-th contracting stage since construction.

Spaces (as in ``rllib_coopai.wrappers.commitment``): one flat ``Box`` observation
``[flattened base obs | stage one-hot (3) | proposer one-hot (N) | contract one-hot (K)]``, where
the contract block holds the proposal in stage 1 and the contract in force in stage 2; every agent
has ``Discrete(max(K, 2, max_i |A^i|))``. Invalid actions map deterministically (``k % K``,
``k % 2``, ``k % |A^i|``); the valid ones are in ``infos[agent]["action_mask"]``.

Info contract (``rllib_coopai.envs.base``): after a base step each agent's info keeps the base
env's keys (``cooperated``, ``joint_action``), ``extrinsic_reward`` is the base env's reward (so
``social_welfare`` stays the base game's), ``totals["contract_transfer"]`` is the transfer ``T_i``
and ``rates["contract_rate"]`` is 1 when a contract was in force. The proposer's info at stage 1
has ``rates["proposal_rate"]`` (a contract other than 0 proposed); the others' ``accept_rate``
(where a contract was proposed).

For RLlib (any algorithm; the DCL paper trains MOCA with PPO, Tables 5-7) use the class path
``rllib_coopai.wrappers.contracts.ContractRLlibEnv`` as ``env`` with
``env_config = {"base_env": NAME_OR_CLASS_PATH, "transfer_levels": [...], ..., **base env kwargs}``.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_choice, check_float
from rllib_coopai.wrappers.base import ParallelWrapperBase, base_env_from_config, rllib_env_class

PROPOSE, ACCEPT, ACT = 0, 1, 2
STAGE_NAMES = ("propose", "accept", "act")
TRIGGERS = ("defect", "action")
PERIODS = ("episode", "step")
PROPOSERS = ("random", "round_robin")
#: The wrapper's keys in an RLlib ``env_config`` (every other key goes to the base env).
CONTRACT_OPTIONS = ("transfer_levels", "trigger", "contract_period", "proposer")


def discrete_size(env, agent, mechanism: str) -> int:
    """``n`` of ``agent``'s ``Discrete(n)`` action space; ValueError naming ``mechanism`` otherwise."""
    space = env.action_space(agent)
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"the {mechanism} wrapper needs discrete base actions; agent {agent!r} "
                         f"has {space}")
    return int(space.n)


class ContractWrapper(ParallelWrapperBase):
    """Formal contracting over ``env`` (see the module docstring).

    Args:
        env: a PettingZoo ParallelEnv with >= 2 agents and Discrete action spaces.
        transfer_levels: the fees a contract can set, each > 0 (default ``(0.5, 1.0, 2.0)``: in
            the PD one fee too small to change the dominant action, one that makes the agent
            indifferent, one that makes cooperating dominant).
        trigger: ``"defect"`` or ``"action"`` (what makes an agent pay the fee).
        contract_period: ``"episode"`` (Haupt et al.) or ``"step"``.
        proposer: ``"random"`` (Haupt et al.) or ``"round_robin"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "contracts", "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, transfer_levels: Sequence[float] = (0.5, 1.0, 2.0),
                 trigger: str = "defect", contract_period: str = "episode",
                 proposer: str = "random"):
        self.env = env
        self.trigger = check_choice("trigger", trigger, TRIGGERS)
        self.contract_period = check_choice("contract_period", contract_period, PERIODS)
        self.proposer_rule = check_choice("proposer", proposer, PROPOSERS)
        if isinstance(transfer_levels, (str, bytes)) or not hasattr(transfer_levels, "__len__") \
                or len(transfer_levels) == 0:
            raise ValueError("transfer_levels must be a non-empty list of fees > 0, "
                             f"got {transfer_levels!r}")
        self.transfer_levels = tuple(check_float(f"transfer_levels[{i}]", x, 0.0, low_open=True)
                                     for i, x in enumerate(transfer_levels))
        self.possible_agents = list(env.possible_agents)
        self.n_agents = len(self.possible_agents)
        if self.n_agents < 2:
            raise ValueError(f"contracts need at least 2 agents, the env has {self.n_agents}")
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.n_actions = {a: discrete_size(env, a, "contracts") for a in self.possible_agents}
        n_triggers = 1 if self.trigger == "defect" else max(self.n_actions.values())
        self.n_contracts = 1 + n_triggers * len(self.transfer_levels)
        self.n_uniform = max(self.n_contracts, 2, max(self.n_actions.values()))
        self.base_obs_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        extra = 3 + self.n_agents + self.n_contracts
        self.observation_spaces = {
            a: spaces.Box(-np.inf, np.inf, (int(spaces.flatdim(s)) + extra,), np.float32)
            for a, s in self.base_obs_spaces.items()}
        self.action_spaces = {a: spaces.Discrete(self.n_uniform) for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"contracts_{env.metadata.get('name', 'env')}")
        self.agents = []
        self.np_random = np.random.default_rng()
        self.stage = PROPOSE
        self.proposer: Optional[str] = None
        self.proposal = 0
        self.contract = 0  # the contract in force (0: none)
        self._n_contracting = 0  # contracting stages so far (round robin)
        self._base_obs: Dict = {}

    # ------------------------------------------------------------------ spaces
    def action_mask(self, agent, stage: Optional[int] = None) -> np.ndarray:
        """1 for the actions that matter for ``agent`` in ``stage`` (default: the current one)."""
        stage = self.stage if stage is None else stage
        mask = np.zeros(self.n_uniform, np.float32)
        if stage == PROPOSE:
            mask[: self.n_contracts if agent == self.proposer else 1] = 1.0
        elif stage == ACCEPT:
            mask[: 1 if agent == self.proposer else 2] = 1.0
        else:
            mask[: self.n_actions[agent]] = 1.0
        return mask

    # ------------------------------------------------------------------ contracts
    def describe(self, k: int) -> dict:
        """``{"fee": x, "trigger": "defect" | base action}`` of contract ``k`` (``{}`` for 0)."""
        k = int(k)
        if not 0 <= k < self.n_contracts:
            raise ValueError(f"contract index must be in [0, {self.n_contracts - 1}], got {k}")
        if k == 0:
            return {}
        trig, level = divmod(k - 1, len(self.transfer_levels))
        return {"fee": self.transfer_levels[level],
                "trigger": "defect" if self.trigger == "defect" else trig}

    def transfers(self, k: int, actions: dict, infos: dict) -> Dict[str, float]:
        """The zero-sum transfers ``T_i`` of contract ``k`` for one base step (module docstring)."""
        spec = self.describe(k)
        out = {a: 0.0 for a in actions}
        if not spec:
            return out
        payers = [a for a in actions if self._triggered(a, spec["trigger"], actions, infos)]
        share = spec["fee"] / (self.n_agents - 1)
        for p in payers:
            out[p] -= spec["fee"]
            for a in out:
                if a != p:
                    out[a] += share
        return out

    def _triggered(self, agent, trig, actions, infos) -> bool:
        if trig != "defect":
            return int(actions[agent]) == int(trig)
        info = infos.get(agent) or {}
        if "cooperated" not in info:
            raise ValueError(
                f"trigger='defect' needs the base env to report infos[agent]['cooperated']; "
                f"{self.env.metadata.get('name', 'the base env')} does not for agent {agent!r}. "
                f"Use trigger='action' (a fee on a named base action) instead.")
        return not bool(info["cooperated"])

    # ------------------------------------------------------------------ helpers
    def _new_contracting_stage(self):
        if self.proposer_rule == "random":
            live = list(self.agents)
            self.proposer = live[int(self.np_random.integers(len(live)))]
        else:
            self.proposer = self.possible_agents[self._n_contracting % self.n_agents]
            if self.proposer not in self.agents:  # an agent that left cannot propose
                self.proposer = self.agents[self._n_contracting % len(self.agents)]
        self._n_contracting += 1
        self.stage = PROPOSE
        self.proposal = 0
        self.contract = 0

    def _observe(self, agents):
        stage_oh = np.zeros(3, np.float32)
        stage_oh[self.stage] = 1.0
        prop_oh = np.zeros(self.n_agents, np.float32)
        if self.proposer is not None:
            prop_oh[self._index[self.proposer]] = 1.0
        contract_oh = np.zeros(self.n_contracts, np.float32)
        if self.stage == ACCEPT:
            contract_oh[self.proposal] = 1.0
        elif self.stage == ACT:
            contract_oh[self.contract] = 1.0
        obs = {}
        for a in agents:
            base = spaces.flatten(self.base_obs_spaces[a], self._base_obs[a]).astype(np.float32)
            obs[a] = np.concatenate([base, stage_oh, prop_oh, contract_oh])
        return obs

    def _stage_infos(self):
        return {a: {"stage": STAGE_NAMES[self.stage], "action_mask": self.action_mask(a)}
                for a in self.agents}

    # ------------------------------------------------------------------ API
    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self._base_obs, _ = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        self._new_contracting_stage()
        return self._observe(self.agents), self._stage_infos()

    def step(self, actions):
        if self.stage == ACT:
            return self._act(actions)
        zero = {a: 0.0 for a in self.agents}
        no = {a: False for a in self.agents}
        rates = {}
        if self.stage == PROPOSE:
            self.proposal = int(actions[self.proposer]) % self.n_contracts
            self.stage = ACCEPT
            infos = self._stage_infos()
        else:
            accepts = {a: int(actions[a]) % 2 for a in self.agents if a != self.proposer}
            self.contract = self.proposal if all(v == 1 for v in accepts.values()) else 0
            self.stage = ACT
            infos = self._stage_infos()
            rates[self.proposer] = {"proposal_rate": float(self.proposal != 0)}
            if self.proposal != 0:
                for a, v in accepts.items():
                    rates[a] = {"accept_rate": float(v)}
        for a, r in rates.items():
            infos[a]["rates"] = r
        return self._observe(self.agents), zero, no, dict(no), infos

    def _act(self, actions):
        acted = list(self.agents)
        executed = {a: int(actions[a]) % self.n_actions[a] for a in acted}
        base_obs, rew, term, trunc, binfos = self.env.step(executed)
        self._base_obs = base_obs
        transfer = self.transfers(self.contract, {a: executed[a] for a in rew}, binfos)
        rewards, infos = {}, {}
        for a in base_obs:
            info = dict(binfos.get(a, {}) or {})
            info.setdefault("extrinsic_reward", float(rew.get(a, 0.0)))
            rates = dict(info.get("rates", {}))
            rates["contract_rate"] = float(self.contract != 0)
            totals = dict(info.get("totals", {}))
            totals["contract_transfer"] = transfer.get(a, 0.0)
            info.update(rates=rates, totals=totals, contract=self.contract, proposer=self.proposer)
            infos[a] = info
            rewards[a] = float(rew.get(a, 0.0)) + transfer.get(a, 0.0)
        self.agents = list(self.env.agents)
        if self.agents and self.contract_period == "step":
            self._new_contracting_stage()
        for a in infos:
            infos[a].update(stage=STAGE_NAMES[self.stage], action_mask=self.action_mask(a))
        return self._observe(list(base_obs)), rewards, term, trunc, infos



class ContractRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of :class:`ContractWrapper`: ``env_config = {"base_env": NAME_OR_CLASS_PATH,
    "transfer_levels": [...], "trigger": ..., "contract_period": ..., "proposer": ...,
    **base env kwargs}``. Train any RLlib algorithm (the DCL paper's MOCA baseline: IPPO) with
    binding reward-transfer contracts."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, CONTRACT_OPTIONS, "the contracts wrapper")
        super().__init__(ContractWrapper(base, **opts))
