"""MetaGrad vs the dual-RL designer on Escape Room ER(N, M) (ID thesis §6.4: MetaGrad reaches ~26
in ER(5,2), dual-RL mostly fails), several seeds, equal env-step budgets.

Both are ``IncentiveDesigner`` (``designer="metagrad"`` / ``"rl"``) RLlib algorithms. Curves of
the agents' social welfare (sum of extrinsic rewards, gross) and of the social objective net of
the designer's payments (the thesis' test-time accounting) over env steps. RLlib counts two env
steps per inner ER step (the designer seat's act/pay phases); the x-axis uses RLlib's counter.

Writes ``runs/designer/er<N><M>.md`` / ``.json`` / ``.png`` (``--out``); ``python benchmarks/reproduce.py
--claim metagrad_er52`` summarises them into ``docs/results/`` for ``docs/REPRODUCTION.md``.

Two presets (``--preset``):

* ``fast`` (default): larger learning rates than Table C.1 (agent lr 0.02, designer lr 0.005,
  8 episodes per MetaGrad iteration), the cost in the designer's optimizer (``cost_coeff`` 1,
  ramped in over the first 100 updates: ``cost_warmup_updates``) and the pre-activation bound 3
  (``preactivation_bound``; without it the lever payment saturates at the maximum 2, where the
  sigmoid passes no gradient and the cost never shrinks it), ``--iters`` iterations; dual-RL (d)
  as a PPO designer + PPO agents (lr 3e-4, 400 env steps per iteration) for the same env steps.
  ``--cost-lr X`` switches back to the thesis's separate cost Adam. Writes
  ``er<N><M>.md/.json/.png``.
* ``table_c1``: ID thesis Table C.1 exactly as ``tuned_configs/incentive_designer/
  escape_room_metagrad.yaml`` / ``escape_room_dual_rl.yaml`` give it (MetaGrad: 1 episode per
  update, alpha_theta 9.56e-5, alpha_ID 7.93e-4, alpha_cost 6.03e-5, c_H 0.0166, 64-64 / 64-32
  nets; dual-RL (d): agents' lr 3.41e-4 and c_H 0.386, designer lr 2.47e-3 and c_H 0.488,
  128-64 nets), MetaGrad for ``--minutes`` of wall clock per seed (the thesis trains 100k
  episodes; far fewer fit here), dual-RL for the same env steps. Writes ``er<N><M>_table_c1.*``.

    python benchmarks/designer_escape_room.py --preset fast --seeds 5 --iters 400
    python benchmarks/designer_escape_room.py --preset table_c1 --seeds 5 --minutes 2.5
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402


TABLE_C1_METAGRAD = dict(episodes_per_iteration=1, agent_lr=9.56e-5, designer_lr=7.93e-4,
                         cost_lr=6.03e-5, agent_entropy_coeff=0.0166, agent_hidden=[64, 64],
                         designer_hidden=[64, 32], gamma=0.99)


def curve(designer, n, m, seed, iters, steps_budget=None, preset="fast", seconds=None, **kw):
    import torch

    from rllib_coopai.algorithms.incentive_designer import IncentiveDesignerConfig
    from rllib_coopai.wrappers.designer import DESIGNER_ID

    torch.set_num_threads(1)
    env_config = {"n_agents": n, "min_at_lever": m, "obs_mode": "designer"}
    cfg = (IncentiveDesignerConfig().environment("escape_room", env_config=env_config)
           .env_runners(num_env_runners=0).debugging(seed=seed))
    if designer == "metagrad":
        cfg = cfg.training(designer="metagrad",
                           **(TABLE_C1_METAGRAD if preset == "table_c1" else kw))
    elif preset == "table_c1":  # Table C.1 dual-RL (d) column
        cfg = (cfg.training(designer="rl", incentive_menu=[0.0, 1.1, 2.0], subtract_payments=True,
                            lr=3.41e-4, entropy_coeff=0.386, gamma=0.99,
                            train_batch_size_per_learner=100, minibatch_size=50, num_epochs=1)
               .rl_module(model_config={"fcnet_hiddens": [128, 64]})
               .multi_agent(algorithm_config_overrides_per_module={
                   DESIGNER_ID: {"lr": 2.47e-3, "entropy_coeff": 0.488}}))
    else:
        cfg = cfg.training(designer="rl", lr=3e-4, train_batch_size_per_learner=400,
                           minibatch_size=200, num_epochs=2, entropy_coeff=0.01)
    algo = cfg.build_algo()
    out, t0 = [], time.perf_counter()
    try:
        for _ in range(iters):
            er = algo.train()["env_runners"]
            out.append((float(er["num_env_steps_sampled_lifetime"]),
                        float(er.get("social_welfare", np.nan)),
                        float(er.get("social_objective_net", np.nan))))
            if steps_budget is not None and out[-1][0] >= steps_budget:
                break
            if seconds is not None and time.perf_counter() - t0 >= seconds:
                break
    finally:
        algo.stop()
    return out, time.perf_counter() - t0


def _tail(c, col, k=10):
    return float(np.mean([x[col] for x in c[-k:]]))


def main(argv=None):
    import ray

    import rllib_coopai  # noqa: F401

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--m", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--preset", choices=("fast", "table_c1"), default="fast")
    p.add_argument("--iters", type=int, default=400,
                   help="fast: MetaGrad iterations (8 episodes each); table_c1: an upper bound")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock cap per MetaGrad run (table_c1: the budget)")
    p.add_argument("--agent-lr", type=float, default=0.02)
    p.add_argument("--designer-lr", type=float, default=0.005)
    p.add_argument("--cost-lr", type=float, default=None,
                   help="separate cost Adam lr (the thesis's form); default: cost in the "
                        "designer's optimizer with --cost-coeff")
    p.add_argument("--cost-coeff", type=float, default=1.0)
    p.add_argument("--cost-warmup", type=int, default=100, help="cost_warmup_updates")
    p.add_argument("--preactivation-bound", type=float, default=3.0,
                   help="preactivation_bound (<= 0: off)")
    p.add_argument("--out", default="runs/designer")
    args = p.parse_args(argv)
    if args.preset == "table_c1" and args.minutes is None:
        args.minutes = 2.5
    if args.preset == "table_c1":
        args.iters = max(args.iters, 10 ** 6)
    os.makedirs(args.out, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    optimum_gross = 10 * (args.n - args.m) - args.m      # n-m exit (+10), m pull the lever (-1)
    optimum_net = 10 * (args.n - args.m) - 2 * args.m   # 10(n-m) - m - m(1+eps), eps -> 0
    near_gross, near_net = optimum_gross - 3, optimum_net - 1  # ER(5,2): 25 and 25
    secs = None if args.minutes is None else 60.0 * args.minutes
    res = {"metagrad": [], "rl": [], "args": vars(args)}
    t_start = time.perf_counter()
    for seed in range(args.seeds):
        mg, t_mg = curve("metagrad", args.n, args.m, seed, args.iters, preset=args.preset,
                         seconds=secs, episodes_per_iteration=8, agent_lr=args.agent_lr,
                         designer_lr=args.designer_lr, cost_lr=args.cost_lr,
                         cost_coeff=args.cost_coeff, cost_warmup_updates=args.cost_warmup,
                         preactivation_bound=(args.preactivation_bound
                                              if args.preactivation_bound > 0 else None))
        res["metagrad"].append({"curve": mg, "seconds": t_mg})
        rl, t_rl = curve("rl", args.n, args.m, seed, 10 ** 6, steps_budget=mg[-1][0],
                         preset=args.preset, seconds=None if secs is None else 2 * secs)
        res["rl"].append({"curve": rl, "seconds": t_rl})
        print(f"seed {seed}: MetaGrad SW {_tail(mg, 1):.2f} net {_tail(mg, 2):.2f} "
              f"({len(mg)} it, {int(mg[-1][0])} steps, {t_mg:.0f}s) | dual-RL SW {_tail(rl, 1):.2f} "
              f"net {_tail(rl, 2):.2f} ({int(rl[-1][0])} steps, {t_rl:.0f}s)", flush=True)
    total = time.perf_counter() - t_start
    name = f"er{args.n}{args.m}" + ("_table_c1" if args.preset == "table_c1" else "")
    load = os.getloadavg()
    if args.preset == "fast":
        cost = (f"separate cost Adam lr {args.cost_lr}" if args.cost_lr is not None else
                f"cost weight {args.cost_coeff} in the designer's Adam, ramped in over "
                f"{args.cost_warmup} updates")
        bound = (f"pre-activation bound {args.preactivation_bound}"
                 if args.preactivation_bound > 0 else "no pre-activation bound")
        setting = (f"MetaGrad: {args.iters} iterations x 8 episodes, agent lr {args.agent_lr}, "
                   f"designer lr {args.designer_lr} (larger than Table C.1), {cost}, {bound}; "
                   "dual-RL (d): PPO agents + PPO designer (menu {0, 1.1, 2.0}^3, lr 3e-4, "
                   "entropy 0.01, 400 env steps per iteration)")
    else:
        setting = (f"ID thesis Table C.1 hyperparameters. MetaGrad: 1 episode per update, "
                   f"{args.minutes} min of wall clock per seed; dual-RL (d): agents lr 3.41e-4, "
                   "c_H 0.386, designer lr 2.47e-3, c_H 0.488, 128-64 nets, 100 env steps per "
                   "iteration (the thesis trains 100k episodes)")
    lines = [f"# Incentive designer on ER({args.n},{args.m}): MetaGrad vs dual-RL"
             + (" (Table C.1 hyperparameters)" if args.preset == "table_c1" else ""), "",
             f"Seeds 0-{args.seeds - 1}; {setting}; dual-RL gets at least MetaGrad's env steps. "
             "Values: the sampled episode means each RLlib iteration reports, averaged over the last 10 iterations. "
             f"Optimum: {optimum_gross} gross (sum of env rewards), {optimum_net}+ net of payments "
             f"({optimum_net} - {args.m} eps in the thesis, ID thesis §6.3.1). RLlib counts 2 env steps per ER step (designer seat). "
             f"Wall clock {total / 60:.1f} min on the shared 2-core machine (load average at the "
             f"end {load[0]:.1f}), num_env_runners=0, torch threads 1.", "",
             "| Seed | MetaGrad welfare | MetaGrad net | MetaGrad episodes | dual-RL welfare | "
             "dual-RL net | env steps (RLlib) |",
             "|---|---|---|---|---|---|---|"]
    for s_ in range(args.seeds):
        mg, rl = res["metagrad"][s_]["curve"], res["rl"][s_]["curve"]
        eps = len(mg) * (1 if args.preset == "table_c1" else 8)
        lines.append(f"| {s_} | {_tail(mg, 1):.2f} | {_tail(mg, 2):.2f} | {eps} | "
                     f"{_tail(rl, 1):.2f} | {_tail(rl, 2):.2f} | {int(mg[-1][0])} |")
    n_ok = sum(_tail(r["curve"], 1) >= near_gross for r in res["metagrad"])
    n_rl = sum(_tail(r["curve"], 1) >= near_gross for r in res["rl"])
    net_ok = sum(_tail(r["curve"], 2) >= near_net for r in res["metagrad"])
    net_rl = sum(_tail(r["curve"], 2) >= near_net for r in res["rl"])
    lines += ["", f"Welfare >= {near_gross} (near the optimum {optimum_gross}): MetaGrad "
              f"{n_ok}/{args.seeds} seeds, dual-RL {n_rl}/{args.seeds} seeds.",
              f"Net of payments >= {near_net} (the thesis: ~{optimum_net}): MetaGrad "
              f"{net_ok}/{args.seeds} seeds, dual-RL {net_rl}/{args.seeds} seeds."]
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(res, f)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, col, title in ((axes[0], 1, "social welfare (gross)"), (axes[1], 2, "net of payments")):
        for key, color in (("metagrad", "tab:blue"), ("rl", "tab:red")):
            for i, run in enumerate(res[key]):
                c = np.array(run["curve"])
                ax.plot(c[:, 0], c[:, col], color=color, alpha=0.7,
                        label=("MetaGrad" if key == "metagrad" else "dual-RL") if i == 0 else None)
        ax.axhline(optimum_gross if col == 1 else optimum_net, color="grey", ls="--", lw=0.7)
        ax.set_title(f"ER({args.n},{args.m}) {title}"
                     + (" [Table C.1]" if args.preset == "table_c1" else ""))
        ax.set_xlabel("RLlib env steps (2 per ER step)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{name}.png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
