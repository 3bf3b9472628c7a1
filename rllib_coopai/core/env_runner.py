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
changes. Every config of the package uses it by default (``CoopConfigMixin``); a user's own
``config.env_runners(env_runner_cls=...)`` replaces it as usual.
"""
from __future__ import annotations

from collections import Counter

from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import (
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

    @override(MultiAgentEnvRunner)
    def _increase_sampled_metrics(self, num_steps, next_obs, episode):
        counts = self.__dict__.setdefault("_pending_sample_counts", Counter())
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
        counts = self.__dict__.get("_pending_sample_counts")
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
