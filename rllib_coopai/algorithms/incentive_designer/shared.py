"""Pieces shared by the incentive designer (MetaGrad) and AMD.

* ``DesignerMetricsCallback``: the package's metrics minus the designer seat's own reward, plus the
  designer's ``social_objective``, P(C) per agent and P(all cooperate) (``p_cc`` for 2x2 games).
* ``episodes_to_shards``: turns sampled ``MultiAgentEpisode``s of a designer-seat env into one
  ``MultiAgentBatch`` per Learner, padded to ``[E, T]`` so every module has the SAME rows (one per
  env step): the outer losses are cross-agent, so a Learner shard must hold all agents' rows of
  the same env steps (whole episodes go to one shard).
* ``discounted_returns``: returns-to-go for ``[E, T]`` tensors with one matmul (no step loops).
* ``allreduce_mean_``: averages gradients across Learners (``num_learners > 1``): these learners
  take their gradients by hand (through the inner update), so torch DDP is not used.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
import torch

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

from rllib_coopai.core.nonfinite import FiniteUpdateLearnerMixin
from rllib_coopai.metrics.callbacks import _KEY, CoopMetricsCallback
from rllib_coopai.wrappers.designer import DESIGNER_ID


class DesignerMetricsCallback(CoopMetricsCallback):
    """``CoopMetricsCallback`` for designer-seat envs.

    Extra episode metrics: ``social_objective`` (the designer's objective of the env rewards,
    before payments), ``social_objective_net`` (minus all payments: the test-time accounting of
    ID thesis §6.3.2), ``designer_return`` (its reward, net of payments where configured),
    ``p_cooperate/<agent>`` (sampled P(C)) and ``p_all_cooperate`` (= P(CC) in 2-player games).
    Economies (infos with ``productivity`` / ``equality``, GTB): ``final_productivity`` and
    ``final_equality`` at the episode's last step and ``sum_productivity_x_equality`` (the
    episode's ``sum_t prod_t * eq_t``, ID thesis §6.3.1; = ``social_objective`` when the seat's
    objective is ``"productivity_x_equality"``). Usable without a designer seat too (e.g. IPPO
    under fixed tax rates: ``config.callbacks(DesignerMetricsCallback)``).
    Payments per agent and per action type come from the ``totals`` info
    (``designer_payment/<agent>``, ``designer_payment/<type>/<agent>``).
    """

    def on_episode_start(self, *, episode, **kwargs) -> None:
        super().on_episode_start(episode=episode, **kwargs)
        acc = episode.custom_data[_KEY]
        acc["designer"] = [0.0, 0.0]
        acc["coop"] = defaultdict(lambda: [0.0, 0])
        acc["allcoop"] = [0.0, 0]

    def on_episode_step(self, *, episode, **kwargs) -> None:
        if _KEY not in episode.custom_data:
            self.on_episode_start(episode=episode)
        acc = episode.custom_data[_KEY]
        infos = episode.get_infos(-1)
        rewards = episode.get_rewards(-1)
        step_obj = [i["social_objective"] for a, i in infos.items()
                    if a != DESIGNER_ID and i and "social_objective" in i]
        if step_obj:  # the same number in every agent's info: count it once per step
            acc["designer"][0] += float(step_obj[0])
        econ = [(i["productivity"], i["equality"]) for a, i in infos.items()
                if a != DESIGNER_ID and i and "productivity" in i and "equality" in i]
        if econ:  # an economy (GTB): the latest productivity and equality, sum of their product
            acc["econ"] = econ[0]
            acc["econ_sum"] = acc.get("econ_sum", 0.0) + float(econ[0][0]) * float(econ[0][1])
        if DESIGNER_ID in rewards:
            acc["designer"][1] += float(rewards[DESIGNER_ID])
        coop = [bool(i["cooperated"]) for a, i in infos.items() if i and "cooperated" in i]
        for a, i in infos.items():
            if i and "cooperated" in i:
                c = acc["coop"][a]
                c[0] += float(i["cooperated"])
                c[1] += 1
        if coop:
            acc["allcoop"][0] += float(all(coop))
            acc["allcoop"][1] += 1
        # The base class must not count the designer's reward as an agent return.
        saved = acc["returns"].get(DESIGNER_ID)
        super().on_episode_step(episode=episode, **kwargs)
        if saved is None:
            acc["returns"].pop(DESIGNER_ID, None)
        else:
            acc["returns"][DESIGNER_ID] = saved

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        acc = episode.custom_data.get(_KEY)
        if acc is None:
            return
        acc["returns"].pop(DESIGNER_ID, None)
        super().on_episode_end(episode=episode, metrics_logger=metrics_logger, **kwargs)
        self.record("social_objective", acc["designer"][0])
        paid = sum(v for (name, _), v in acc["totals"].items() if name == "designer_payment")
        self.record("social_objective_net", acc["designer"][0] - paid)
        self.record("designer_return", acc["designer"][1])
        if "econ" in acc:
            self.record("final_productivity", float(acc["econ"][0]))
            self.record("final_equality", float(acc["econ"][1]))
            self.record("sum_productivity_x_equality", acc["econ_sum"])
        for a, (s, n) in acc["coop"].items():
            if n:
                self.record(("p_cooperate", str(a)), s / n)
        if acc["allcoop"][1]:
            self.record("p_all_cooperate", acc["allcoop"][0] / acc["allcoop"][1])


def _column(episode_values, t_max: int, dtype=np.float32) -> np.ndarray:
    arr = np.asarray(episode_values, dtype=dtype)
    pad = [(0, t_max - arr.shape[0])] + [(0, 0)] * (arr.ndim - 1)
    return np.pad(arr, pad)


def episodes_to_shards(
    episodes: Sequence, agent_ids: Sequence[str], num_shards: int, designer_id: str = DESIGNER_ID
) -> List[MultiAgentBatch]:
    """One ``MultiAgentBatch`` per shard; whole episodes per shard, rows padded to ``[E, T]``.

    Columns, every module: ``obs``, ``actions``, ``mask`` (1 = real step), ``t`` (step index).
    Agents: ``env_rewards`` (the env's own reward), ``rewards`` (incl. payments).
    Designer: ``joint_actions`` ``(N,)``, ``objective`` (the step's social objective),
    ``rewards``; and, where the agents' infos carry the economy's ``tax`` record (GTB), the
    columns MetaGrad needs to replay the taxes in torch (``tax.py``): ``tax_start`` (the seat set
    the rates at this step), ``tax_end`` (period end), and ``(N,)`` columns ``tax_income``,
    ``tax_cap``, ``tax_transfer``, ``tax_coin``, ``tax_coin_before``.
    """
    num_shards = max(1, int(num_shards))
    # Only finished episodes whose designer acted (a step-budgeted sample may end mid-episode).
    episodes = [ep for ep in episodes if ep.is_done and designer_id in ep.agent_episodes
                and len(ep.agent_episodes[designer_id]) > 0]
    if len(episodes) < num_shards:
        raise ValueError(f"need at least {num_shards} episodes for {num_shards} learners")
    groups = [list(episodes[i::num_shards]) for i in range(num_shards)]
    out = []
    for group in groups:
        t_max = max(len(ep.agent_episodes[designer_id]) for ep in group)
        cols: Dict[str, Dict[str, list]] = {m: defaultdict(list) for m in list(agent_ids) + [designer_id]}
        for ep in group:
            d = ep.agent_episodes[designer_id]
            T = len(d)
            mask = _column(np.ones(T), t_max)
            tt = np.arange(t_max, dtype=np.float32)
            joint = []
            tax_infos = []
            for aid in agent_ids:
                sa = ep.agent_episodes[aid]
                n = len(sa)
                acts = np.asarray(sa.get_actions(slice(0, n))).reshape(n)
                infos = sa.get_infos(slice(1, n + 1))
                rews = np.asarray(sa.get_rewards(slice(0, n)), np.float32)
                env_r = np.array([float(i.get("extrinsic_reward", r)) for i, r in zip(infos, rews)])
                c = cols[aid]
                c["obs"].append(_column(sa.get_observations(slice(0, n)), t_max))
                c["actions"].append(_column(acts, t_max, np.int64))
                c["env_rewards"].append(_column(env_r, t_max))
                c["rewards"].append(_column(rews, t_max))
                c["mask"].append(_column(np.ones(n), t_max))
                c["t"].append(tt)
                joint.append(_column(acts, t_max, np.int64))
                tax_infos.append(infos)
            c = cols[designer_id]
            c["obs"].append(_column(d.get_observations(slice(0, T)), t_max))
            dacts = np.asarray(d.get_actions(slice(0, T)))
            c["actions"].append(_column(dacts.reshape(T, -1).astype(np.float32), t_max))
            first = ep.agent_episodes[agent_ids[0]]
            objective = [float(i.get("social_objective", 0.0))
                         for i in first.get_infos(slice(1, len(first) + 1))]
            c["objective"].append(_column(objective, t_max))
            c["rewards"].append(_column(d.get_rewards(slice(0, T)), t_max))
            c["joint_actions"].append(np.stack(joint, -1))
            if tax_infos and tax_infos[0] and "tax" in (tax_infos[0][0] or {}):
                _tax_columns(c, tax_infos, t_max)
            c["mask"].append(mask)
            c["t"].append(tt)
        policy_batches = {
            m: SampleBatch({k: np.concatenate(v, 0) for k, v in c.items()}) for m, c in cols.items()
        }
        out.append(MultiAgentBatch(policy_batches, env_steps=len(group) * t_max))
    return out


_TAX_KEYS = ("income", "cap", "transfer", "coin", "coin_before")


def _tax_columns(c, tax_infos, t_max: int) -> None:
    """Append one episode's tax replay columns (see ``episodes_to_shards``) to designer columns."""
    per_agent = {k: np.stack([_column([float(i["tax"][k]) for i in infos], t_max)
                              for infos in tax_infos], -1) for k in _TAX_KEYS}
    for k, v in per_agent.items():
        c[f"tax_{k}"].append(v)
    first = tax_infos[0]
    c["tax_end"].append(_column([float(i["tax"]["period_end"]) for i in first], t_max))
    c["tax_start"].append(_column([float(i.get("tax_rates_set", False)) for i in first], t_max))


def to_et(x: torch.Tensor, t_col: torch.Tensor) -> torch.Tensor:
    """Reshape a flat ``[E*T, ...]`` column to ``[E, T, ...]`` (T from the ``t`` column)."""
    T = int(t_col.max().item()) + 1
    return x.reshape(-1, T, *x.shape[1:])


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = sum_{l>=t} gamma^(l-t) r_l`` for ``rewards`` of shape ``[E, T]`` (differentiable)."""
    T = rewards.shape[-1]
    idx = torch.arange(T, dtype=rewards.dtype, device=rewards.device)
    expo = idx[:, None] - idx[None, :]  # [l, t] = l - t
    disc = torch.where(expo >= 0, gamma ** expo.clamp(min=0), torch.zeros_like(expo))
    return rewards @ disc


def allreduce_mean_(tensors: List[torch.Tensor]) -> None:
    """In place: average over the Learner processes (no-op with one Learner)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    if world <= 1:
        return
    for t in tensors:
        dist.all_reduce(t)
        t.div_(world)


class ManualSyncTorchLearner(FiniteUpdateLearnerMixin, TorchLearner):
    """``TorchLearner`` whose gradients are averaged across Learners explicitly.

    The designer/planner gradients go through functional calls (``modules.functional``) on the
    plain modules, which DDP's hooks would not see; so modules are not DDP-wrapped and every
    gradient is all-reduced in ``compute_gradients`` (a no-op with one Learner).
    """

    def _make_modules_ddp_if_necessary(self) -> None:
        return

    def _uncompiled_update(self, batch, **kwargs):
        # TorchLearner's version minus the DDP ``no_sync`` contexts (no DDP here).
        self._compute_off_policyness(batch)
        fwd_out = self.module.forward_train(batch)
        loss_per_module = self.compute_losses(fwd_out=fwd_out, batch=batch)
        gradients = self.compute_gradients(loss_per_module)
        self.apply_gradients(self.postprocess_gradients(gradients))
        return fwd_out, loss_per_module, {}

    def compute_gradients(self, loss_per_module, **kwargs):
        grads = super().compute_gradients(loss_per_module, **kwargs)
        grads = {pid: g for pid, g in grads.items() if g is not None}
        allreduce_mean_(list(grads.values()))
        return grads
