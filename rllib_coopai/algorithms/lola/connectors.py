"""Learner connector of LOLA-PG: whole two-player episodes -> aligned ``[E x T]`` per-agent grids.

LOLA-PG's second-order term multiplies both players' cumulative log-probabilities at the same
env step, so the rows of the two modules must line up by step. For every module this connector
writes the columns ``obs``, ``actions`` (int64), ``rewards``, ``mask`` (1 = real step, 0 =
padding) and ``t`` (step index) on a common grid of ``E`` episodes x ``T`` steps (``T`` = the
longest episode), flattened to ``E*T`` rows; ``core.episodes.to_grid`` turns them back into
``[E, T, ...]`` tensors in the learner. Every agent must act at every step (simultaneous moves,
as in the coin games and the matrix games).
"""
from __future__ import annotations

from rllib_coopai.core.episodes import EpisodesToStepGrid


def lola_pg_learner_connector(input_observation_space=None, input_action_space=None):
    """LOLA-PG's whole learner pipeline: the step-grid builder only."""
    return EpisodesToStepGrid(input_observation_space, input_action_space, method="LOLA-PG")
