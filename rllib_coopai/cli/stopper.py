"""``stop:`` criteria of ``rllib train``: a static check of their keys before Ray starts, and a
Tune ``Stopper`` that checks them against the first result."""
from __future__ import annotations

import difflib
import functools
import json
import math
import os
import uuid
from typing import Dict, Optional, Tuple

from ray.tune.stopper import Stopper

from rllib_coopai.cli.errors import CLIError, suggest

# Tune's own numeric result keys (``ray.tune.result.AUTO_RESULT_KEYS`` and the per-iteration counts).
TUNE_RESULT_KEYS = (
    "training_iteration", "time_total_s", "time_this_iter_s", "time_since_restore",
    "timesteps_total", "timesteps_this_iter", "timesteps_since_restore", "episodes_total",
    "episodes_this_iter", "iterations_since_restore", "timestamp", "pid", "done",
)
# Episode metrics of the package's callbacks and wrappers, logged under ``env_runners/``
# (``rllib_coopai.metrics``: social welfare, per-agent returns, the wrappers' ``info["rates"]`` and
# ``info["totals"]``, the designer's metrics).
PACKAGE_ENV_RUNNER_METRICS = (
    "social_welfare", "agent_returns", "cooperation_rate", "agreement_rate", "commit_rate",
    "proposal_rate", "contract_rate", "delegation_rate", "give_rate", "coalition_size",
    "coalition_welfare", "contract_transfer", "designer_payment", "incentives_given",
    "incentives_received", "inequity_penalty", "tax_paid", "lump_sum", "designer_return",
    "social_objective", "social_objective_net", "p_all_cooperate", "final_productivity",
    "final_equality", "sum_productivity_x_equality",
)
# The package's learner metrics over all modules (``learners/__all_modules__/``).
PACKAGE_LEARNER_METRICS = ("nonfinite_updates_skipped", "nonfinite_updates_skipped_lifetime")
# Groups of result keys (a key below them is checked like any other, not taken as a sub-key).
_NAMESPACES = ("env_runners", "evaluation", "evaluation/env_runners", "learners",
               "learners/__all_modules__")


@functools.lru_cache(maxsize=1)
def known_result_keys() -> Dict[str, str]:
    """``{result key: key to suggest}`` for the keys every run reports or the package logs: Tune's,
    RLlib's metric names (``ray.rllib.utils.metrics``) at the top level and under ``env_runners/``,
    ``evaluation/env_runners/`` and ``learners/__all_modules__/``, the package's metrics, and the
    old names of ``STOP_KEY_ALIASES`` (suggesting their new key)."""
    import ray.rllib.utils.metrics as rllib_metrics

    from rllib_coopai.cli.experiment import STOP_KEY_ALIASES

    rllib = {v for k, v in vars(rllib_metrics).items()
             if k.isupper() and isinstance(v, str) and v.isidentifier() and not v.startswith("__")}
    keys = set(TUNE_RESULT_KEYS) | rllib
    for name in rllib | set(PACKAGE_ENV_RUNNER_METRICS):
        keys |= {f"env_runners/{name}", f"evaluation/env_runners/{name}"}
    for name in rllib | set(PACKAGE_LEARNER_METRICS):
        keys.add(f"learners/__all_modules__/{name}")
    known = {k: k for k in keys}
    known.update(STOP_KEY_ALIASES)
    return known


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours) of
    ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def near_miss(key: str) -> Optional[str]:
    """The known result key that ``key`` is a typo of (one or two edits of its last part), or None
    when ``key`` is known, extends a known key (``env_runners/agent_returns/player_0``) or is not
    near any: algorithms and user callbacks log keys of their own, checked after one iteration."""
    known = known_result_keys()
    if key in known:
        return None
    parts = key.split("/")
    if any("/".join(parts[:i]) in known and "/".join(parts[:i]) not in _NAMESPACES
           for i in range(1, len(parts))):
        return None
    near = {}  # candidate -> distance
    for cand in known:
        limit = 1 if len(cand.rsplit("/", 1)[-1]) < 10 else 2
        d = _edit_distance(key, cand, limit)
        if d <= limit:
            near[cand] = d
    if not near:
        return None
    # Fewest edits; among equals the most similar (``..._man`` -> ``..._mean``, not ``..._max``).
    best = min(near, key=lambda c: (near[c], -difflib.SequenceMatcher(None, key, c).ratio(), c))
    return known[best]


def check_stop_value(key: str, value, where: str) -> None:
    """``CLIError`` (exit 2, before Ray starts) for a stop criterion whose value is not a finite
    number or whose key is a near miss of a known result key."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CLIError(f"stop criterion {key!r} {where} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise CLIError(f"stop criterion {key!r} {where} must be a finite number, got {value!r}.")
    near = near_miss(key)
    if near is not None:
        raise CLIError(f"stop criterion {key!r} {where} is not a result key. Did you mean "
                       f"{near!r}? Result keys are flattened with '/', e.g. 'training_iteration', "
                       f"'env_runners/social_welfare'.")


# Stop keys a run found missing from its results, by stopper token (the stopper Tune holds may
# be a copy of ours, so it reports through this module-level table).
_UNKNOWN_STOP_KEYS: Dict[str, Tuple[str, str]] = {}


# Stoppers of resumed runs, by ``run_id``: Tune restores the stopper a run was started with from
# its experiment state (a pickled copy; a stopper given to the resumed run is ignored), and that
# copy takes the criteria and token of the stopper registered here (see ``resume``).
_RESUMED: Dict[str, "CheckedStopper"] = {}
STOP_FILE = "rllib_stop.json"  # in the experiment dir: the criteria the run stops by


class CheckedStopper(Stopper):
    """Tune's ``stop`` mapping (a trial stops once ``result[key] >= value``, keys flattened with
    ``/`` as in ``env_runners/social_welfare``) that also checks every key against the first
    result: a key the algorithm does not report stops the whole run, and ``train`` then exits 2
    with a "did you mean" instead of training forever."""

    def __init__(self, stop: Dict[str, float], run_id: Optional[str] = None):
        self.stop = dict(stop)
        self.token = uuid.uuid4().hex
        self.run_id = run_id or self.token  # the same for every copy of one run's stopper

    def __setstate__(self, state):
        self.__dict__.update(state)
        live = _RESUMED.get(self.__dict__.get("run_id"))
        if live is not None:
            self.stop, self.token = dict(live.stop), live.token

    def resume(self) -> None:
        """Make the stored stopper of run ``self.run_id``, once Tune restores it, stop by these
        criteria (and report to :meth:`check` of this stopper)."""
        _RESUMED[self.run_id] = self

    def save(self, experiment_dir: str) -> None:
        """Write the criteria to the experiment dir, for a later ``--resume`` (see :meth:`load`)."""
        with open(os.path.join(experiment_dir, STOP_FILE), "w", encoding="utf-8") as f:
            json.dump({"run_id": self.run_id, "stop": self.stop}, f)

    @classmethod
    def load(cls, experiment_dir: str) -> Optional["CheckedStopper"]:
        """The stopper saved in ``experiment_dir`` (same ``run_id``), or None without one."""
        try:
            with open(os.path.join(experiment_dir, STOP_FILE), encoding="utf-8") as f:
                saved = json.load(f)
            return cls(saved["stop"], run_id=saved["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def __call__(self, trial_id, result) -> bool:
        from ray.tune.utils import flatten_dict

        flat = flatten_dict(result, delimiter="/")
        for key, value in self.stop.items():
            got = flat.get(key)
            if isinstance(got, bool) or not isinstance(got, (int, float)):
                numeric = [k for k, v in flat.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)]
                _UNKNOWN_STOP_KEYS.setdefault(self.token, (key, suggest(key, numeric)))
                return True
            if got >= value:
                return True
        return False

    def stop_all(self) -> bool:
        return self.token in _UNKNOWN_STOP_KEYS

    def check(self, exp) -> None:
        """Raise ``CLIError`` if a stop key was not among the run's result keys."""
        if self.token in _UNKNOWN_STOP_KEYS:
            key, hint = _UNKNOWN_STOP_KEYS.pop(self.token)
            raise CLIError(f"stop criterion {key!r} of experiment {exp.name!r} is not a numeric "
                           f"result key of {exp.run} (checked after its first iteration; the run "
                           f"was stopped).{hint} Result keys are flattened with '/', e.g. "
                           f"'training_iteration', 'env_runners/social_welfare'.")
