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

Each value is computed per episode, but logged once per ``EnvRunner.sample()`` call (in
``on_sample_end``), not once per episode: the logger receives the mean over the episodes that
ended since the runner last reported its metrics, so the result is the same as logging every
episode with ``reduce="mean"`` (RLlib then averages the runners' values as before) at a fraction of
the ``MetricsLogger`` calls. Subclasses record per-episode values with ``self.record(key, value)``
and must call ``super().on_sample_end(...)`` if they override it.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ray.rllib.callbacks.callbacks import RLlibCallback

_KEY = "coop_metrics"


class _BatchedMeans:
    """Per-episode values of one env runner, logged as one mean per key per ``sample()`` call.

    A leaf ``MeanStats`` (``reduce="mean"``, no window) reduces to the ``nanmean`` of the values
    pushed since the runner's last ``get_metrics()``. Pushing the mean of a ``sample()`` call's
    episodes instead gives the same number when ``get_metrics()`` follows every ``sample()``;
    when it does not (DCL samples in chunks), the value pushed earlier in the same reporting
    cycle is a 0-d array that is updated in place to the mean over all the cycle's episodes.
    """

    def __init__(self):
        self.pending = defaultdict(list)  # key -> this sample()'s per-episode values
        self.cycle = {}  # key -> [nansum, non-NaN count, the 0-d array the logger holds]

    def flush(self, metrics_logger) -> None:
        if not self.pending:
            return
        if self.cycle and not self._same_cycle(metrics_logger):
            self.cycle = {}
        for key, values in self.pending.items():
            v = np.asarray(values, dtype=np.float64)
            ok = ~np.isnan(v)
            total, count = float(v[ok].sum()), int(ok.sum())
            entry = self.cycle.get(key)
            if entry is None:
                arr = np.array(total / count if count else np.nan)
                self.cycle[key] = [total, count, arr]
                metrics_logger.log_value(key, arr, reduce="mean")
            else:
                entry[0] += total
                entry[1] += count
                entry[2][()] = entry[0] / entry[1] if entry[1] else np.nan
        self.pending = defaultdict(list)

    def _same_cycle(self, metrics_logger) -> bool:
        """Whether the runner has not reduced its metrics since our last push (our array is
        still the single value the logger holds under that key)."""
        key, entry = next(iter(self.cycle.items()))
        try:
            held = metrics_logger.peek(key, compile=False, default=None)
        except Exception:  # noqa: BLE001 - a logger without peek: start a new cycle
            return False
        return held is not None and len(held) == 1 and held[0] is entry[2]


class CoopMetricsCallback(RLlibCallback):
    @property
    def _batched(self) -> _BatchedMeans:
        b = self.__dict__.get("_batched_means")
        if b is None:
            b = self.__dict__["_batched_means"] = _BatchedMeans()
        return b

    def record(self, key, value) -> None:
        """Records one episode's ``value`` of metric ``key`` (a name or a nested-key tuple);
        logged as the mean over episodes at the end of the ``sample()`` call."""
        self._batched.pending[key].append(value)

    def on_sample_end(self, *, metrics_logger=None, **kwargs) -> None:
        if metrics_logger is not None:
            self._batched.flush(metrics_logger)

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

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        acc = episode.custom_data.get(_KEY)
        if acc is None:
            return
        rec = self._batched.pending
        returns = acc["returns"]
        rec["social_welfare"].append(sum(returns.values()))
        for aid, ret in returns.items():
            rec[("agent_returns", str(aid))].append(ret)
        for name, (total, count) in acc["rates"].items():
            if count:
                rec[name].append(total / count)
        sums = defaultdict(float)
        for (name, aid), value in acc["totals"].items():
            rec[(name, str(aid))].append(value)
            sums[name] += value
        for name, value in sums.items():
            rec[(name, "all")].append(value)
