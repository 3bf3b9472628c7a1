"""The package's one validator for config values.

Every algorithm config calls ``check_config_numbers(config, "DCL", RANGES, ignored=...)`` at the
start of its ``validate()``, so that ``build_algo()``, Tune trial start and the ``rllib train`` CLI
(which validates before Ray starts, RLlib's built-in algorithms included) all refuse the same bad
values:

* every key named in ``RLLIB_RANGES`` (RLlib's own numeric keys: learning rates, coefficients,
  batch sizes, resources, seed) or in the algorithm's own ``ranges`` must be a finite number in its
  range; NaN and +-inf never pass (comparisons with NaN are false, so a plain ``v < low`` check
  lets NaN through);
* every other float attribute of the config must at least be finite;
* keys the algorithm does not read (``ignored``) are refused with the name of the key to use
  instead, so that e.g. LIO's ``lr`` is never silently dropped.

The scalar checks (``check_float``, ``check_int``, ``check_choice``, ``check_bool``) are the ones
the environments use (``rllib_coopai.envs.base``; environments cannot import from here).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Mapping, NamedTuple, Optional

from rllib_coopai.envs.base import check_bool, check_choice, check_float, check_int

__all__ = [
    "LR_MAX", "Num", "num", "lr_range", "RLLIB_RANGES", "config_range", "check_config_numbers",
    "check_config_value", "check_number", "check_bool", "check_choice", "check_float", "check_int",
]

# Learning rates above this diverge with Adam (every step moves a weight by about lr) and make
# SGD steps on these small nets explode; no paper setting of the package comes near it.
LR_MAX = 1.0


class Num(NamedTuple):
    """Range of one numeric config key (``None`` bound = unbounded)."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False  # None is allowed (the key is off)

    def describe(self) -> str:
        """The range in words: ``'>= 0.0'``, ``'> 0.0'``, ``'in [0.0, 1.0]'``, ``'an integer >= 1'``."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            text = f"in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"
        elif lo is not None:
            text = f"{'>' if self.low_open else '>='} {lo}"
        elif hi is not None:
            text = f"{'<' if self.high_open else '<='} {hi}"
        else:
            text = "finite"
        return f"an integer {text}" if self.integer else text


def num(low=None, high=None, *, low_open=False, high_open=False, integer=False, optional=False) -> Num:
    return Num(low, high, low_open, high_open, integer, optional)


def lr_range(allow_zero: bool = False, optional: bool = False) -> Num:
    """A learning rate: in ``(0, LR_MAX]`` (``[0, LR_MAX]`` where 0 freezes a learner)."""
    return num(0.0, LR_MAX, low_open=not allow_zero, optional=optional)


# RLlib's own numeric keys the package's algorithms read (AlgorithmConfig / PPOConfig).
RLLIB_RANGES: Dict[str, Num] = {
    "lr": lr_range(),
    "gamma": num(0.0, 1.0),
    "lambda_": num(0.0, 1.0),
    "entropy_coeff": num(0.0),
    "vf_loss_coeff": num(0.0),
    "kl_coeff": num(0.0),
    "kl_target": num(0.0),
    "clip_param": num(0.0, low_open=True),
    "vf_clip_param": num(0.0, low_open=True),
    "grad_clip": num(0.0, low_open=True, optional=True),
    "train_batch_size_per_learner": num(1, integer=True, optional=True),
    "train_batch_size": num(1, integer=True),
    "minibatch_size": num(1, integer=True, optional=True),
    "num_epochs": num(1, integer=True),
    "num_env_runners": num(0, integer=True),
    "num_envs_per_env_runner": num(1, integer=True),
    "num_learners": num(0, integer=True),
    "num_gpus_per_learner": num(0.0),
    "num_cpus_per_env_runner": num(0.0),
    "seed": num(0, integer=True, optional=True),
}

# Keys whose value may be an RLlib schedule ``[[timestep, value], ...]`` instead of a number.
_SCHEDULE_KEYS = ("lr", "entropy_coeff")


def check_number(algo: str, key: str, value: Any, rng: Num) -> None:
    """Raise ``ValueError`` naming ``algo``, ``key`` and the range unless ``value`` fits ``rng``."""
    if value is None and rng.optional:
        return
    name = f"{algo}: config key {key!r}" if algo else f"config key {key!r}"
    if rng.integer:
        check_int(name, value, rng.low, rng.high)
        return
    try:
        check_float(name, value, rng.low, rng.high, low_open=rng.low_open, high_open=rng.high_open)
    except ValueError as e:
        msg = str(e)
        if rng.optional:
            msg += " (or null to switch it off)"
        raise ValueError(msg) from None


def _check_value(algo: str, key: str, value: Any, rng: Num) -> None:
    if key in _SCHEDULE_KEYS and isinstance(value, (list, tuple)):
        for i, point in enumerate(value):
            if not (isinstance(point, (list, tuple)) and len(point) == 2):
                raise ValueError(f"{algo}: config key {key!r} as a schedule must be a list of "
                                 f"[timestep, value] pairs, got {value!r}")
            check_number(algo, f"{key}[{i}]", point[1], rng)
        return
    check_number(algo, key, value, rng)


def config_range(key: str, ranges: Optional[Mapping[str, Num]] = None) -> Optional[Num]:
    """The range of config key ``key``: the algorithm's own ``ranges`` first, then
    ``RLLIB_RANGES``; ``None`` for a key without one."""
    if ranges and key in ranges:
        return ranges[key]
    return RLLIB_RANGES.get(key)


def check_config_value(key: str, value: Any, ranges: Optional[Mapping[str, Num]] = None,
                       algo: str = "") -> None:
    """Check one config value (a schedule ``[[t, v], ...]`` for ``lr`` / ``entropy_coeff``) against
    :func:`config_range`; ``ValueError`` as :func:`check_number` raises. Keys without a range pass."""
    rng = config_range(key, ranges)
    if rng is not None:
        _check_value(algo, key, value, rng)


def check_config_numbers(config, algo: str, ranges: Optional[Mapping[str, Num]] = None, *,
                         ignored: Optional[Mapping[str, str]] = None) -> None:
    """Check every numeric key of ``config`` (see the module docstring).

    ``ranges``: the algorithm's own keys (they override ``RLLIB_RANGES`` entries of the same name).
    ``ignored``: ``{key: hint}`` for keys the algorithm does not read; a value different from the
    config class's default is refused with ``hint`` (the key(s) to set instead).
    """
    all_ranges = {**RLLIB_RANGES, **dict(ranges or {})}
    if hasattr(config, "skip_nonfinite_updates"):
        check_bool(f"{algo}: config key 'skip_nonfinite_updates'", config.skip_nonfinite_updates)
    for key, rng in all_ranges.items():
        if key in (ignored or {}) or not hasattr(config, key):
            continue
        _check_value(algo, key, getattr(config, key), rng)
    for key, value in vars(config).items():
        if key in all_ranges or key.startswith("__"):
            continue
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
            if not math.isfinite(float(value)):
                raise ValueError(f"{algo}: config key {key.lstrip('_')!r} must be a finite "
                                 f"number, got {value!r}")
    if ignored:
        defaults = type(config)()
        for key, hint in ignored.items():
            value, default = getattr(config, key, None), getattr(defaults, key, None)
            if not _same(value, default):
                raise ValueError(f"{algo} does not read config key {key!r} (got {value!r}); "
                                 f"set {hint} instead")


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared count as different
        return False


def check_layer_sizes(key: str, value, allow_empty: bool = True) -> list:
    """A list of hidden-layer sizes, each an integer >= 1 (``[]``: no hidden layer, if allowed)."""
    if not isinstance(value, (list, tuple)) or (not value and not allow_empty) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in value):
        empty = "" if allow_empty else "non-empty "
        raise ValueError(f"{key} must be a {empty}list of positive layer sizes, got {value!r}")
    return list(value)


def check_episodes_per_learner(config, key: str = "episodes_per_iteration") -> None:
    """Whole episodes are sharded across Learners: ``config.<key>`` must be at least the Learner
    count (``None`` = sized in env steps instead, not checked here)."""
    value = getattr(config, key)
    if value is None:
        return
    check_int(key, value, 1, None)
    n = max(1, int(config.num_learners or 0))
    if value < n:
        raise ValueError(f"{key} ({value}) must be >= num_learners ({n}): whole episodes are "
                         "sharded across Learners, every learner needs at least one")
