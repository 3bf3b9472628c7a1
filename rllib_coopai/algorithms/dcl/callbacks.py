"""Episode metrics of DCL: the package's cooperation metrics plus the MCG statistics.

DCL samples the protocol inside its MultiRLModule (see ``dcl.py``), so the per-step proposals,
commitments and independent actions are read from the episode's extra model outputs:

* ``agreement_rate``: share of steps in which all agents committed (DCL paper Table 8 does not define it);
* ``commit_rate/<agent>``;
* for small games (|A^i| <= 8): ``propose/<agent>/<k>`` and ``act/<agent>/<k>``, the episode's
  proposal and independent-action distributions.

``social_welfare`` / ``cooperation_rate`` keep the base env's semantics (executed actions).
"""
from __future__ import annotations

import numpy as np

from rllib_coopai.metrics.callbacks import CoopMetricsCallback
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M

MAX_DIST_ACTIONS = 8


class DCLMetricsCallback(CoopMetricsCallback):
    def on_episode_end(self, *, episode, metrics_logger, **kwargs) -> None:
        super().on_episode_end(episode=episode, metrics_logger=metrics_logger, **kwargs)
        eps = episode.agent_episodes
        if not eps:
            return
        try:
            c = np.stack([np.asarray(e.get_extra_model_outputs(DCL_C)).reshape(-1)
                          for e in eps.values()], -1)
        except (KeyError, ValueError):
            return
        if c.size == 0:
            return
        metrics_logger.log_value("agreement_rate", float(np.all(c == 1, -1).mean()), reduce="mean")
        for aid, e in eps.items():
            metrics_logger.log_value(("commit_rate", str(aid)),
                                     float(np.mean(e.get_extra_model_outputs(DCL_C))), reduce="mean")
            m = np.asarray(e.get_extra_model_outputs(DCL_M)).reshape(-1)
            a = np.asarray(e.get_extra_model_outputs(DCL_A)).reshape(-1)
            space = getattr(e, "action_space", None)
            k = int(getattr(space, "n", 0) or (max(m.max(initial=0), a.max(initial=0)) + 1))
            if k <= MAX_DIST_ACTIONS:
                for j in range(k):
                    metrics_logger.log_value(("propose", str(aid), str(j)), float(np.mean(m == j)),
                                             reduce="mean")
                    metrics_logger.log_value(("act", str(aid), str(j)), float(np.mean(a == j)),
                                             reduce="mean")
