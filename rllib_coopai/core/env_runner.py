"""The package's env runner: RLlib's ``MultiAgentEnvRunner`` with its step counters batched.

RLlib 2.60's ``MultiAgentEnvRunner._sample`` calls ``_increase_sampled_metrics`` once per env step
and vector sub-env, and that method makes ``2 + 4 x agents`` ``MetricsLogger.log_value`` calls (env
steps, lifetime env steps with throughput, and per agent and per module the step counts; two more
when an episode ends). On short-episode games this was ~15 % of a DCL grid-game iteration (5,120
calls and 59,000 ``log_value`` calls per 10 iterations of 512 steps) for counters that are only
read after ``sample()`` returns.

``CoopEnvRunner`` adds the same counts up in a dict and logs each key once at the end of every
``_sample`` call, with the same keys and ``reduce`` modes: the reduced values (sums, lifetime sums)
are identical, so every result key (``num_env_steps_sampled_lifetime``, ``num_episodes``, the
per-agent and per-module step counts) keeps its value; only the number of ``log_value`` calls
changes.

Episode metrics (``episode_return_mean``, ``episode_len_min``, ``agent_episode_returns_mean``, ...):
``get_metrics()`` logs every episode completed since the last call into windowed stats that keep
only the last ``metrics_num_episodes_for_smoothing / num_env_runners`` values and forget them at the
reduce that follows. With hundreds of one-step episodes per iteration (one-shot matrix games) that
was ~19 % of a DCL PD iteration for values that are pushed out of the window before anything reads
them. ``CoopEnvRunner.get_metrics`` skips an episode only when every key it would log (the episode
keys, and each of its agents' and modules' keys) already gets a full window of values from later
episodes: the windows, and therefore the reported values, are exactly RLlib's.

The episodes that are logged then go into the windows in one pass per key: RLlib's
``_log_episode_metrics`` makes three ``MetricsLogger.log_dict`` calls per episode (each a tree map,
a lock and a stats lookup per leaf: ~80 % of ``get_metrics()`` with 100 one-step episodes per
iteration); ``CoopEnvRunner`` collects those episodes' values per key and pushes them, in episode
order, into the stats object RLlib would create for that key (same reduce, same window), so the
windows hold the same values in the same order.

Every config of the package uses it by default (``CoopConfigMixin``); a user's own
``config.env_runners(env_runner_cls=...)`` replaces it as usual.
"""
from __future__ import annotations

import math
from collections import Counter

from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import (
    EPISODE_AGENT_RETURN_MEAN,
    EPISODE_AGENT_STEPS,
    EPISODE_DURATION_SEC_MEAN,
    EPISODE_LEN_MAX,
    EPISODE_LEN_MEAN,
    EPISODE_LEN_MIN,
    EPISODE_MODULE_RETURN_MEAN,
    EPISODE_RETURN_MAX,
    EPISODE_RETURN_MEAN,
    EPISODE_RETURN_MIN,
    NUM_AGENT_STEPS_SAMPLED,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_EPISODES,
    NUM_EPISODES_LIFETIME,
    NUM_MODULE_STEPS_SAMPLED,
    NUM_MODULE_STEPS_SAMPLED_LIFETIME,
)


class CoopEnvRunner(MultiAgentEnvRunner):
    """``MultiAgentEnvRunner`` whose per-step sample counters are logged once per ``sample()``."""

    def __init__(self, *args, **kwargs):
        self._pending_sample_counts = Counter()  # what _increase_sampled_metrics counted
        self._episode_rows = None  # inside get_metrics(): the episodes' values, logged at the last
        self._episode_rows_expected = 0
        super().__init__(*args, **kwargs)

    @override(MultiAgentEnvRunner)
    def _increase_sampled_metrics(self, num_steps, next_obs, episode):
        counts = self._pending_sample_counts
        counts["env_steps"] += num_steps
        if episode.is_done:
            counts["episodes"] += 1
        for aid in next_obs:
            counts[("agent", str(aid))] += 1
            counts[("module", episode.module_for(aid))] += 1
        return num_steps

    @override(MultiAgentEnvRunner)
    def _sample(self, *args, **kwargs):
        try:
            return super()._sample(*args, **kwargs)
        finally:
            self._flush_sample_counts()

    def _flush_sample_counts(self) -> None:
        """One ``log_value`` per key for everything counted since the last flush (the keys and
        reduce modes of ``MultiAgentEnvRunner._increase_sampled_metrics``)."""
        counts = self._pending_sample_counts
        if not counts:
            return
        self._pending_sample_counts = Counter()
        log = self.metrics.log_value
        if counts["env_steps"]:
            log(NUM_ENV_STEPS_SAMPLED, counts["env_steps"], reduce="sum")
            log(NUM_ENV_STEPS_SAMPLED_LIFETIME, counts["env_steps"], reduce="lifetime_sum",
                with_throughput=True)
        if counts["episodes"]:
            log(NUM_EPISODES, counts["episodes"], reduce="sum")
            log(NUM_EPISODES_LIFETIME, counts["episodes"], reduce="lifetime_sum")
        for key, n in counts.items():
            if not isinstance(key, tuple):
                continue
            kind, name = key
            if kind == "agent":
                log((NUM_AGENT_STEPS_SAMPLED, name), n, reduce="sum")
                log((NUM_AGENT_STEPS_SAMPLED_LIFETIME, name), n, reduce="lifetime_sum")
            else:
                log((NUM_MODULE_STEPS_SAMPLED, name), n, reduce="sum")
                log((NUM_MODULE_STEPS_SAMPLED_LIFETIME, name), n, reduce="lifetime_sum")

    def _episode_window(self) -> int:
        """The episode metrics' window on this runner (``MultiAgentEnvRunner._log_episode_metrics``:
        ``metrics_num_episodes_for_smoothing`` shared among the runners)."""
        return max(1, int(math.ceil(self.config.metrics_num_episodes_for_smoothing
                                    / (self.config.num_env_runners or 1))))

    @override(MultiAgentEnvRunner)
    def get_metrics(self):
        self._drop_episodes_outside_the_windows()
        # RLlib's get_metrics() calls _log_episode_metrics once per done episode, then reduces:
        # the rows are collected and logged together at the last call, before the reduce.
        self._episode_rows, self._episode_rows_expected = [], len(self._done_episodes_for_metrics)
        try:
            return super().get_metrics()
        finally:
            self._episode_rows = None

    @override(MultiAgentEnvRunner)
    def _log_episode_metrics(self, length, ret, sec, agents=None, modules=None, agent_steps=None):
        rows = self._episode_rows
        if rows is None:  # not called from get_metrics(): RLlib's per-episode logging
            return super()._log_episode_metrics(length, ret, sec, agents, modules, agent_steps)
        rows.append((length, ret, sec, agents, modules, agent_steps))
        if len(rows) == self._episode_rows_expected:
            self._log_episode_rows(rows)
            rows.clear()

    def _log_episode_rows(self, rows) -> None:
        """The values RLlib's ``_log_episode_metrics`` logs for each of ``rows`` (same keys, reduce
        modes and window), pushed per key in episode order."""
        win = self._episode_window()
        values = {}  # (key path, reduce) -> values in episode order

        def add(key, reduce, value):
            values.setdefault((key, reduce), []).append(value)

        for length, ret, sec, agents, modules, agent_steps in rows:
            for reduce, items in (("mean", ((EPISODE_LEN_MEAN, length), (EPISODE_RETURN_MEAN, ret),
                                             (EPISODE_DURATION_SEC_MEAN, sec))),
                                  ("min", ((EPISODE_LEN_MIN, length), (EPISODE_RETURN_MIN, ret))),
                                  ("max", ((EPISODE_LEN_MAX, length), (EPISODE_RETURN_MAX, ret)))):
                for key, value in items:
                    add((key,), reduce, value)
            if agents is not None:
                for group, per in ((EPISODE_AGENT_RETURN_MEAN, agents),
                                   (EPISODE_AGENT_STEPS, agent_steps),
                                   (EPISODE_MODULE_RETURN_MEAN, modules)):
                    for name, value in per.items():
                        add((group, name), "mean", value)
        logger = self.metrics
        for (key, reduce), vals in values.items():
            # The first value through log_value creates the stats object exactly as RLlib's
            # log_dict would (the logger's own defaults); the rest go straight into it.
            logger.log_value(key, vals[0], reduce=reduce, window=win)
            stats = logger.stats
            for part in key:
                stats = stats[part]
            for v in vals[1:]:
                stats.push(v)

    def _drop_episodes_outside_the_windows(self) -> None:
        """Removes from the done-episode list each episode whose every metric value the episode
        windows of ``MultiAgentEnvRunner._log_episode_metrics`` would push out before the reduce
        (newer episodes fill the window of each of its keys)."""
        done = self._done_episodes_for_metrics
        win = self._episode_window()
        if len(done) <= win:
            return
        chunks = self._ongoing_episodes_for_metrics
        kept, filled = [], Counter()  # key -> number of newer kept episodes that log it
        for eps in reversed(done):
            keys = {None}  # the per-episode keys (length, return, duration)
            for part in (eps, *chunks.get(eps.id_, ())):
                for sa in part.agent_episodes.values():
                    keys.add(("agent", str(sa.agent_id)))
                    keys.add(("module", sa.module_id))
            if any(filled[k] < win for k in keys):
                kept.append(eps)
                filled.update(keys)
            else:
                chunks.pop(eps.id_, None)
        kept.reverse()
        done[:] = kept
