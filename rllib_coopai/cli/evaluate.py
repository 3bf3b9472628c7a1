"""``rllib evaluate CHECKPOINT``: roll out a trained checkpoint, print its metrics.

The algorithm is rebuilt from the checkpoint with its own config, made local (no remote env
runners or learners, no GPU needed), and its local EnvRunner samples ``--episodes`` whole episodes
(greedy actions unless ``--explore``). The metrics are the ones training logs (the package's
callbacks: per-agent returns, social welfare, cooperation rate, agreement rate, incentives, ...).
``--render`` prints the env's text rendering after every step (envs of this package: ``ansi``).
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Dict, Optional

from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.progress import cooperation_metrics

_CTOR_FILE = "class_and_ctor_args.pkl"


def find_checkpoint(path: str) -> str:
    """``path`` if it is a checkpoint, else the newest checkpoint below it (trial or run dir)."""
    if not os.path.exists(path):
        raise CLIError(f"checkpoint {path!r} does not exist.")
    path = os.path.abspath(path)
    if os.path.isfile(os.path.join(path, _CTOR_FILE)):
        return path
    found = []
    for root, dirs, files in os.walk(path):
        if _CTOR_FILE in files and os.path.basename(root).startswith("checkpoint_"):
            found.append(root)
            dirs[:] = []
    if not found:
        raise CLIError(f"no RLlib checkpoint in {path!r} (expected a checkpoint_NNNNNN dir with "
                       f"{_CTOR_FILE}, or a trial/experiment dir that holds one).")
    return max(found, key=lambda p: (os.path.getmtime(os.path.join(p, _CTOR_FILE)), p))


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
        from rllib_coopai import envs

        if config.env in envs.names():
            config.environment(env_config={**(config.env_config or {}), "render_mode": "ansi"})
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
                        explore: bool = False, seed: Optional[int] = None) -> Dict[str, float]:
    """Roll out ``episodes`` episodes of checkpoint ``path``; print and return the metrics."""
    import ray

    checkpoint = find_checkpoint(path)
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, num_cpus=1)
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
