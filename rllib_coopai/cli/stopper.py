"""``stop:`` criteria of ``rllib train`` as a Tune ``Stopper`` that checks its keys."""
from __future__ import annotations

import uuid
from typing import Dict, Tuple

from ray.tune.stopper import Stopper

from rllib_coopai.cli.errors import CLIError, suggest

# Stop keys a run found missing from its results, by stopper token (the stopper Tune holds may
# be a copy of ours, so it reports through this module-level table).
_UNKNOWN_STOP_KEYS: Dict[str, Tuple[str, str]] = {}


class CheckedStopper(Stopper):
    """Tune's ``stop`` mapping (a trial stops once ``result[key] >= value``, keys flattened with
    ``/`` as in ``env_runners/social_welfare``) that also checks every key against the first
    result: a key the algorithm does not report stops the whole run, and ``train`` then exits 2
    with a "did you mean" instead of training forever."""

    def __init__(self, stop: Dict[str, float]):
        self.stop = dict(stop)
        self.token = uuid.uuid4().hex

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
