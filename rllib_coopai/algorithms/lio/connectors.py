"""Learner connector of LIO: whole multi-agent episodes -> aligned per-agent tensors.

LIO's losses are cross-agent (giver ``i``'s incentive reads the others' actions of the same step
and lands in recipient ``j``'s return), so rows of different agents must line up by env step.
This connector (the only piece of LIO's learner pipeline) writes, for every agent/module, the
columns below on a common ``[E episodes x T steps]`` grid flattened to ``E*T`` rows (shorter
episodes zero-padded, ``mask`` = 0 on padding):

``obs``, ``next_obs``, ``actions`` (int64), ``rewards`` (env rewards), ``mask``, ``t`` (step
index), ``terminal`` (1 on the last step of a *terminated* episode), ``action_type`` (index into
``self.action_types`` of ``infos[agent]["action_type"]``, -1 where the env reports none).

All LIO envs are simultaneous-move: every agent acts at every step. Episodes in which that is
not so are rejected with a ValueError.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from ray.rllib.connectors.connector_v2 import ConnectorV2

from rllib_coopai.core.episodes import EpisodesToStepGrid


class LIOEpisodesToBatch(EpisodesToStepGrid):
    """Build LIO's aligned train batch (see the module docstring): the package's step grid with
    ``next_obs`` and LIO's ``terminal`` and ``action_type`` columns."""

    def __init__(self, input_observation_space=None, input_action_space=None, action_types=(), **kwargs):
        super().__init__(input_observation_space, input_action_space, method="LIO", next_obs=True,
                         **kwargs)
        # Seeded from the env's ``ACTION_TYPES`` so that every per-type metric exists from the
        # first iteration on; names the env did not declare are appended when first seen.
        self.action_types: List[str] = [str(t) for t in action_types]

    def _type_index(self, name) -> int:
        if name is None:
            return -1
        if name not in self.action_types:
            self.action_types.append(str(name))
        return self.action_types.index(name)

    def extra_columns(self, E: int, T: int) -> Dict:
        return {"terminal": np.zeros((E, T), np.float32), "action_type": np.full((E, T), -1, np.int64)}

    def fill_extra(self, cols, e, single_agent_episode, L, steps) -> None:
        if single_agent_episode.is_terminated:
            cols["terminal"][e, L - 1] = 1.0
        cols["action_type"][e, :L] = [self._type_index((i or {}).get("action_type")) for i in steps["infos"]]


class LIOGivenIncentivesObservation(ConnectorV2):
    """EnvRunner-side: write the incentives an agent has given so far into its observation.

    Escape Room's LIO observation (LIO thesis §5.1, App. B.4.1, env ``obs_mode="lio"``) ends with ``N-1`` slots
    for "the cumulative incentives this agent has given to each other agent within the episode"
    (others in agent order); the env leaves them 0. After every env step this connector computes
    what each giver paid at that step, ``r_eta^i(o^i_{t-1}, a^{-i}_{t-1})``, with the giver's
    incentive head on the EnvRunner, adds it to the episode's running sums and overwrites the
    slots of the newest observation in the episode (so the learner trains on the same
    observations the policy saw).
    """

    KEY = "lio_given"

    def __init__(self, input_observation_space=None, input_action_space=None, *, agents=(), n_slots=0, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.agents = list(agents)
        self.n_slots = int(n_slots)

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        n = len(self.agents)
        fresh = []  # episodes whose env step advanced since this connector last ran on them
        for ep in episodes:
            data = ep.custom_data.setdefault(self.KEY, {"t": -1, "sums": np.zeros((n, n), np.float32)})
            t = ep.env_t if hasattr(ep, "env_t") else len(ep)
            if data["t"] != t:
                data["t"] = t
                fresh.append(ep)
        stepped = [ep for ep in fresh if len(ep) > 0 and all(a in ep.agent_episodes for a in self.agents)]
        if stepped:
            # One incentive-head forward per giver over all stepped episodes of a vectorised
            # EnvRunner (``num_envs_per_env_runner`` > 1), not one per giver per episode.
            acts = torch.as_tensor(np.array(
                [[int(ep.agent_episodes[a].get_actions(-1)) for a in self.agents] for ep in stepped], np.int64
            ).reshape(len(stepped), n))
            for i, giver in enumerate(self.agents):
                mod = rl_module[giver] if giver in rl_module else None
                if mod is None or not getattr(mod, "gives_incentives", False):
                    continue
                prev_obs = np.stack(
                    [np.asarray(ep.agent_episodes[giver].get_observations(-2), np.float32) for ep in stepped]
                )
                with torch.no_grad():
                    feats = mod.action_features([acts[:, k] for k in range(n) if k != i])
                    paid = mod.incentives(torch.as_tensor(prev_obs), feats).cpu().numpy()  # [B, N]
                for b, ep in enumerate(stepped):
                    ep.custom_data[self.KEY]["sums"][i] += paid[b]
        for ep in fresh:
            sums = ep.custom_data[self.KEY]["sums"]
            for i, a in enumerate(self.agents):
                sa = ep.agent_episodes.get(a)
                if sa is None:
                    continue
                obs = np.array(sa.get_observations(-1), np.float32, copy=True)
                others = [j for j in range(n) if j != i]
                obs[-self.n_slots:] = sums[i][others]
                sa.set_observations(at_indices=-1, new_data=obs)
        return batch
