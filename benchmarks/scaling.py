"""Env steps/s of each algorithm with 1, 2 and 4 env runners on a simulated multi-node cluster.

Starts one ``ray.cluster_utils.Cluster``: a head node (driver and learner) plus one worker node per
env runner, each with one CPU and one ``env_runner_slot``; every env runner asks for a slot, so
each runs on its own node. For each algorithm (settings of ``gpu_check.ALGO_CONFIGS``) and each
runner count it times ``--iters`` iterations after one warm-up and reports env steps/s and the
efficiency per added runner, ``rate(n) / (n * rate(1))`` (1.0 = perfectly linear), and where the
iteration's time goes: the sampling rate (env steps per second of RLlib's sampling timer) and the
learner's share of the iteration, which bounds what more runners can give. Writes the
table to ``--out`` (default ``docs/scaling.md``, replacing the section between its markers).

    python benchmarks/scaling.py                          # all algorithms, 1/2/4 runners
    python benchmarks/scaling.py --algos IPPO,DCL --runners 1,2 --iters 2

The simulated nodes share this machine's cores: on a 2-core machine 4 runners compete for 2 cores
with the driver and the learner, so the figures there show that nothing serialises (the rate
does not fall), not how a real cluster scales.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpu_check import ALGOS, algo_config, timed_training  # noqa: E402

BEGIN, END = "<!-- scaling.py begin -->", "<!-- scaling.py end -->"


def main(argv=None):
    import ray
    from ray.cluster_utils import Cluster

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algos", default=",".join(ALGOS))
    p.add_argument("--runners", default="1,2,4")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--out", default="docs/scaling.md")
    args = p.parse_args(argv)
    algos = [a for a in args.algos.split(",") if a]
    counts = [int(n) for n in args.runners.split(",")]

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    ray._common.utils.reset_ray_address()  # others' bare ray.init() must not join this cluster
    for _ in range(max(counts)):
        cluster.add_node(num_cpus=1, resources={"env_runner_slot": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    import rllib_coopai

    rllib_coopai.register_all()
    rows = []
    try:
        for name in algos:
            rates = {}
            for n in counts:
                algo = algo_config(name, n, 0, runner_resources={"env_runner_slot": 1}).build_algo()
                try:
                    nodes = set(algo.env_runner_group.foreach_env_runner(
                        lambda w: ray.get_runtime_context().get_node_id(), local_env_runner=False))
                    assert len(nodes) == n, f"{n} runners on {len(nodes)} nodes"
                    rates[n] = timed_training(algo, args.iters)
                finally:
                    algo.stop()
                t = rates[n]
                print(f"{name:>18}  {n} runners ({len(nodes)} nodes): {t.rate:8.0f} env steps/s, "
                      f"sampling {t.steps_per_iter / t.sample_s:8.0f} steps/s, "
                      f"learner {t.learn_s:.2f} s/iter", flush=True)
            rows.append((name, rates))
    finally:
        ray.shutdown()
        cluster.shutdown()
    write(rows, counts, args)


def write(rows, counts, args):
    lines = [
        BEGIN,
        f"Command: `python benchmarks/scaling.py --algos {args.algos} --runners {args.runners} "
        f"--iters {args.iters}` on {os.cpu_count()} CPU cores; one simulated node per env runner "
        "(1 CPU, 1 `env_runner_slot` each), learner on the head node. Efficiency = "
        "rate(n) / (n x rate(1)).",
        "",
        "| algorithm | " + " | ".join(f"{n} runners (steps/s)" for n in counts) + " | "
        + " | ".join(f"efficiency {n}" for n in counts if n != counts[0]) + " | "
        + " | ".join(f"sampling only, {n} runners" for n in counts) + " | learner share, "
        + f"{counts[-1]} runners |",
        "|---|" + "---:|" * (3 * len(counts)),
    ]
    for name, rates in rows:
        per_runner = rates[counts[0]].rate / counts[0]
        last = rates[counts[-1]]
        wall = last.steps_per_iter / last.rate
        lines.append(f"| {name} | " + " | ".join(f"{rates[n].rate:,.0f}" for n in counts) + " | "
                     + " | ".join(f"{rates[n].rate / (n * per_runner):.2f}" for n in counts
                                  if n != counts[0]) + " | "
                     + " | ".join(f"{rates[n].steps_per_iter / rates[n].sample_s:,.0f}" for n in counts)
                     + f" | {last.learn_s / wall:.0%} |")
    lines.append(END)
    table = "\n".join(lines)
    print(table)
    text = open(args.out).read() if os.path.exists(args.out) else "# Scaling out\n\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: table, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
