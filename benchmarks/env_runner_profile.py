"""Iteration time with the package's env runner next to RLlib's, per algorithm preset.

    python benchmarks/env_runner_profile.py                  # the presets below, 6 blocks each
    python benchmarks/env_runner_profile.py --presets dcl/grid_game_fast --blocks 10

``rllib_coopai.core.env_runner.CoopEnvRunner`` (every config's default) logs RLlib's per-step
sample counters once per ``sample()`` and skips episodes that fall out of the episode-metric windows
before the reduce. For each preset this builds two algorithms in one process, seed 0,
``num_env_runners=0`` as the preset has it: one with RLlib's ``MultiAgentEnvRunner``, one with the
default, trains both for 2 warm-up iterations, then alternates blocks of 3 timed iterations
(``--blocks`` blocks each, the order reversed every other block) and reports the median iteration
time of each, the env runner's ``MetricsLogger.log_value`` calls per iteration, and both runs'
env-step and episode counts (equal where episodes have a fixed length; the two algorithms do not share
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
           "amd/prisoners_dilemma_pg")
COUNTS = ("num_env_steps_sampled_lifetime", "num_episodes_lifetime")


def _counted(fn, counter):
    def wrapper(*args, **kwargs):
        counter[0] += 1
        return fn(*args, **kwargs)
    return wrapper


def profile(preset, blocks, per_block=3):
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from rllib_coopai.presets import preset_config

    algos = {}
    for name, cls in (("RLlib", MultiAgentEnvRunner), ("package", None)):
        cfg = preset_config(preset, seed=0)
        if cls is not None:
            cfg.env_runners(env_runner_cls=cls)
        algos[name] = cfg.build_algo()
    calls = {}
    for name, algo in algos.items():  # count the env runner's log_value calls
        calls[name] = [0]
        logger = algo.env_runner.metrics
        logger.log_value = _counted(logger.log_value, calls[name])
    try:
        times = {name: [] for name in algos}
        last = {}
        for algo in algos.values():
            for _ in range(2):
                algo.train()
        for b in range(blocks):
            order = list(algos.items())
            for name, algo in (order if b % 2 == 0 else order[::-1]):  # ABBA: no order effect
                for _ in range(per_block):
                    t = time.perf_counter()
                    res = algo.train()
                    times[name].append(time.perf_counter() - t)
                last[name] = tuple(res["env_runners"].get(k) for k in COUNTS)
        per_it = {name: c[0] / (2 + blocks * per_block) for name, c in calls.items()}
        return {name: statistics.median(ts) for name, ts in times.items()}, last, per_it
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
            "log_value calls / iteration (RLlib -> ours) | env steps, episodes (RLlib / ours) |",
            "|---|---:|---:|---:|---:|---|"]
    for preset in args.presets.split(","):
        med, counts, calls = profile(preset, args.blocks)
        change = (med["package"] / med["RLlib"] - 1) * 100
        both = " / ".join("{:.0f}, {:.0f}".format(*counts[k]) for k in ("RLlib", "package"))
        rows.append(f"| `{preset}` | {med['RLlib'] * 1e3:.1f} ms | {med['package'] * 1e3:.1f} ms | "
                    f"{change:+.1f} % | {calls['RLlib']:,.0f} -> {calls['package']:,.0f} | {both} |")
        print(rows[-1], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
