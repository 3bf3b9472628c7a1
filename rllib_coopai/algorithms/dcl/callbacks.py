"""Episode metrics of DCL: the package's cooperation metrics plus the MCG statistics.

DCL samples the protocol inside its MultiRLModule (see ``dcl.py``), so the per-step proposals,
commitments and independent actions are read from the episode's extra model outputs:

* ``agreement_rate``: share of steps in which all agents committed (DCL paper Table 8 does not define it);
* ``commit_rate/<agent>``;
* for small games (|A^i| <= 8): ``propose/<agent>/<k>`` and ``act/<agent>/<k>``, the episode's
  proposal and independent-action distributions.

``social_welfare`` / ``cooperation_rate`` keep the base env's semantics (executed actions).

Episode ends only keep the episode; the per-episode statistics are computed for all the
episodes of a ``sample()`` call at once and logged once (see ``CoopMetricsCallback``).
"""
from __future__ import annotations

import numpy as np

from rllib_coopai.metrics.callbacks import CoopMetricsCallback
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M

MAX_DIST_ACTIONS = 8


class DCLMetricsCallback(CoopMetricsCallback):
    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        super().on_episode_end(episode=episode, metrics_logger=metrics_logger, **kwargs)
        if episode.agent_episodes:  # read at the end of the sample() call, with the others
            self.__dict__.setdefault("_dcl_episodes", []).append(episode.agent_episodes)

    def on_sample_end(self, *, metrics_logger=None, **kwargs) -> None:
        episodes = self.__dict__.pop("_dcl_episodes", None)
        if episodes:
            self._record_dcl(self._rows(episodes))
        super().on_sample_end(metrics_logger=metrics_logger, **kwargs)

    @staticmethod
    def _rows(episodes):
        """One row per agent and episode (commitments, proposals, actions, |A^i|) and one per
        episode for agreement (agent id ``None``)."""
        rows = []
        for eps in episodes:
            try:
                c = {aid: np.asarray(e.get_extra_model_outputs(DCL_C)).reshape(-1)
                     for aid, e in eps.items()}
            except (KeyError, ValueError):
                continue
            lengths = {v.size for v in c.values()}
            if len(lengths) != 1 or 0 in lengths:
                continue  # agents with different step counts: no joint agreement
            for aid, e in eps.items():
                m = np.asarray(e.get_extra_model_outputs(DCL_M)).reshape(-1)
                a = np.asarray(e.get_extra_model_outputs(DCL_A)).reshape(-1)
                space = getattr(e, "action_space", None)
                k = int(getattr(space, "n", 0) or (max(m.max(initial=0), a.max(initial=0)) + 1))
                rows.append((str(aid), c[aid], m, a, k))
            rows.append((None, np.all(np.stack(list(c.values()), -1) == 1, -1), None, None, 0))
        return rows

    def _record_dcl(self, rows) -> None:
        """Per-episode agreement, commit rates and distributions of all stored episodes at once:
        the per-episode mean of a flag is ``np.add.reduceat`` over the concatenated steps."""
        rec = self._batched.pending
        groups = {}
        for aid, c, m, a, k in rows:
            groups.setdefault(aid, []).append((c, m, a, k))
        for aid, items in groups.items():
            lens = np.fromiter((it[0].size for it in items), dtype=np.int64, count=len(items))
            starts = np.concatenate(([0], np.cumsum(lens)[:-1]))

            def per_episode(x):
                return np.add.reduceat(x.astype(np.float64), starts) / lens

            c = np.concatenate([it[0] for it in items])
            if aid is None:  # all agents committed
                rec["agreement_rate"].extend(per_episode(c).tolist())
                continue
            rec[("commit_rate", aid)].extend(per_episode(c).tolist())
            m = np.concatenate([it[1] for it in items])
            a = np.concatenate([it[2] for it in items])
            ks = np.fromiter((it[3] for it in items), dtype=np.int64, count=len(items))
            k_max = int(ks.max())
            for j in range(min(k_max, MAX_DIST_ACTIONS)):
                # Episodes with k <= MAX_DIST_ACTIONS log every j < k (as the per-episode code).
                keep = (ks <= MAX_DIST_ACTIONS) & (j < ks)
                if not keep.any():
                    continue
                pm, pa = per_episode(m == j)[keep], per_episode(a == j)[keep]
                rec[("propose", aid, str(j))].extend(pm.tolist())
                rec[("act", aid, str(j))].extend(pa.tolist())
