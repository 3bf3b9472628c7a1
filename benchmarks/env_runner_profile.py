"""Iteration time with the package's env runner next to RLlib's, per algorithm preset.

    python benchmarks/env_runner_profile.py                  # the presets below, 6 blocks each
    python benchmarks/env_runner_profile.py --presets dcl/grid_game_fast --blocks 10

``rllib_coopai.core.env_runner.CoopEnvRunner`` (every config's default) logs RLlib's per-step
sample counters once per ``sample()`` and skips episodes that fall out of the episode-metric windows
before the reduce. For each preset this builds two algorithms in one process, seed 0,
``num_env_runners=0`` (so that every metrics call runs in this process): one with RLlib's
``MultiAgentEnvRunner``, one with the default, trains both for 2 warm-up iterations, then alternates
blocks of 3 timed iterations (``--blocks`` blocks each, the order reversed every other block) and
reports the median iteration time of each, the env runner's ``MetricsLogger.log_value`` calls per
iteration, the share of the timed iterations spent in metrics code (``MetricsClock``: the package's
callbacks, every ``MetricsLogger`` call of env runner, learner and algorithm, ``get_metrics()``), and
both runs' env-step and episode counts (equal where episodes have a fixed length; the two algorithms do not share
random streams, so variable-length episodes differ; ``tests/test_metrics_batched.py`` pins the
equality of the two runners' results on identical episodes). Writes ``runs/perf/env_runner.md``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

PRESETS = ("dcl/prisoners_dilemma", "dcl/prisoners_dilemma_fast", "dcl/grid_game_fast",
           "ippo/prisoners_dilemma", "ippo/grid_game", "lio/escape_room_3_2_fast",
           "incentive_designer/escape_room_metagrad_fast", "incentive_designer/escape_room_dual_rl",
           "amd/prisoners_dilemma_pg", "lola/coin_game_pg", "amtft/ipd",
           "dcl_baselines/mediated_prisoners_dilemma", "dcl_baselines/moca_prisoners_dilemma")
COUNTS = ("num_env_steps_sampled_lifetime", "num_episodes_lifetime")


def _counted(fn, counter):
    def wrapper(*args, **kwargs):
        counter[0] += 1
        return fn(*args, **kwargs)
    return wrapper


LOGGER_METHODS = ("log_value", "log_dict", "aggregate", "reduce")
CALLBACK_METHODS = ("on_episode_created", "on_episode_start", "on_episode_step", "on_episode_end",
                    "on_sample_end", "on_train_result")


class MetricsClock:
    """Seconds spent in metrics code, counting only the outermost timed call.

    Timed: the package's callbacks (env runner and algorithm), every ``MetricsLogger`` call
    (``log_value``, ``log_dict``, ``aggregate``, ``reduce``) of the env runner, the learner and the
    algorithm, and the env runner's ``get_metrics()``. A logger call made inside a callback or inside
    ``get_metrics()`` is part of that call's time, not counted twice.
    """

    def __init__(self):
        self.seconds = 0.0
        self.parts = {}  # seconds per part (callbacks, get_metrics, each logger)
        self._busy = False

    def wrap(self, obj, name, part):
        fn = getattr(obj, name, None)
        if fn is None:
            return

        def timed(*args, **kwargs):
            if self._busy:
                return fn(*args, **kwargs)
            self._busy = True
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t
                self.seconds += dt
                self.parts[part] = self.parts.get(part, 0.0) + dt
                self._busy = False
        setattr(obj, name, timed)

    def instrument(self, algo):
        runner = algo.env_runner
        callbacks = list(getattr(runner, "_callbacks", []) or [])
        algo_callbacks = algo.callbacks if isinstance(algo.callbacks, list) else [algo.callbacks]
        for cb in callbacks + algo_callbacks:
            for name in CALLBACK_METHODS:
                self.wrap(cb, name, "callbacks")
        learner = getattr(algo.learner_group, "_learner", None)
        for part, logger in (("env runner logger", runner.metrics), ("algorithm logger", algo.metrics),
                             ("learner logger", getattr(learner, "metrics", None))):
            for name in LOGGER_METHODS if logger is not None else ():
                self.wrap(logger, name, f"{part}.{name}")
        self.wrap(runner, "get_metrics", "get_metrics")


def profile(preset, blocks, per_block=3):
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from rllib_coopai.presets import preset_config

    algos = {}
    for name, cls in (("RLlib", MultiAgentEnvRunner), ("package", None)):
        cfg = preset_config(preset, seed=0)
        cfg.env_runners(num_env_runners=0)  # one process: every metrics call is timed here
        if cls is not None:
            cfg.env_runners(env_runner_cls=cls)
        algos[name] = cfg.build_algo()
    calls = {}
    for name, algo in algos.items():  # count the env runner's log_value calls
        calls[name] = [0]
        logger = algo.env_runner.metrics
        logger.log_value = _counted(logger.log_value, calls[name])
    clocks = {name: MetricsClock() for name in algos}
    for name, algo in algos.items():
        clocks[name].instrument(algo)
    try:
        times = {name: [] for name in algos}
        last = {}
        for algo in algos.values():
            for _ in range(2):
                algo.train()
        metric_s = {name: [] for name in algos}
        for b in range(blocks):
            order = list(algos.items())
            for name, algo in (order if b % 2 == 0 else order[::-1]):  # ABBA: no order effect
                for _ in range(per_block):
                    m0 = clocks[name].seconds
                    t = time.perf_counter()
                    res = algo.train()
                    times[name].append(time.perf_counter() - t)
                    metric_s[name].append(clocks[name].seconds - m0)
                last[name] = tuple(res["env_runners"].get(k) for k in COUNTS)
        per_it = {name: c[0] / (2 + blocks * per_block) for name, c in calls.items()}
        share = {name: sum(metric_s[name]) / sum(times[name]) for name in algos}
        return {name: statistics.median(ts) for name, ts in times.items()}, last, per_it, share
    finally:
        for algo in algos.values():
            algo.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated tuned_configs names")
    p.add_argument("--blocks", type=int, default=6)
    p.add_argument("--out", default="runs/perf/env_runner.md")
    args = p.parse_args()

    import ray
    import torch

    import rllib_coopai  # noqa: F401

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = ["| preset | iteration, RLlib's MultiAgentEnvRunner | iteration, CoopEnvRunner | change | "
            "log_value calls / iteration (RLlib -> ours) | metrics share of the iteration (RLlib -> ours) | "
            "env steps, episodes (RLlib / ours) |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for preset in args.presets.split(","):
        med, counts, calls, share = profile(preset, args.blocks)
        change = (med["package"] / med["RLlib"] - 1) * 100
        both = " / ".join("{:.0f}, {:.0f}".format(*counts[k]) for k in ("RLlib", "package"))
        rows.append(f"| `{preset}` | {med['RLlib'] * 1e3:.1f} ms | {med['package'] * 1e3:.1f} ms | "
                    f"{change:+.1f} % | {calls['RLlib']:,.0f} -> {calls['package']:,.0f} | "
                    f"{share['RLlib'] * 100:.1f} -> {share['package'] * 100:.1f} % | {both} |")
        print(rows[-1], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
