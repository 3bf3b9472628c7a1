"""Welfare rewards and punishment rewards: the training rewards of amTFT (normative-disagreement
paper §3.4, §4.1, App. C.1), as functions and as reward wrappers for any 2-player PettingZoo env.

* Welfare reward (cooperative training, amTFT(w)): every agent gets the same per-step reward
  ``w(r^t)``, the welfare of the step's reward profile under ``w``:

  ===================  ==================================================================
  ``utilitarian``      r_1^t + r_2^t                       (``metrics.welfare.utilitarian_welfare``)
  ``egalitarian``      min_i (r_i^t - d_i)                 (``egalitarian_welfare``, plain min)
  ``nash``             prod_i (r_i^t - d_i), sign rule     (``nash_welfare``)
  ``kalai_smorodinsky`` needs ``ideal=...``                (``kalai_smorodinsky_welfare``)
  ``inequity_averse``  r_1^t + r_2^t - beta |e_1^t - e_2^t| (``inequity_averse_rewards``: the
                       paper's w_IA, App. C.1, with e-traces e^t = gamma lam e^{t-1} + r^t)
  ===================  ==================================================================

  (aliases: ``util``, ``egal``, ``ks``, ``ia``/``w_ia``). Every definition is the one of
  ``rllib_coopai.metrics.welfare``; extra keyword arguments (``disagreement``, ``beta``,
  ``gamma``, ``lam``, ``ideal``) go to it.
* Punishment reward (the punishment policy, the paper's change (1) to Lerer & Peysakhovich's
  amTFT): the punisher's reward is MINUS its opponent's reward, ``-r_j^t``; the opponent keeps
  its own reward.

Info contract: ``infos[agent]["extrinsic_reward"]`` is the wrapped env's own reward (or the one it
already reports when wrappers are stacked), so ``social_welfare`` and the agents' returns in the
metrics stay the environment's.

For RLlib use the class paths ``rllib_coopai.wrappers.welfare_reward.WelfareRewardRLlibEnv``
(``env_config = {"base_env": NAME, "welfare": "utilitarian", ...base env kwargs}``) and
``...PunishmentRewardRLlibEnv`` (``{"base_env": NAME, "punisher": 0, ...}``).
"""
from __future__ import annotations

import inspect
from typing import Optional

import numpy as np
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_int
from rllib_coopai.metrics.welfare import (
    ALIASES,
    WELFARE_FUNCTIONS,
    eligibility_traces,
    inequity_averse_rewards,
)
from rllib_coopai.wrappers.base import ParallelWrapperBase, base_env_from_config, rllib_env_class

INEQUITY_AVERSE = "inequity_averse"
_IA_ALIASES = ("ia", "w_ia", "inequity_averse", "inequity_aversion")
#: Names ``welfare_rewards`` accepts (canonical; see ``canonical_welfare`` for the aliases).
WELFARE_REWARD_NAMES = tuple(sorted(WELFARE_FUNCTIONS)) + (INEQUITY_AVERSE,)
#: beta, gamma, lam of w_IA when not given (``inequity_averse_rewards``'s defaults)
_IA_DEFAULTS = {k: p.default for k, p in inspect.signature(inequity_averse_rewards).parameters.items()
                if k in ("beta", "gamma", "lam")}


def canonical_welfare(name: str) -> str:
    """The canonical name of a welfare reward (``util`` -> ``utilitarian``, ``ia`` ->
    ``inequity_averse``); unknown names raise ``ValueError`` listing the known ones."""
    key = str(name).strip().lower()
    if key in _IA_ALIASES:
        return INEQUITY_AVERSE
    key = ALIASES.get(key, key)
    if key not in WELFARE_FUNCTIONS:
        known = ", ".join(list(WELFARE_REWARD_NAMES) + sorted(ALIASES) + ["ia"])
        raise ValueError(f"unknown welfare function {name!r}; known: {known}")
    return key


def welfare_rewards(rewards, welfare: str = "utilitarian", **kwargs) -> np.ndarray:
    """Per-step welfare rewards ``[..., T]`` of per-step reward profiles ``rewards[..., T, N]``
    (see the module docstring). ``inequity_averse`` takes ``beta`` (1.0), ``gamma`` (0.96) and
    ``lam`` (0.96), the authors' matrix-game values; the profile functions take ``disagreement``
    (and ``ideal`` for Kalai-Smorodinsky)."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim < 2:
        raise ValueError(f"rewards must have shape (..., T, N), got {r.shape}")
    name = canonical_welfare(welfare)
    if name == INEQUITY_AVERSE:
        unknown = set(kwargs) - {"beta", "gamma", "lam"}
        if unknown:
            raise ValueError(f"welfare 'inequity_averse' takes beta, gamma, lam; got {sorted(unknown)}")
        return np.asarray(inequity_averse_rewards(r, **kwargs), dtype=np.float64)
    return np.asarray(WELFARE_FUNCTIONS[name](r, **kwargs), dtype=np.float64)


def punishment_rewards(rewards, punisher: int) -> np.ndarray:
    """The punisher's reward ``-r_j`` (``rewards[..., 2]`` -> ``[...]``), j the other player."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape[-1] != 2:
        raise ValueError(f"punishment rewards are defined for 2 players, got {r.shape[-1]}")
    check_int("punisher", punisher, 0, 1)
    return 0.0 - r[..., 1 - int(punisher)]  # (0.0 - x: no negative zeros)


class _RewardWrapper(ParallelWrapperBase):
    """Shared plumbing: spaces and agents of ``env``; subclasses map the step's reward profile."""

    metadata = {"render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, env: ParallelEnv, prefix: str, shape):
        """``shape(profile) -> shaped profile``: the step's reward vector -> the agents' rewards."""
        self._shape = shape
        self.env = env
        self.possible_agents = list(env.possible_agents)
        if len(self.possible_agents) != 2:
            raise ValueError(f"{type(self).__name__} needs a 2-player env, got agents {self.possible_agents}")
        self.observation_spaces = {a: env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: env.action_space(a) for a in self.possible_agents}
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = dict(self.metadata, name=f"{prefix}_{env.metadata.get('name', 'env')}")
        self.agents = []

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.agents)
        self._trace = None  # w_IA's e-traces, carried from step to step
        return obs, infos

    def step(self, actions):
        obs, rew, term, trunc, infos = self.env.step(actions)
        profile = np.array([float(rew.get(a, 0.0)) for a in self.possible_agents])
        shaped_profile = self._shape(profile)
        shaped, out_infos = {}, {}
        for i, a in enumerate(self.possible_agents):
            if a in rew:
                shaped[a] = float(shaped_profile[i])
            if a in rew or a in infos:
                info = dict(infos.get(a, {}) or {})
                if a in rew:
                    info.setdefault("extrinsic_reward", float(rew[a]))
                out_infos[a] = info
        self.agents = list(self.env.agents)
        return obs, shaped, term, trunc, out_infos

    def state(self):
        return self.env.state()


class WelfareRewardWrapper(_RewardWrapper):
    """Every agent's reward is ``welfare_rewards`` of the step's reward profile (cooperative
    training of amTFT(w)). ``welfare``: a name of ``WELFARE_REWARD_NAMES`` (or alias);
    ``welfare_kwargs``: its keyword arguments (e.g. ``{"beta": 1.0}`` for ``inequity_averse``)."""

    def __init__(self, env: ParallelEnv, welfare: str = "utilitarian", **welfare_kwargs):
        super().__init__(env, "welfare", self._welfare_profile)
        self.welfare = canonical_welfare(welfare)
        self.welfare_kwargs = dict(welfare_kwargs)
        welfare_rewards(np.zeros((1, 2)), self.welfare, **self.welfare_kwargs)  # validate the kwargs now

    def _welfare_profile(self, profile):
        if self.welfare != INEQUITY_AVERSE:
            w = welfare_rewards(profile[None], self.welfare, **self.welfare_kwargs)[-1]
            return np.full(len(profile), w)
        # w_IA: the e-traces carried from the previous step (constant cost per step)
        kw = {**_IA_DEFAULTS, **self.welfare_kwargs}
        before = self._trace
        w = inequity_averse_rewards(profile[None], initial=before, **kw)[-1]
        self._trace = eligibility_traces(profile[None], kw["gamma"], kw["lam"], initial=before)[0]
        return np.full(len(profile), w)


class PunishmentRewardWrapper(_RewardWrapper):
    """The ``punisher``'s (0 or 1, index in ``possible_agents``) reward is minus its opponent's
    reward; the opponent keeps its own reward (training of amTFT's punishment policy)."""

    def __init__(self, env: ParallelEnv, punisher: int = 0):
        super().__init__(env, "punish", self._punish_profile)
        self.punisher = check_int("punisher", punisher, 0, 1)

    def _punish_profile(self, profile):
        out = profile.copy()
        out[self.punisher] = punishment_rewards(profile, self.punisher)
        return out


class WelfareRewardRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of ``WelfareRewardWrapper``: ``env_config = {"base_env": name or class
    path, "welfare": "utilitarian", "welfare_kwargs": {...}, **base env kwargs}``."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, ("welfare", "welfare_kwargs"), "the welfare reward")
        super().__init__(WelfareRewardWrapper(base, opts.get("welfare", "utilitarian"),
                                              **dict(opts.get("welfare_kwargs") or {})))


class PunishmentRewardRLlibEnv(rllib_env_class()):
    """RLlib MultiAgentEnv of ``PunishmentRewardWrapper``: ``env_config = {"base_env": name or
    class path, "punisher": 0, **base env kwargs}``."""

    def __init__(self, env_config: Optional[dict] = None):
        base, opts = base_env_from_config(env_config, ("punisher",), "the punishment reward")
        super().__init__(PunishmentRewardWrapper(base, **opts))
