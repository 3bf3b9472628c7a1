"""``LIO``: the algorithm (custom ``training_step`` with explicit weight syncs).

Two schedules (``LIOConfig.training(schedule=...)``):

``"two_rollouts"`` -- the LIO thesis's Algorithm 2, per iteration::

    tau     = sample(theta, eta)           # EnvRunners hold theta, eta
    learners: inner phase on tau           # theta_hat^j = theta^j + beta f(tau, theta^j, eta)  (5.3); commit
    sync weights -> EnvRunners             # now they hold theta_hat
    tau_hat = sample(theta_hat, eta)
    learners: outer phase on tau_hat       # eta^i <- Adam on (5.10) through theta_hat(eta) + cost (5.6)
    sync weights -> EnvRunners             # eta_hat

``"one_rollout"`` -- pipelined like the incentive designer (ID thesis §6.3.2): one rollout per iteration, whose
batch is ``tau_hat`` for the previous iteration's incentive step and then ``tau`` for this one's
policy step::

    batch = sample(theta_k, eta_k)
    learners: outer phase (kept theta_{k-1}, tau_{k-1}; tau_hat = batch) -> eta_{k+1}
              inner phase on batch with eta_{k+1} -> theta_{k+1}
    sync weights -> EnvRunners

With ``incentives=False`` (independent PG baseline) every iteration is one rollout + one inner
step. Every learner gets whole episodes (``episodes[rank::num_learners]``), so each shard holds
all agents' rows of the same env steps and all modules take part in every update.

Checkpoints: ``get_state``/``set_state`` also carry the kept ``(theta, tau)`` of the one-rollout
schedule (key ``"lio_kept"``, one entry per learner, each learner's own shard of episodes), so a
restored run continues with the same incentive step it would have taken. If the number of learners
differs from the saved run, the kept state is dropped and the first iteration is a policy step only.
"""
from __future__ import annotations

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rllib_coopai.algorithms.lio.config import LIOConfig
from rllib_coopai.core.learner import foreach_learner, update_on_whole_episodes
from rllib_coopai.core.nonfinite import NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.sampling import sample_episodes

LIO_KEPT = "lio_kept"


def _get_kept(learner):
    return learner.get_kept_state()


class LIO(NonFiniteIterationMixin, RNGStateMixin, Algorithm):
    """Learning to Incentivize Others (see the module docstring and ``LIOConfig``)."""

    @classmethod
    def get_default_config(cls) -> LIOConfig:
        return LIOConfig()

    def training_step(self) -> None:
        cfg = self.config
        if not cfg.gives_incentives:
            self._learn(self._sample(), [("inner", True)])
            self._sync()
        elif cfg.schedule == "two_rollouts":
            self._learn(self._sample(), [("inner", False)])
            self._sync()
            self._learn(self._sample(), [("outer", True)])
            self._sync()
        else:  # one rollout: the incentive step on the kept (theta, tau), then the policy step
            self._learn(self._sample(), [("outer", False), ("inner", True)])
            self._sync()

    # ------------------------------------------------------------------ checkpoints
    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if getattr(self, "learner_group", None) is not None and self._check_component(LIO_KEPT, components, not_components):
            state[LIO_KEPT] = foreach_learner(self.learner_group, _get_kept)
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if LIO_KEPT in state and getattr(self, "learner_group", None) is not None:
            kept = state[LIO_KEPT]
            foreach_learner(self.learner_group, lambda learner, _k=kept: learner.set_kept_state(_k))

    # ------------------------------------------------------------------ pieces
    def _sample(self):
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, metrics = sample_episodes(self, self.config.episodes_per_iteration, explore=True)
        self.metrics.aggregate(metrics, key=ENV_RUNNER_RESULTS)
        return episodes

    def _learn(self, episodes, phases) -> None:
        """LIO's phases (``[(phase, decay_epsilon), ...]``, in order) on every learner's shard of
        whole episodes; the phase reaches the learner through ``timesteps``."""
        from rllib_coopai.algorithms.lio.learner import LIO_DECAY, LIO_PHASE

        update_on_whole_episodes(self, episodes, [{LIO_PHASE: p, LIO_DECAY: d} for p, d in phases])

    def _sync(self) -> None:
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group, inference_only=True
            )
