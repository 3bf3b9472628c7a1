"""``rllib evaluate CHECKPOINT``: roll out a trained checkpoint, print its metrics.

The algorithm is rebuilt from the checkpoint with its own config, made local (no remote env
runners or learners, no GPU needed), and its local EnvRunner samples ``--episodes`` whole episodes
(greedy actions unless ``--explore``). The metrics are the ones training logs (the package's
callbacks: per-agent returns, social welfare, cooperation rate, agreement rate, incentives, ...).
``--render`` prints the env's text rendering after every step: envs that accept
``render_mode="ansi"`` (all of this package's) print their frames, ``render_mode="human"`` envs
draw or print themselves.

Given an experiment dir, the trial is the best one by the metric ``rllib train``'s summary used
(``--trial ID`` / ``--metric NAME`` choose otherwise); a checkpoint dir is evaluated as is.
"""
from __future__ import annotations

import json
import os
import pickle
from typing import Any, Dict, List, Optional

from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.progress import cooperation_metrics

_CTOR_FILE = "class_and_ctor_args.pkl"


def _newest_checkpoint(path: str) -> Optional[str]:
    found = []
    for root, dirs, files in os.walk(path):
        if _CTOR_FILE in files and os.path.basename(root).startswith("checkpoint_"):
            found.append(root)
            dirs[:] = []
    if not found:
        return None
    return max(found, key=lambda p: (os.path.getmtime(os.path.join(p, _CTOR_FILE)), p))


def _trial_dirs(path: str) -> List[str]:
    """Trial dirs (those with Tune's ``result.json``) at or below ``path``."""
    out = []
    for root, dirs, files in os.walk(path):
        if "result.json" in files:
            out.append(root)
            dirs[:] = []
    return sorted(out)


def _last_result(trial_dir: str) -> Dict[str, Any]:
    last = None
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    last = line
        return json.loads(last) if last else {}
    except (OSError, ValueError):
        return {}


def find_checkpoint(path: str, trial: Optional[str] = None, metric: Optional[str] = None,
                    verbose: bool = True) -> str:
    """The checkpoint to evaluate for ``path``.

    ``path`` is a checkpoint (used as is), a trial dir or an experiment dir. In an experiment dir
    the trial is the best one by the metric ``rllib train``'s summary ranks by (social welfare if
    logged, else the mean episode return, on each trial's last result; ``metric`` overrides it),
    or the one whose directory name contains ``trial`` (a trial id such as ``a1b2c_00001``). Its
    newest checkpoint is returned.
    """
    from rllib_coopai.cli.progress import pick_metric
    from rllib_coopai.cli.train import _metric

    if not os.path.exists(path):
        raise CLIError(f"checkpoint {path!r} does not exist.")
    path = os.path.abspath(path)
    if os.path.isfile(os.path.join(path, _CTOR_FILE)):
        return path
    trials = [t for t in _trial_dirs(path) if _newest_checkpoint(t)]
    if trial is not None:
        chosen = [t for t in trials if trial in os.path.basename(t)]
        if len(chosen) != 1:
            names = ", ".join(os.path.basename(t) for t in trials) or "none with a checkpoint"
            raise CLIError(f"--trial {trial!r} matches {len(chosen)} trial(s) with a checkpoint in "
                           f"{path!r}; trials: {names}.")
        trials = chosen
    if len(trials) > 1:
        results = {t: _last_result(t) for t in trials}
        with_results = [t for t in trials if results[t]] or trials
        name = metric or pick_metric(results[with_results[0]])[0]
        best = max(with_results, key=lambda t: _metric(results[t], name))
        if verbose:
            value = _metric(results[best], name)
            print(f"Best of {len(trials)} trials by {name} (last result {value:.4g}): "
                  f"{os.path.basename(best)} (choose another with --trial)", flush=True)
        trials = [best]
    found = _newest_checkpoint(trials[0] if trials else path)
    if found is None:
        raise CLIError(f"no RLlib checkpoint in {path!r} (expected a checkpoint_NNNNNN dir with "
                       f"{_CTOR_FILE}, or a trial/experiment dir that holds one).")
    return found


def _render_env_name(env_name):
    """Register ``env_name`` wrapped so that every reset/step prints ``env.render()``."""
    from ray.tune.registry import register_env

    from rllib_coopai.algorithms.common import env_creator_for

    base = env_creator_for(env_name)

    def creator(ctx):
        env = base(ctx)
        reset, step = env.reset, env.step
        counter = {"t": 0}

        def show(title):
            frame = env.render()
            if frame is not None:
                print(f"--- {title}\n{frame}" if isinstance(frame, str) else f"--- {title}: {frame}",
                      flush=True)

        def reset_(*a, **k):
            out = reset(*a, **k)
            counter["t"] = 0
            show("reset")
            return out

        def step_(action):
            out = step(action)
            counter["t"] += 1
            acts = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in action.items()}
            rews = {k: round(float(v), 4) for k, v in out[1].items()}
            print(f"actions: {acts}  rewards: {rews}", flush=True)
            show(f"step {counter['t']}")
            return out

        env.reset, env.step = reset_, step_
        return env

    name = f"rllib_coopai_render::{env_name}"
    register_env(name, creator)
    return name


def _render_mode(env_name: str, env_config: dict) -> Optional[str]:
    """``"ansi"`` (text frames) or ``"human"`` (the env draws or prints itself): the first one
    the env accepts as ``render_mode`` keyword; None if it takes neither (or sets it itself)."""
    from ray.rllib.env.env_context import EnvContext

    from rllib_coopai.algorithms.common import env_creator_for

    if "render_mode" in env_config:
        return env_config["render_mode"]
    env_config = {k: v for k, v in env_config.items() if k != "designer_seat"}
    try:
        creator = env_creator_for(env_name.split("__designer_seat")[0])
    except ValueError:
        return None
    for mode in ("ansi", "human"):
        try:
            env = creator(EnvContext({**env_config, "render_mode": mode}, worker_index=0))
        except Exception:  # noqa: BLE001 - this mode is not accepted: try the next
            continue
        try:
            env.close()
        except Exception:  # noqa: BLE001
            pass
        return mode
    return None


def load_local_algorithm(checkpoint: str, *, render: bool = False, explore: bool = False,
                         seed: Optional[int] = None):
    """The checkpoint's algorithm, rebuilt in this process (num_env_runners=0, num_learners=0)."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    with open(os.path.join(checkpoint, _CTOR_FILE), "rb") as f:
        ctor = pickle.load(f)
    algo_cls = ctor["class"]
    state = ctor["ctor_args_and_kwargs"][0]
    state = state[0] if isinstance(state, (list, tuple)) else state
    config = AlgorithmConfig.from_state(state) if isinstance(state, dict) else state
    config = config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0, num_envs_per_env_runner=1, explore=explore)
    config.learners(num_learners=0, num_gpus_per_learner=0)
    config.evaluation(evaluation_interval=None, evaluation_num_env_runners=0)
    if seed is not None:
        config.debugging(seed=seed)
    if render and isinstance(config.env, str):
        mode = _render_mode(config.env, dict(config.env_config or {}))
        if mode is not None:
            config.environment(env_config={**(config.env_config or {}), "render_mode": mode})
        config.environment(env=_render_env_name(config.env))
    return algo_cls.from_checkpoint(checkpoint, config=config)


def _plain(obj):
    """EnvRunner metrics hold ``Stats`` objects in Ray 2.60: reduce them to plain numbers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if hasattr(obj, "peek"):
        try:
            return obj.peek()
        except Exception:  # noqa: BLE001 - a stat that cannot be reduced is dropped
            return None
    return obj


def rollout(algo, episodes: int, explore: bool = False) -> Dict[str, Any]:
    runner = algo.env_runner
    if runner is None:
        raise RuntimeError("the rebuilt algorithm has no local EnvRunner")
    eps = runner.sample(num_episodes=episodes, explore=explore, force_reset=True)
    done = [e for e in eps if e.is_done]
    metrics = _plain(runner.get_metrics())
    return {"episodes": done, "metrics": metrics}


def evaluate_checkpoint(path: str, *, episodes: int = 10, render: bool = False,
                        explore: bool = False, seed: Optional[int] = None,
                        trial: Optional[str] = None, metric: Optional[str] = None
                        ) -> Dict[str, float]:
    """Roll out ``episodes`` episodes of checkpoint ``path`` (see :func:`find_checkpoint` for
    experiment and trial dirs, ``trial`` and ``metric``); print and return the metrics."""
    import ray

    checkpoint = find_checkpoint(path, trial=trial, metric=metric)
    if not ray.is_initialized():
        # a new local Ray (ray.init() alone would join another Ray running on this machine)
        ray.init(address="local", include_dashboard=False, log_to_driver=False, num_cpus=1)
    print(f"Evaluating {checkpoint} over {episodes} episode(s) "
          f"({'sampled' if explore else 'greedy'} actions)", flush=True)
    algo = load_local_algorithm(checkpoint, render=render, explore=explore, seed=seed)
    try:
        out = rollout(algo, episodes, explore=explore)
    finally:
        algo.stop()
    eps = out["episodes"]
    lengths = [len(e) for e in eps]
    result = {"env_runners": out["metrics"]}
    metrics = cooperation_metrics(result)
    env = algo.config.env
    env = env.split("::")[-1] if isinstance(env, str) else env
    print(f"  algorithm:       {type(algo).__name__} on {env!r}")
    print(f"  episodes:        {len(eps)} (mean length {sum(lengths) / max(len(lengths), 1):.2f})")
    for name, value in metrics.items():
        print(f"  {name + ':':<40} {value:.4f}")
    return metrics
