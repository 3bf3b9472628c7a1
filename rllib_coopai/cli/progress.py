"""One line of progress per training iteration, and the end-of-run summary.

``format_progress(result)`` works on an ``algo.train()`` result (nested) or on Tune's flattened
one. It prints what is present: time, env steps, mean episode return, social welfare, per-agent
returns, cooperation rate, and each method's key metrics (``agreement_rate`` for DCL, incentives
for LIO / the designer / AMD, ...): every metric the package's callbacks add to ``env_runners``
beyond RLlib's own, plus learner metrics whose names mention incentives, agreement, commitment,
payments or temperature.
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Tuple

try:
    from ray.tune import Callback as _TuneCallback
except ImportError:  # pragma: no cover - ray always ships Tune with rllib
    _TuneCallback = object

# RLlib's own env-runner metrics (not printed as "method metrics").
_RLLIB_ENV_RUNNER_KEYS = (
    "episode_", "num_", "module_", "agent_episode", "agent_steps", "env_", "sample", "timers",
    "weights_seq_no", "time_", "rlmodule_inference_timer", "connector_pipeline",
    "env_to_module", "module_to_env", "time_between", "episode_duration",
)
_LEARNER_KEYWORDS = ("incentive", "agreement", "commit", "payment", "temperature", "designer",
                     "planner", "transfer")
ALL = "all"


def _get(result: Dict[str, Any], path: str):
    """Nested or flattened (``a/b``) lookup."""
    if path in result:
        return result[path]
    node = result
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _subtree(result: Dict[str, Any], prefix: str) -> Dict[str, Any]:
    """``result[prefix]`` as a nested dict, from a nested or a flattened result."""
    node = result.get(prefix)
    if isinstance(node, dict):
        return node
    out: Dict[str, Any] = {}
    head = prefix + "/"
    for key, value in result.items():
        if isinstance(key, str) and key.startswith(head):
            parts = key[len(head):].split("/")
            d = out
            for p in parts[:-1]:
                d = d.setdefault(p, {})
            d[parts[-1]] = value
    return out


def _num(x) -> Optional[float]:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return None if math.isnan(x) else float(x)


def cooperation_metrics(result: Dict[str, Any]) -> Dict[str, float]:
    """Flat ``{name: value}`` of the cooperation metrics in a result (package callbacks' keys)."""
    er = _subtree(result, "env_runners")
    out: Dict[str, float] = {}
    for key in ("episode_return_mean", "social_welfare", "cooperation_rate"):
        v = _num(er.get(key))
        if v is not None:
            out[key] = v
    returns = er.get("agent_returns")
    if isinstance(returns, dict):
        for aid, v in sorted(returns.items()):
            if _num(v) is not None:
                out[f"agent_returns/{aid}"] = float(v)
    for key, value in sorted(er.items()):
        if key in ("episode_return_mean", "social_welfare", "cooperation_rate", "agent_returns"):
            continue
        if any(key.startswith(p) for p in _RLLIB_ENV_RUNNER_KEYS):
            continue
        if isinstance(value, dict):
            for sub, v in sorted(value.items()):
                if _num(v) is not None:
                    out[f"{key}/{sub}"] = float(v)
        elif _num(value) is not None:
            out[key] = float(value)
    learners = _subtree(result, "learners")
    for module, metrics in sorted(learners.items()):
        if not isinstance(metrics, dict):
            continue
        for key, value in sorted(metrics.items()):
            if _num(value) is not None and any(w in key.lower() for w in _LEARNER_KEYWORDS):
                name = key if module == "__all_modules__" else f"{key}[{module}]"
                out[name] = float(value)
    return out


def _short(name: str) -> str:
    return (name.replace("episode_return_mean", "return").replace("social_welfare", "SW")
            .replace("cooperation_rate", "coop").replace("agent_returns/", "R:")
            .replace("/" + ALL, ""))


def format_progress(result: Dict[str, Any], prefix: str = "") -> str:
    """``iter 3 | 12.1s | 1,536 steps | return -3.10 | SW -3.10 | R:player_0 -1.5 ...``."""
    it = _get(result, "training_iteration")
    t = _num(_get(result, "time_total_s"))
    steps = _num(_get(result, "num_env_steps_sampled_lifetime"))
    if steps is None:
        steps = _num(_get(result, "env_runners/num_env_steps_sampled_lifetime"))
    parts = [f"{prefix}iter {it if it is not None else '?'}"]
    if t is not None:
        parts.append(f"{t:7.1f}s")
    if steps is not None:
        parts.append(f"{int(steps):,} steps")
    metrics = cooperation_metrics(result)
    if not metrics:
        parts.append("(no episode finished yet)")
    for name, value in metrics.items():
        # totals per agent clutter the line: show per-agent values only for returns
        if "/" in name and not name.startswith("agent_returns/") and not name.endswith("/" + ALL):
            continue
        parts.append(f"{_short(name)} {value:.3g}")
    return " | ".join(parts)


def summary_lines(result: Dict[str, Any]) -> List[str]:
    """Multi-line summary: every cooperation metric with its full name."""
    lines = []
    it = _get(result, "training_iteration")
    steps = _num(_get(result, "num_env_steps_sampled_lifetime"))
    if it is not None:
        lines.append(f"  iterations:      {it}")
    if steps is not None:
        lines.append(f"  env steps:       {int(steps):,}")
    for name, value in cooperation_metrics(result).items():
        lines.append(f"  {name + ':':<40} {value:.4f}")
    return lines


class ProgressCallback(_TuneCallback):
    """Tune callback: prints :func:`format_progress` for every result of every trial."""

    def __init__(self, stream=None):
        self._stream = stream
        self._start = time.time()

    def _print(self, text):
        print(text, file=self._stream, flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        searched = getattr(trial, "evaluated_params", None) or {}
        extra = ", ".join(f"{k}={v}" for k, v in searched.items())
        self._print(f"[{trial.trial_id}] started{(' (' + extra + ')') if extra else ''}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._print(format_progress(result, prefix=f"[{trial.trial_id}] "))

    def on_trial_error(self, iteration, trials, trial, **info):
        self._print(f"[{trial.trial_id}] ERROR (see {getattr(trial, 'path', None) or 'the trial dir'}"
                    f"/error.txt)")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._print(f"[{trial.trial_id}] done")


def pick_metric(result: Dict[str, Any]) -> Tuple[str, str]:
    """The metric that ranks trials: social welfare if logged, else the mean episode return."""
    if _num(_get(result, "env_runners/social_welfare")) is not None:
        return "env_runners/social_welfare", "max"
    return "env_runners/episode_return_mean", "max"
