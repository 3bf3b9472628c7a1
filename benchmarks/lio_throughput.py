"""Env steps per second of LIO (both schedules) and the independent-PG baseline next to IPPO,
on the same env in the same run (ER(2,1) by default). Writes runs/lio/throughput_<env>_runners<N>.json.

    python benchmarks/lio_throughput.py [--env escape_room] [--seconds 30] [--runners 0] [--num-envs 1]

Each algorithm is built from ``get_config_class(name)().environment(env, env_config=...)`` plus
``num_env_runners`` and ``num_envs_per_env_runner`` (``--num-envs``: vectorised EnvRunners, which
also batch LIO's "incentives given" observation connector over the episodes); LIO uses
``episodes_per_iteration=16``. Throughput = env steps sampled
(``num_env_steps_sampled_lifetime``) / wall-clock seconds of ``train()`` after one warm-up call.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "runs", "lio")


def measure(name, env, env_config, runners, seconds, training=None, num_envs=1):
    from rllib_coopai.algorithms import get_config_class

    cfg = get_config_class(name)().environment(env, env_config=env_config).env_runners(
        num_env_runners=runners, num_envs_per_env_runner=num_envs)
    if training:
        cfg = cfg.training(**training)
    algo = cfg.build_algo()
    try:
        res = algo.train()  # warm-up
        s0 = res["env_runners"]["num_env_steps_sampled_lifetime"]
        t0 = time.time()
        iters = 0
        while time.time() - t0 < seconds:
            res = algo.train()
            iters += 1
        dt = time.time() - t0
        steps = res["env_runners"]["num_env_steps_sampled_lifetime"] - s0
    finally:
        algo.stop()
    return {"algorithm": name, "training": training or {}, "num_envs_per_env_runner": num_envs,
            "iterations": iters, "seconds": dt, "env_steps": steps, "env_steps_per_s": steps / dt}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="escape_room")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--runners", type=int, default=0)
    p.add_argument("--num-envs", type=int, nargs="+", default=[1],
                   help="num_envs_per_env_runner; several values measure every algorithm at each")
    args = p.parse_args()
    torch.set_num_threads(1)
    import ray

    import rllib_coopai  # noqa: F401

    env_config = {"n_agents": 2, "min_at_lever": 1} if args.env == "escape_room" else {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    for k in args.num_envs:
        rows += [
            measure("IPPO", args.env, env_config, args.runners, args.seconds, num_envs=k),
            measure("LIO", args.env, env_config, args.runners, args.seconds, {"episodes_per_iteration": 16}, k),
            measure("LIO", args.env, env_config, args.runners, args.seconds,
                    {"episodes_per_iteration": 16, "schedule": "one_rollout"}, k),
            measure("LIO", args.env, env_config, args.runners, args.seconds,
                    {"episodes_per_iteration": 16, "incentives": False}, k),
        ]
    ray.shutdown()
    for r in rows:
        print(f"{r['algorithm']:5s} envs/runner {r['num_envs_per_env_runner']:2d} {json.dumps(r['training']):60s} "
              f"{r['env_steps_per_s']:8.1f} env steps/s")
    os.makedirs(OUT, exist_ok=True)
    suffix = "" if args.num_envs == [1] else "_envs" + "-".join(map(str, args.num_envs))
    with open(os.path.join(OUT, f"throughput_{args.env}_runners{args.runners}{suffix}.json"), "w") as f:
        json.dump({"env": args.env, "env_config": env_config, "num_env_runners": args.runners, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
