"""Env steps per second of DCL next to IPPO at the same train batch size, same run.

    python benchmarks/dcl_throughput.py --batch 1024 --iters 3 --runners 0,2

Env steps are counted by RLlib's ``num_env_steps_sampled_lifetime``. For DCL one RLlib env step is
one *base-env* step (the MCG protocol runs inside ``DCLMultiRLModule``), so the count is base-env
steps, the same unit as IPPO's. (With ``mega_steps=K`` one env step is a mega-step of K base
steps; this script uses K = 1.) Also measured: IPPO playing the staged MCG wrapper, where one base
step takes three RLlib env steps; its rate is reported in base-env steps (RLlib steps / 3).

Every measurement runs in a fresh subprocess so that one algorithm's torch thread setting
(DCL pins torch to 1 thread by default, ``torch_threads``) does not leak into the next one.
Writes ``runs/dcl/throughput.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = [
    ("IPPO", "prisoners_dilemma"),
    ("DCL", "prisoners_dilemma"),
    ("IPPO-in-MCG", "prisoners_dilemma"),
    ("IPPO", "grid_game"),
    ("DCL", "grid_game"),
]


def measure(algo_name, env, runners, batch, iters):
    import ray

    import rllib_coopai  # noqa: F401
    from rllib_coopai.algorithms import get_config_class

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    per_base = 1.0
    if algo_name == "IPPO-in-MCG":
        from rllib_coopai.wrappers.commitment import CommitmentGameRLlibEnv

        cfg = get_config_class("IPPO")().environment(CommitmentGameRLlibEnv,
                                                     env_config={"base_env": env})
        per_base = 3.0
    else:
        cfg = get_config_class(algo_name)().environment(env)
    cfg = cfg.env_runners(num_env_runners=runners).training(
        train_batch_size_per_learner=batch).debugging(seed=0)
    algo = cfg.build_algo()
    try:
        first = algo.train()
        start = first["num_env_steps_sampled_lifetime"]
        t0 = time.perf_counter()
        for _ in range(iters):
            res = algo.train()
        dt = time.perf_counter() - t0
        return (res["num_env_steps_sampled_lifetime"] - start) / dt / per_base
    finally:
        algo.stop()
        ray.shutdown()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--runners", default="0,2")
    p.add_argument("--envs", default="prisoners_dilemma,grid_game")
    p.add_argument("--out", default="runs/dcl")
    p.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        algo, env, runners = args.one.split(":")
        print(json.dumps(measure(algo, env, int(runners), args.batch, args.iters)))
        return
    rows = []
    for algo, env in [c for c in CASES if c[1] in args.envs.split(",")]:
        rates = {}
        for n in [int(r) for r in args.runners.split(",")]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", f"{algo}:{env}:{n}", "--batch", str(args.batch),
                 "--iters", str(args.iters)], capture_output=True, text=True,
                env=dict(os.environ, RAY_AUTH_MODE="disabled"))
            try:
                rates[n] = float(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                print(out.stderr[-2000:])
                rates[n] = float("nan")
        rows.append((algo, env, rates))
        print(algo, env, rates, flush=True)
    os.makedirs(args.out, exist_ok=True)
    ippo = {env: rates for algo, env, rates in rows if algo == "IPPO"}
    lines = ["# DCL throughput (base-env steps / s, sampling + learning, wall clock)", "",
             f"Batch {args.batch} env steps per iteration, {args.iters} timed iterations after one "
             "warm-up, fresh process per cell, 2-core shared machine (numbers are noisy).", "",
             "| algorithm | env | " + " | ".join(f"runners={n}" for n in rows[0][2]) +
             " | vs IPPO |", "|---|---|" + "---|" * (len(rows[0][2]) + 1)]
    for algo, env, rates in rows:
        base = ippo.get(env, {})
        ratio = " / ".join(f"{rates[n] / base[n]:.2f}x" if base.get(n) else "-" for n in rates)
        lines.append(f"| {algo} | {env} | " + " | ".join(f"{r:.0f}" for r in rates.values())
                     + f" | {ratio} |")
    with open(os.path.join(args.out, "throughput.md"), "w") as f:
        f.write("\n".join(lines) + "\n\nCommand: `python benchmarks/dcl_throughput.py "
                + " ".join(argv or sys.argv[1:]) + "`\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
