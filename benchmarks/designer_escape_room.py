"""MetaGrad vs the dual-RL designer on Escape Room ER(N, M) (lio_id.md §6.2: MetaGrad reaches ~26
in ER(5,2), dual-RL mostly fails), several seeds, equal env-step budgets.

Both are ``IncentiveDesigner`` (``designer="metagrad"`` / ``"rl"``) RLlib algorithms. Curves of
the agents' social welfare (sum of extrinsic rewards, gross) and of the social objective net of
the designer's payments (the thesis' test-time accounting) over env steps. RLlib counts two env
steps per inner ER step (the designer seat's act/pay phases); the x-axis uses RLlib's counter.

Writes ``docs/results/designer/er<N><M>.md`` / ``.json`` / ``.png``.

    python benchmarks/designer_escape_room.py --seeds 3 --iters 100
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402


def curve(designer, n, m, seed, iters, steps_budget=None, **kw):
    from rllib_coopai.algorithms.incentive_designer import IncentiveDesignerConfig

    env_config = {"n_agents": n, "min_at_lever": m, "obs_mode": "designer"}
    cfg = (IncentiveDesignerConfig().environment("escape_room", env_config=env_config)
           .env_runners(num_env_runners=0).debugging(seed=seed))
    if designer == "metagrad":
        cfg = cfg.training(designer="metagrad", **kw)
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
    finally:
        algo.stop()
    return out, time.perf_counter() - t0


def main(argv=None):
    import ray

    import rllib_coopai  # noqa: F401

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--m", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--iters", type=int, default=100, help="MetaGrad iterations (8 episodes each)")
    p.add_argument("--agent-lr", type=float, default=0.02)
    p.add_argument("--designer-lr", type=float, default=0.005)
    p.add_argument("--cost-lr", type=float, default=1e-4)
    p.add_argument("--out", default="docs/results/designer")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    optimum_net = 10 * (args.n - args.m) - 2 * args.m   # 10(n-m) - m - m(1+eps), eps -> 0
    res = {"metagrad": [], "rl": []}
    for seed in range(args.seeds):
        mg, t_mg = curve("metagrad", args.n, args.m, seed, args.iters, episodes_per_iteration=8,
                         agent_lr=args.agent_lr, designer_lr=args.designer_lr, cost_lr=args.cost_lr)
        res["metagrad"].append({"curve": mg, "seconds": t_mg})
        rl, t_rl = curve("rl", args.n, args.m, seed, 10 ** 6, steps_budget=mg[-1][0])
        res["rl"].append({"curve": rl, "seconds": t_rl})
        print(f"seed {seed}: MetaGrad SW {np.mean([c[1] for c in mg[-10:]]):.2f} "
              f"net {np.mean([c[2] for c in mg[-10:]]):.2f} ({t_mg:.0f}s) | dual-RL SW "
              f"{np.mean([c[1] for c in rl[-10:]]):.2f} net {np.mean([c[2] for c in rl[-10:]]):.2f} "
              f"({t_rl:.0f}s)", flush=True)
    name = f"er{args.n}{args.m}"
    lines = [f"# Incentive designer on ER({args.n},{args.m}): MetaGrad vs dual-RL", "",
             f"{args.seeds} seeds; MetaGrad: {args.iters} iterations x 8 episodes, agent lr "
             f"{args.agent_lr}, designer lr {args.designer_lr}, cost lr {args.cost_lr}; dual-RL (d): "
             "PPO agents + PPO designer (menu {0, 1.1, 2.0}^3, 400 env steps per iteration), at least the same env-step budget. Mean over the "
             "last 10 iterations. Optimum: 28 gross (sum of env rewards), "
             f"{optimum_net}+ net of payments (26 - 2 eps in the thesis).", "",
             "| Seed | MetaGrad welfare | MetaGrad net | dual-RL welfare | dual-RL net | env steps |",
             "|---|---|---|---|---|---|"]
    for s in range(args.seeds):
        mg, rl = res["metagrad"][s]["curve"], res["rl"][s]["curve"]
        lines.append(f"| {s} | {np.mean([c[1] for c in mg[-10:]]):.2f} | "
                     f"{np.mean([c[2] for c in mg[-10:]]):.2f} | {np.mean([c[1] for c in rl[-10:]]):.2f} | "
                     f"{np.mean([c[2] for c in rl[-10:]]):.2f} | {int(mg[-1][0])} |")
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
        ax.axhline(28 if col == 1 else optimum_net, color="grey", ls="--", lw=0.7)
        ax.set_title(f"ER({args.n},{args.m}) {title}")
        ax.set_xlabel("RLlib env steps (2 per ER step)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{name}.png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
