"""The metrics callback every algorithm of the package uses.

It reads the per-step ``infos`` contract of ``rllib_coopai.envs.base`` and logs, per episode,
through RLlib's ``MetricsLogger`` (so the values reach ``algo.train()``'s result under
``env_runners``, Tune and TensorBoard):

* ``social_welfare``: sum over agents of the *extrinsic* episode returns (``info["extrinsic_reward"]``
  where a wrapper changed the rewards, else the env reward);
* ``agent_returns/<agent>``: each agent's extrinsic episode return;
* ``cooperation_rate``: share of agent-steps with ``info["cooperated"] == True`` (only where the
  env defines cooperation);
* any ``info["rates"][name]`` (e.g. ``agreement_rate`` from the commitment wrapper): mean over the
  agent-steps that reported it;
* any ``info["totals"][name]`` (e.g. designer payments): per-agent episode sum as
  ``name/<agent>`` and the sum over agents as ``name``.
"""
from __future__ import annotations

from collections import defaultdict

from ray.rllib.callbacks.callbacks import RLlibCallback

_KEY = "coop_metrics"


class CoopMetricsCallback(RLlibCallback):
    def on_episode_start(self, *, episode, **kwargs) -> None:
        episode.custom_data[_KEY] = {
            "returns": defaultdict(float),
            "rates": defaultdict(lambda: [0.0, 0]),
            "totals": defaultdict(float),
        }

    def on_episode_step(self, *, episode, **kwargs) -> None:
        acc = episode.custom_data.get(_KEY)
        if acc is None:  # episode started before this callback was attached
            self.on_episode_start(episode=episode)
            acc = episode.custom_data[_KEY]
        infos = episode.get_infos(-1)
        rewards = episode.get_rewards(-1)
        for aid, info in infos.items():
            if not info:
                continue
            if aid in rewards or "extrinsic_reward" in info:
                acc["returns"][aid] += float(info.get("extrinsic_reward", rewards.get(aid, 0.0)))
            if "cooperated" in info:
                r = acc["rates"]["cooperation_rate"]
                r[0] += float(info["cooperated"])
                r[1] += 1
            for name, value in info.get("rates", {}).items():
                r = acc["rates"][name]
                r[0] += float(value)
                r[1] += 1
            for name, value in info.get("totals", {}).items():
                acc["totals"][(name, aid)] += float(value)
        # Agents that got a reward but no info this step.
        for aid, r in rewards.items():
            if aid not in infos or not infos[aid]:
                acc["returns"][aid] += float(r)

    def on_episode_end(self, *, episode, metrics_logger, **kwargs) -> None:
        acc = episode.custom_data.get(_KEY)
        if acc is None:
            return
        returns = acc["returns"]
        metrics_logger.log_value("social_welfare", sum(returns.values()), reduce="mean")
        for aid, ret in returns.items():
            metrics_logger.log_value(("agent_returns", str(aid)), ret, reduce="mean")
        for name, (total, count) in acc["rates"].items():
            if count:
                metrics_logger.log_value(name, total / count, reduce="mean")
        sums = defaultdict(float)
        for (name, aid), value in acc["totals"].items():
            metrics_logger.log_value((name, str(aid)), value, reduce="mean")
            sums[name] += value
        for name, value in sums.items():
            metrics_logger.log_value((name, "all"), value, reduce="mean")
