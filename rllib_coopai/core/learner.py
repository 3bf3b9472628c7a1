"""``CrossAgentTorchLearner``: the base of the learners whose losses couple several modules.

LIO, MetaGrad, AMD (and LOLA) differentiate one module's objective through another module's
functional update (``core.differentiable``). Those gradient paths go through
``torch.func.functional_call`` on the plain modules, which torch DDP's gradient hooks do not see,
so the modules are not DDP-wrapped and gradients are reduced across Learners explicitly
(``core.distributed``; exact: each Learner holds whole episodes).

Learner contract: the public hooks (``compute_losses``, ``compute_gradients``,
``apply_gradients``, ``before/after_gradient_based_update`` with ``timesteps``) are used where
they exist. Two private ``TorchLearner`` methods are overridden because RLlib has no public hook
for them: ``_make_modules_ddp_if_necessary`` (no way to opt out of DDP wrapping with
``num_learners > 1``) and ``_uncompiled_update`` (RLlib's version enters every module's DDP
``no_sync()`` context, which plain modules do not have).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    TIMERS,
)

from rllib_coopai.core.distributed import all_reduce_, rank_world
from rllib_coopai.core.nonfinite import FiniteUpdateLearnerMixin


class CrossAgentTorchLearner(FiniteUpdateLearnerMixin, TorchLearner):
    """``TorchLearner`` whose gradients are averaged across Learners explicitly (see module doc).

    ``gradient_reduction``: ``"mean"`` (losses normalised per shard) or ``"sum"`` (losses
    normalised by the global batch size, so the shards' gradients add up to the full gradient).
    """

    gradient_reduction = "mean"

    @override(TorchLearner)
    def _make_modules_ddp_if_necessary(self) -> None:
        # RLlib limitation: no public hook to keep modules un-wrapped with num_learners > 1.
        return None

    @override(TorchLearner)
    def _uncompiled_update(self, batch, **kwargs):
        # RLlib limitation: TorchLearner's version enters DDP ``no_sync`` contexts on every module
        # (plain modules here). Otherwise the same public sequence of hooks, minus the
        # ``forward_train`` pass: these losses evaluate the modules functionally at substituted
        # parameters (``core.differentiable.call_with``) and never read ``fwd_out``.
        self._compute_off_policyness(batch)
        fwd_out = {}
        loss_per_module = self.compute_losses(fwd_out=fwd_out, batch=batch)
        gradients = self.compute_gradients(loss_per_module)
        self.apply_gradients(self.postprocess_gradients(gradients))
        return fwd_out, loss_per_module, {}

    @override(TorchLearner)
    def compute_gradients(self, loss_per_module, **kwargs):
        grads = super().compute_gradients(loss_per_module, **kwargs)
        grads = {pid: g for pid, g in grads.items() if g is not None}
        all_reduce_(list(grads.values()), mean=self.gradient_reduction == "mean")
        return grads


def foreach_learner(learner_group, fn, **kwargs) -> list:
    """``learner_group.foreach_learner(fn, **kwargs)`` values, raising the first remote error.

    RLlib's ``foreach_learner`` hands back a failed remote call's exception as a result instead of
    raising it (``CallResult.get()``), so an algorithm that used the values directly would fail
    later with an unrelated error, or silently ignore a learner's ``NonFiniteUpdateError``.
    """
    out = []
    for r in learner_group.foreach_learner(fn, **kwargs):
        if not r.ok:
            raise r.get()
        out.append(r.get())
    return out


def _update_on_shard(learner, *, episodes, phases, timesteps, update_kwargs):
    """On one Learner: its shard of whole episodes (``episodes[rank::world]``), one
    ``learner.update`` per phase (each phase's entries added to ``timesteps``)."""
    rank, world = rank_world()
    shard = episodes[rank::world]
    return [learner.update(episodes=shard, timesteps={**timesteps, **phase}, **update_kwargs)
            for phase in phases]


def update_on_whole_episodes(algo, episodes: Sequence, phases: Sequence[Mapping] = ({},),
                             **update_kwargs) -> None:
    """Timed Learner updates of ``algo`` on whole episodes, results aggregated under ``learners``.

    RLlib's ``LearnerGroup.update(episodes=...)`` balances env steps across Learners by slicing
    episodes, which breaks the whole-episode returns and cross-agent terms of these learners; here
    every Learner takes whole episodes (``episodes[rank::world]``). ``phases``: one update per
    entry, in order, the entry's keys added to ``timesteps`` (besides the lifetime env steps), e.g.
    LIO's inner/outer phases; ``update_kwargs`` go to ``Learner.update`` (e.g. ``num_epochs``).
    """
    timesteps = {NUM_ENV_STEPS_SAMPLED_LIFETIME: algo.metrics.peek(
        (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)}
    with algo.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
        results = foreach_learner(algo.learner_group, _update_on_shard, episodes=list(episodes),
                                  phases=[dict(p) for p in phases], timesteps=timesteps,
                                  update_kwargs=update_kwargs)
    algo.metrics.aggregate([m for r in results for m in r], key=LEARNER_RESULTS)
