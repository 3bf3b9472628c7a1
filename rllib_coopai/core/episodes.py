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


def grid_index(lengths) -> Tuple:
    """Where the rows of episodes stored back to back (lengths ``L_e``, in order) sit on the
    ``E x T`` grid (``T = max L_e``): ``(episode, step)`` index arrays of length ``sum L_e``, so
    ``grid[episode, step] = flat`` scatters and ``grid[episode, step]`` gathers back.
    Hand-computed: lengths ``[2, 1, 3]`` -> episode ``[0, 0, 1, 2, 2, 2]``, step ``[0, 1, 0, 0, 1, 2]``."""
    import numpy as np

    lengths = np.asarray(lengths, np.int64).reshape(-1)
    episode = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    step = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
    return episode, step


def buffer_steps(buffer, n: int):
    """The first ``n`` items (after the lookback) of an episode's ``InfiniteLookbackBuffer``
    (observations, rewards, an extra model output) as an array: a view into the numpy data of a
    finalized buffer (what env runners return), RLlib's ``get`` otherwise (lists, nested data)."""
    import numpy as np

    data = buffer.data
    if buffer.finalized and isinstance(data, np.ndarray):
        return data[buffer.lookback: buffer.lookback + n]
    return np.asarray(buffer.get(slice(0, n)))


def _connector_base():
    from ray.rllib.connectors.connector_v2 import ConnectorV2

    return ConnectorV2


class EpisodesToStepGrid(_connector_base()):
    """Learner connector: whole multi-agent episodes -> every module's rows on one step grid.

    The cross-agent losses (LIO, LOLA-PG, ...) combine different agents' quantities of the same
    env step, so the rows of all modules must line up by step. For every module this writes
    ``obs``, ``actions`` (int64), ``rewards`` (the env's), ``mask`` (1 = real step, 0 = padding)
    and ``t`` (step index) on a common grid of ``E`` episodes x ``T`` steps (``T`` = the longest
    episode), flattened to ``E*T`` rows (``to_grid`` turns them back into ``[E, T, ...]``), plus
    ``next_obs`` when ``next_obs=True`` and the columns a subclass adds (``extra_columns`` /
    ``fill_extra``). Every agent must act at every step (simultaneous moves); other episodes are
    refused with a ValueError naming ``method``.
    """

    def __init__(self, input_observation_space=None, input_action_space=None, *,
                 method: str = "this algorithm", next_obs: bool = False, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.method = method
        self.next_obs = bool(next_obs)

    def extra_columns(self, E: int, T: int) -> Dict:
        """Subclass hook: ``{column: zero-initialised [E, T] array}`` of additional columns."""
        return {}

    def fill_extra(self, cols: Dict, e: int, single_agent_episode, L: int, steps: Dict) -> None:
        """Subclass hook: fill row ``e`` (``L`` steps) of the ``extra_columns``."""

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, metrics=None,
                 **kwargs):
        import numpy as np

        module_ids = list(rl_module.keys())
        E = len(episodes)
        T = max([len(ep) for ep in episodes] + [1])
        try:
            device = next(rl_module[module_ids[0]].parameters()).device
        except StopIteration:  # pragma: no cover - modules always have parameters
            device = torch.device("cpu")
        extra_t = 1 if self.next_obs else 0
        out: Dict[str, Dict[str, torch.Tensor]] = {}
        for mid in module_ids:
            shape = tuple(rl_module[mid].observation_space.shape)
            obs = np.zeros((E, T + extra_t) + shape, np.float32)
            act = np.zeros((E, T), np.int64)
            rew = np.zeros((E, T), np.float32)
            mask = np.zeros((E, T), np.float32)
            extra = self.extra_columns(E, T)
            for e, ep in enumerate(episodes):
                L = len(ep)
                sa = ep.agent_episodes.get(mid)
                if L == 0:
                    continue
                if sa is None or len(sa) != L:
                    raise ValueError(
                        f"{self.method} needs simultaneous-move envs (every agent acts at every "
                        f"step); agent {mid!r} acted {0 if sa is None else len(sa)} of {L} steps")
                steps = agent_steps(sa, L, shape, next_obs=self.next_obs)
                obs[e, : L + extra_t] = steps["obs"]
                act[e, :L] = steps["actions"].reshape(L)
                rew[e, :L] = steps["rewards"].reshape(L)
                mask[e, :L] = 1.0
                self.fill_extra(extra, e, sa, L, steps)
            t_idx = np.tile(np.arange(T, dtype=np.int64), (E, 1))

            def flat(x):
                x = np.ascontiguousarray(x).reshape((E * T,) + x.shape[2:])
                return torch.as_tensor(x, device=device)

            cols = {"obs": flat(obs[:, :T]), "actions": flat(act), "rewards": flat(rew),
                    "mask": flat(mask), "t": flat(t_idx)}
            if self.next_obs:
                cols["next_obs"] = flat(obs[:, 1:])
            cols.update({k: flat(v) for k, v in extra.items()})
            out[mid] = cols
        return out
