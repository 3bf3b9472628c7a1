"""Scripted partners and staged-MCG evaluation (DCL paper §5.2).

``ScriptedPartnerModule`` is an RLModule with fixed rules for the three stages; it plugs into
``DCLMultiRLModule`` (as another agent's module) or plays the staged ``CommitmentGameWrapper``
through ``play_commitment_game``. Model config keys:

* ``propose``: action index it always proposes (default 1 = D in the PD: the malicious proposer);
* ``commit``: ``"always"`` | ``"never"`` | ``"if_accepted"`` (commit iff the joint proposal is in
  ``accept``, a list of joint-proposal tuples in agent order);
* ``act``: action index it plays when there is no deal (default 1 = D).

``play_commitment_game(wrapper, policies, episodes)`` runs the staged wrapper with, per agent,
any module that has ``propose_logits`` / ``commit_logits`` / ``action_logits`` (DCL modules and
scripted partners), so a trained DCL agent is checked against a partner under the protocol
enforced by the environment.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch import TorchRLModule

from rllib_coopai.wrappers.commitment import ACT, COMMIT, PROPOSE

BIG = 30.0
COMMIT_RULES = ("always", "never", "if_accepted")


class ScriptedPartnerModule(TorchRLModule):
    def setup(self):
        cfg = self.model_config or {}
        self.action_sizes = [int(n) for n in cfg.get("action_sizes", [self.action_space.n])]
        self.agent_index = int(cfg.get("agent_index", 0))
        self.n_actions = self.action_sizes[self.agent_index]
        self.propose = int(cfg.get("propose", 1))
        self.act = int(cfg.get("act", 1))
        self.commit = cfg.get("commit", "always")
        if self.commit not in COMMIT_RULES:
            raise ValueError(f"commit must be one of {list(COMMIT_RULES)}, got {self.commit!r}")
        for key in ("propose", "act"):
            v = getattr(self, key)
            if not 0 <= v < self.n_actions:
                raise ValueError(f"{key} must be in [0, {self.n_actions - 1}], got {v}")
        self.accept = [tuple(int(x) for x in j) for j in cfg.get("accept", [])]
        self._dummy = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    # Every tensor is created on the input's device (a module moved to a GPU learner or a GPU
    # env runner gets CUDA inputs), without data-dependent indexing.
    @staticmethod
    def _onehot_logits(like: torch.Tensor, index, n: int):
        """(B, n) logits: +BIG at ``index`` (an int, or a long tensor of shape (B,) on
        ``like``'s device), -BIG elsewhere."""
        cols = torch.arange(n, device=like.device)
        hot = cols == (index.reshape(-1, 1) if isinstance(index, torch.Tensor) else index)
        return torch.where(hot, BIG, -BIG).to(like.dtype).expand(like.shape[0], n)

    def propose_logits(self, obs, k=None):
        return self._onehot_logits(obs, self.propose, self.n_actions)

    def action_logits(self, obs, k=None):
        return self._onehot_logits(obs, self.act, self.n_actions)

    def commit_logits(self, obs, joint_m, k=None):
        b = obs.shape[0]
        yes = torch.full((b,), self.commit == "always", dtype=torch.bool, device=obs.device)
        if self.commit == "if_accepted":
            parts = torch.split(joint_m, self.action_sizes, dim=-1)
            joint = torch.stack([p.argmax(-1) for p in parts], -1)
            for acc in self.accept:
                yes = yes | (joint == torch.tensor(acc, device=joint.device)).all(-1)
        return self._onehot_logits(obs, yes.long(), 2)

    def _forward(self, batch, **kwargs):
        return {Columns.ACTION_DIST_INPUTS: self.action_logits(batch[Columns.OBS])}


def play_commitment_game(wrapper, policies: Dict[str, object], episodes: int = 100,
                         seed: Optional[int] = 0) -> dict:
    """Play ``episodes`` of the staged ``CommitmentGameWrapper`` with ``policies[agent]`` (modules
    with the three protocol heads; each sees only its own observation). Returns mean episode
    return per agent, ``agreement_rate`` (per step) and per-agent proposal / commitment /
    independent-action / executed-action frequencies."""
    gen = torch.Generator().manual_seed(seed or 0)
    order = wrapper.possible_agents
    dims = {a: wrapper._flat_dims[a] for a in order}
    returns = {a: 0.0 for a in order}
    stats = {a: {"propose": np.zeros(wrapper.n_actions[a]), "commit": 0.0,
                 "act": np.zeros(wrapper.n_actions[a]), "executed": np.zeros(wrapper.n_actions[a])}
             for a in order}
    deals, steps = 0, 0

    def draw(logits):
        u = torch.rand(logits.shape, generator=gen).clamp_(1e-10, 1.0)
        return int((logits - torch.log(-torch.log(u))).argmax(-1)[0])

    for ep in range(episodes):
        obs, _ = wrapper.reset(seed=None if seed is None else seed + ep)
        while wrapper.agents:
            stage = wrapper.stage
            actions = {}
            with torch.no_grad():
                for a in wrapper.agents:
                    o = torch.as_tensor(obs[a], dtype=torch.float32).reshape(1, -1)
                    base = o[:, : dims[a]]
                    joint_m = o[:, dims[a] + 3:]
                    mod = policies[a]
                    if stage == PROPOSE:
                        actions[a] = draw(mod.propose_logits(base))
                    elif stage == COMMIT:
                        actions[a] = draw(mod.commit_logits(base, joint_m))
                    else:
                        actions[a] = draw(mod.action_logits(base))
            obs, rew, term, trunc, infos = wrapper.step(actions)
            if stage == ACT:
                steps += 1
                for a, r in rew.items():
                    returns[a] += float(r)
                    info = infos[a]
                    stats[a]["propose"][info["proposal"]] += 1
                    stats[a]["commit"] += info["commitment"]
                    stats[a]["act"][info["independent_action"]] += 1
                    stats[a]["executed"][info["executed_action"]] += 1
                deals += int(next(iter(infos.values()))["deal"])
    out = {"returns": {a: returns[a] / episodes for a in order},
           "agreement_rate": deals / max(steps, 1)}
    for a in order:
        s = stats[a]
        out[a] = {"propose": (s["propose"] / steps).tolist(), "commit_rate": s["commit"] / steps,
                  "act": (s["act"] / steps).tolist(), "executed": (s["executed"] / steps).tolist()}
    out["social_welfare"] = sum(out["returns"].values())
    return out
