"""The episodes x steps grid the cross-agent losses work on.

Learner batches of the cross-agent algorithms hold whole episodes, every module with the same
rows (one per env step, padded to the longest episode with ``mask`` 0) and a ``t`` column with
the step index. These helpers turn such flat ``[E*T, ...]`` columns into ``[E, T, ...]`` tensors.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch


def to_et(x: torch.Tensor, t_col: torch.Tensor) -> torch.Tensor:
    """Reshape a flat ``[E*T, ...]`` column to ``[E, T, ...]`` (T from the ``t`` column)."""
    T = int(t_col.max().item()) + 1 if t_col.numel() else 1
    return x.reshape(-1, T, *x.shape[1:])


def to_grid(batch, order: Sequence) -> Tuple[Dict, int, int]:
    """Every column of every module in ``order`` as ``[E, T, ...]``; returns ``(data, E, T)``."""
    first = batch[order[0]]
    rows = int(first["t"].shape[0])
    T = int(first["t"].max().item()) + 1 if rows else 1
    E = rows // T
    data = {
        mid: {k: v.reshape((E, T) + tuple(v.shape[1:])) for k, v in dict(batch[mid]).items()}
        for mid in order
    }
    return data, E, T


def agent_steps(single_agent_episode, n: int, obs_shape=None, next_obs: bool = False) -> Dict:
    """One agent's first ``n`` steps of an episode as arrays: ``obs`` ``[n (+1 with next_obs), ...]``
    float32 (reshaped to ``obs_shape`` if given), ``actions`` ``[n, ...]``, ``rewards`` ``[n]``
    float32, ``infos`` (the ``n`` infos that came with those steps' results)."""
    import numpy as np

    sa = single_agent_episode
    k = n + 1 if next_obs else n
    obs = np.asarray(sa.get_observations(slice(0, k)), np.float32)
    if obs_shape is not None:
        obs = obs.reshape((k,) + tuple(obs_shape))
    return {"obs": obs, "actions": np.asarray(sa.get_actions(slice(0, n))),
            "rewards": np.asarray(sa.get_rewards(slice(0, n)), np.float32),
            "infos": sa.get_infos(slice(1, n + 1))}


def pad_to(x, T: int, dtype=None):
    """``x`` ``[L, ...]`` zero-padded along the first axis to ``[T, ...]`` (the episode grid's rows)."""
    import numpy as np

    x = np.asarray(x, dtype=dtype)
    return np.pad(x, [(0, T - x.shape[0])] + [(0, 0)] * (x.ndim - 1))
