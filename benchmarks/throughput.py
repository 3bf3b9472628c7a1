"""Env steps per second of every algorithm next to plain IPPO on the same env, in the same run.

For each (algorithm, environment) pair and each number of env runners (default 0 and 2) it builds
the algorithm with the same ``train_batch_size_per_learner``, runs one warm-up iteration, then
times ``--iters`` iterations of ``algo.train()`` (sampling + learning, wall clock) and reports
env steps per second from RLlib's own ``num_env_steps_sampled_lifetime`` counter. It also times
the bare PettingZoo env with random actions (no RLlib) as the ceiling.

Writes ``docs/results/throughput.md`` (table) and ``docs/results/throughput.png`` (bars).

    python benchmarks/throughput.py                       # everything available
    python benchmarks/throughput.py --algos IPPO,DCL --runners 0,2 --iters 3
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

# (algorithm, env, env_config) pairs measured by default; IPPO is added for every env used.
PAIRS = [
    ("DCL", "prisoners_dilemma", {}),
    ("DCL", "grid_game", {}),
    ("LIO", "escape_room", {"n_agents": 2, "min_at_lever": 1}),
    ("LIO", "prisoners_dilemma", {"horizon": 5}),
    ("IncentiveDesigner", "escape_room", {"n_agents": 5, "min_at_lever": 2}),
    ("AMD", "greed_fear", {}),
]
IPPO_ONLY = [
    ("IPPO", "public_goods", {"n_agents": 5}),
    ("IPPO", "coin_game", {}),
    ("IPPO", "cleanup", {"map_size": "7x7"}),
]


def raw_env_rate(env_name, env_config, seconds=2.0):
    """Env steps/s of the bare PettingZoo env with uniformly random actions."""
    from rllib_coopai.envs import make

    env = make(env_name, **env_config)
    env.reset(seed=0)
    spaces = {a: env.action_space(a) for a in env.possible_agents}
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if not env.agents:
            env.reset()
        env.step({a: spaces[a].sample() for a in env.agents})
        steps += 1
    return steps / (time.perf_counter() - t0)


def algo_rate(algo_name, env_name, env_config, runners, batch, iters):
    """``IPPO`` is plain RLlib PPO (its defaults: 30 epochs of minibatch 128 per iteration);
    ``IPPO-1ep`` is the same with one full-batch epoch, i.e. sampling-bound like DCL's default."""
    from rllib_coopai.algorithms import get_config_class

    one_epoch = algo_name == "IPPO-1ep"
    cfg = (
        get_config_class("IPPO" if one_epoch else algo_name)()
        .environment(env_name, env_config=env_config)
        .env_runners(num_env_runners=runners)
        .training(train_batch_size_per_learner=batch)
        .debugging(seed=0)
    )
    if one_epoch:
        cfg.training(num_epochs=1, minibatch_size=batch)
    algo = cfg.build_algo()
    try:
        first = algo.train()  # warm-up (also compiles / spawns)
        start_steps = first["num_env_steps_sampled_lifetime"]
        t0 = time.perf_counter()
        for _ in range(iters):
            res = algo.train()
        dt = time.perf_counter() - t0
        return (res["num_env_steps_sampled_lifetime"] - start_steps) / dt
    finally:
        algo.stop()


def main(argv=None):
    import ray

    import rllib_coopai
    from rllib_coopai.algorithms import available

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algos", default=",".join(available()))
    p.add_argument("--runners", default="0,2")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--iters", type=int, default=2)
    p.add_argument("--out", default="docs/results")
    p.add_argument("--no-ippo-only", action="store_true", help="skip the IPPO-only envs")
    args = p.parse_args(argv)
    algos = [a for a in args.algos.split(",") if a]
    runners = [int(r) for r in args.runners.split(",")]
    ray.init(num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=False)

    pairs = [pr for pr in PAIRS if pr[0] in algos]
    if not args.no_ippo_only and "IPPO" in algos:
        pairs += IPPO_ONLY
    envs = []
    for _, env, cfg in pairs:
        if (env, cfg) not in envs:
            envs.append((env, cfg))

    rows = []
    for env, cfg in envs:
        raw = raw_env_rate(env, cfg)
        todo = ["IPPO", "IPPO-1ep"] + [a for a, e, c in pairs if (e, c) == (env, cfg) and a != "IPPO"]
        for algo in todo:
            rates = {}
            for n in runners:
                try:
                    rates[n] = algo_rate(algo, env, cfg, n, args.batch, args.iters)
                except Exception as err:  # report and keep measuring the rest
                    print(f"[{algo} on {env}] failed: {type(err).__name__}: {err}")
                    rates[n] = float("nan")
            rows.append((algo, env, cfg, raw, rates))
            print(f"{algo:>18} {env:>22} {cfg}  raw={raw:9.0f}  " +
                  "  ".join(f"runners={n}: {r:8.1f}/s" for n, r in rates.items()), flush=True)

    write_report(rows, runners, args)
    ray.shutdown()


def write_report(rows, runners, args):
    os.makedirs(args.out, exist_ok=True)
    ippo = {(env, str(cfg)): rates for algo, env, cfg, _, rates in rows if algo == "IPPO"}
    lines = [
        "# Throughput: env steps per second (sampling + learning, wall clock)",
        "",
        f"Batch {args.batch} env steps per iteration, {args.iters} timed iterations after one warm-up; "
        f"machine: {os.cpu_count()} CPUs. 'raw' = bare PettingZoo env with random actions, no RLlib. "
        "'vs IPPO' = ratio to IPPO (plain RLlib PPO defaults: 30 epochs x minibatch 128) on the same env "
        "with the same runners in the same run; IPPO-1ep = IPPO with one full-batch epoch per "
        "iteration (sampling-bound). Env steps are RLlib's counter: one base-env step for IPPO, DCL, "
        "and LIO; IncentiveDesigner and AMD play through the designer seat, which counts 2 per base-env step (agents' turn + designer's turn).",
        "",
        "| algorithm | env | env_config | raw env | " + " | ".join(f"{n} runners" for n in runners)
        + " | " + " | ".join(f"vs IPPO ({n})" for n in runners) + " |",
        "|---|---|---|---:|" + "---:|" * (2 * len(runners)),
    ]
    for algo, env, cfg, raw, rates in rows:
        base = ippo.get((env, str(cfg)), {})
        ratios = [rates[n] / base[n] if base.get(n) else float("nan") for n in runners]
        lines.append(
            f"| {algo} | {env} | `{cfg}` | {raw:,.0f} | "
            + " | ".join(f"{rates[n]:,.0f}" for n in runners) + " | "
            + " | ".join(f"{r:.2f}" for r in ratios) + " |"
        )
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "throughput.md"), "w") as f:
        f.write(text)
    print(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{a}\n{e}" for a, e, *_ in rows]
        x = np.arange(len(rows))
        width = 0.8 / len(runners)
        fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.9), 4.5))
        for k, n in enumerate(runners):
            ax.bar(x + k * width, [r[4][n] for r in rows], width, label=f"{n} env runners")
        ax.set_xticks(x + width * (len(runners) - 1) / 2)
        ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("env steps / s")
        ax.set_title("Throughput per algorithm and env (higher is better)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "throughput.png"), dpi=120)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
