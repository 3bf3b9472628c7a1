"""Whole-episode sampling from an algorithm's env runners that survives lost workers.

DCL, LIO, the incentive designer and AMD sample whole episodes in their own ``training_step``
(Monte-Carlo returns and episode-sharded learner batches need them). ``sample_until`` is that loop,
written once:

* it asks every healthy env runner for its share of what is still missing and repeats until the
  target is reached, so an iteration never trains on fewer episodes / steps than asked because an
  env runner died mid-iteration (the survivors sample the rest);
* when no env runner is healthy it brings failed ones back through RLlib (``restore_env_runners``:
  the actors are restarted by Ray under ``restart_failed_env_runners`` /
  ``max_num_env_runner_restarts``, then re-synced) and waits at most
  ``env_runner_restore_timeout_s`` seconds before raising ``EnvRunnerFailure``;
* an exception inside an env runner (e.g. the env raising in ``step``) is sent back to the driver
  and raised there as ``EnvRunnerFailure`` with the env's name and its own message (RLlib would
  otherwise kill and restart the actor, losing the message and retrying forever).

Metrics (top level of the result): ``num_healthy_env_runners`` (after sampling) and
``env_runners_lost_in_iteration`` (asked runners that returned nothing this iteration).
``FAULT_TOLERANCE`` are the RLlib fault-tolerance settings every config of the package sets.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable, List, Sequence, Tuple

# RLlib's fault-tolerance settings, set explicitly by every config of the package
# (``AlgorithmConfig.fault_tolerance``); users override them with ``.fault_tolerance(...)``.
FAULT_TOLERANCE = dict(
    restart_failed_env_runners=True,     # Ray restarts a dead env runner actor ...
    max_num_env_runner_restarts=100,     # ... at most this many times per actor
    delay_between_env_runner_restarts_s=5.0,  # back-off before a crashed actor exits (RLlib: 60)
    env_runner_health_probe_timeout_s=30.0,
    env_runner_restore_timeout_s=120.0,  # longest wait for any env runner to come back
)


class EnvRunnerFailure(RuntimeError):
    """Sampling failed: an env raised inside an env runner, or no env runner came back."""


def _env_name(env_runner) -> str:
    env = getattr(getattr(env_runner, "config", None), "env", None)
    return env if isinstance(env, str) else getattr(env, "__name__", repr(env))


def _catching(fn: Callable) -> Callable:
    def call(env_runner):
        try:
            return True, fn(env_runner)
        except Exception as e:  # noqa: BLE001 - sent to the driver and raised there
            root = e  # RLlib re-raises an env's error as a bare ``RuntimeError from e``
            while root.__cause__ is not None and not str(root):
                root = root.__cause__
            return False, (_env_name(env_runner), getattr(env_runner, "worker_index", "?"),
                           f"{type(root).__name__}: {root}", traceback.format_exc(limit=8))
    return call


def foreach_sampling_env_runner(algo, fn: Callable, *, what: str = "sample") -> List[Any]:
    """``fn(env_runner)`` on every healthy remote env runner (or the local one when there are none).

    Waits for failed runners to come back when none is healthy (bounded, see module docstring);
    raises ``EnvRunnerFailure`` for an exception inside a runner or when none comes back.
    """
    import ray

    group = algo.env_runner_group
    if group.num_remote_workers() <= 0:
        return [fn(group.local_env_runner)]
    cfg = algo.config
    wait_s = float(cfg.env_runner_restore_timeout_s)
    deadline = None
    while True:
        asked = group.num_healthy_remote_workers()
        try:
            out = group.foreach_env_runner(_catching(fn), local_env_runner=False)
        except ray.exceptions.RayActorError as e:  # restart_failed_env_runners=False
            raise EnvRunnerFailure(
                f"an env runner died during {what} and restart_failed_env_runners is False: {e}"
            ) from None
        lost = max(0, asked - len(out))
        algo.metrics.log_value("env_runners_lost_in_iteration", lost, reduce="sum")
        errors = [detail for ok, detail in out if not ok]
        if errors:
            env, idx, msg, tb = errors[0]
            raise EnvRunnerFailure(
                f"environment {env!r} raised in env runner {idx} during {what}: {msg}\n"
                f"(env runner traceback:)\n{tb}")
        if out:
            algo.metrics.log_value("num_healthy_env_runners",
                                   group.num_healthy_remote_workers(), window=1)
            return [res for _, res in out]
        now = time.monotonic()
        deadline = deadline or now + wait_s
        if now > deadline:
            raise EnvRunnerFailure(
                f"all {group.num_remote_workers()} env runners failed during {what} and none came "
                f"back within env_runner_restore_timeout_s={wait_s:g} s "
                f"(restart_failed_env_runners={cfg.restart_failed_env_runners}, "
                f"max_num_env_runner_restarts={cfg.max_num_env_runner_restarts}); see the env "
                "runners' logs for why they died")
        restored = algo.restore_env_runners(group)
        if restored and hasattr(algo, "_make_on_env_runners_recreated_callbacks"):
            algo._make_on_env_runners_recreated_callbacks(
                config=cfg, env_runner_group=group, restored_env_runner_indices=restored)
        if not restored:
            time.sleep(min(1.0, max(0.0, deadline - now)))


def sample_until(algo, make_fn: Callable[[int, int, Sequence], Callable], *, target: int,
                 count: Callable[[Sequence], int], what: str = "sample") -> Tuple[list, list]:
    """Whole episodes from the env runners until ``count(episodes) >= target``.

    ``make_fn(missing, n_runners, episodes_so_far)`` returns the per-runner function
    ``fn(env_runner) -> (episodes, metrics)`` for the next round (``missing`` = target minus what
    was sampled so far, ``n_runners`` = healthy runners, at least 1). Returns
    ``(episodes, env_runner_metrics)``.
    """
    group = algo.env_runner_group
    episodes: list = []
    metrics: list = []
    while True:
        missing = target - count(episodes)
        if missing <= 0 and episodes:
            return episodes, metrics
        n = max(1, group.num_healthy_remote_workers()) if group.num_remote_workers() > 0 else 1
        for eps, met in foreach_sampling_env_runner(algo, make_fn(max(missing, 1), n, episodes),
                                                    what=what):
            episodes.extend(eps)
            metrics.append(met)


def sample_episodes(algo, num_episodes: int, explore=None) -> Tuple[list, list]:
    """``num_episodes`` whole episodes, shared out over the healthy env runners
    (``sample_until`` with ``count=len``); returns ``(episodes, env_runner_metrics)``."""
    kwargs = {} if explore is None else {"explore": explore}

    def make(missing, n_runners, so_far):
        per_runner = max(1, -(-missing // n_runners))
        return lambda r: (r.sample(num_episodes=per_runner, **kwargs), r.get_metrics())

    return sample_until(algo, make, target=num_episodes, count=len)
