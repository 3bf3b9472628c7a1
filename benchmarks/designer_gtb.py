"""Tax designers on Gather-Trade-Build: free market vs US-federal vs MetaGrad vs dual-RL
(ID thesis §6.4.1, §6.3.1), objective ``sum_t prod_t * eq_t`` per episode, equal wall-time budgets.

* ``metagrad``: ``IncentiveDesigner(designer="metagrad", incentive_output="tax_brackets")``: PG
  agents (plain SGD), the designer's 7 sigmoid rates trained through the torch replay of the tax
  chain, r_scalar 1e-2.
* ``free_market`` / ``us_federal``: the *same* agent learner (IncentiveDesigner's MetaGrad
  learner, same agent lr / entropy / nets, one episode per update) under fixed env rates
  (``tax_rates="free_market"`` / ``"us_federal"``). The designer seat is there but pays per agent
  within ``[0, 1e-9]`` coin-utility (negligible) and sets no rates, so only the fixed rates act:
  the baselines differ from MetaGrad only in who sets the rates.
* ``ippo_us_federal``: the thesis' US-federal baseline learner (PPO agents, Table C.4 US-federal
  column) under fixed US-federal rates, no seat; also the throughput reference (GTB steps/s).
* ``dual_rl``: ``designer="rl"``: PPO agents and a PPO planner with the factored 7 x 21 rates,
  the marginal prod x eq reward and the max-rate cap annealed 0.1 -> 1 (over a shortened
  ``--cap-episodes``; the thesis uses 8000 episodes).

Every run gets ``--minutes`` of wall time (1 seed each by default) with ``num_env_runners=0`` and
one torch thread. Writes ``runs/designer/gtb.json`` / ``.png`` (``--out``); ``python benchmarks/reproduce.py
--claim metagrad_gtb`` summarises them into ``docs/results/`` for ``docs/REPRODUCTION.md``.

    python benchmarks/designer_gtb.py --minutes 7 --methods free_market us_federal metagrad dual_rl
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

GTB = {"horizon": 100, "tax_period": 10}
AGENT = dict(agent_lr=3.3e-3, agent_entropy_coeff=0.184, agent_hidden=[128, 128],
             designer_hidden=[256, 256], episodes_per_iteration=1)


def config(method: str, seed: int, cap_episodes: int):
    from rllib_coopai.algorithms.incentive_designer import IncentiveDesignerConfig
    from rllib_coopai.metrics.designer import DesignerMetricsCallback
    from rllib_coopai.algorithms.ippo import IPPOConfig

    env_config = dict(GTB)
    if method == "ippo_us_federal":
        env_config["tax_rates"] = "us_federal"
        return (IPPOConfig().environment("gather_trade_build", env_config=env_config)
                .env_runners(num_env_runners=0).debugging(seed=seed)
                .callbacks(DesignerMetricsCallback)
                .training(lr=1.39e-4, entropy_coeff=0.253, clip_param=0.166, lambda_=0.98,
                          grad_clip=10.0, gamma=0.99, train_batch_size_per_learner=1000,
                          minibatch_size=200, num_epochs=1)
                .rl_module(model_config={"fcnet_hiddens": [128, 128]}))
    common = dict(social_objective="productivity_x_equality")
    if method in ("free_market", "us_federal"):
        env_config["tax_rates"] = method
        training = dict(incentive_output="per_agent", incentive_low=0.0, max_incentive=1e-9,
                        cost_lr=None, cost_coeff=0.0, designer_lr=1e-5, **AGENT)
    elif method == "metagrad":
        training = dict(incentive_output="tax_brackets", designer_lr=1e-3, **AGENT)
    elif method == "dual_rl":
        training = dict(designer="rl", incentive_output="tax_brackets", tax_cap_start=0.1,
                        tax_cap_anneal_episodes=cap_episodes, lr=3.92e-4, entropy_coeff=0.282,
                        clip_param=0.0201, lambda_=0.98, grad_clip=10.0,
                        train_batch_size_per_learner=2000, minibatch_size=200, num_epochs=1)
    else:
        raise ValueError(f"unknown method {method!r}")
    return (IncentiveDesignerConfig().environment("gather_trade_build", env_config=env_config)
            .env_runners(num_env_runners=0).debugging(seed=seed).training(**common, **training))


def run(method: str, seed: int, minutes: float, cap_episodes: int):
    algo = config(method, seed, cap_episodes).build_algo()
    rows, t0 = [], time.perf_counter()
    try:
        while time.perf_counter() - t0 < 60.0 * minutes:
            res = algo.train()
            er = res["env_runners"]
            d = res.get("learners", {}).get("designer", {})
            rates = [er.get(f"tax_rate_{b}", np.nan) for b in range(7)]
            rows.append({
                "time_s": time.perf_counter() - t0,
                # RLlib counts the seat's two phases per GTB step.
                "gtb_steps": er.get("num_env_steps_sampled_lifetime", 0) / (
                    1 if method.startswith("ippo") else 2),
                "episodes": er.get("num_episodes_lifetime", 0),
                "objective": er.get("sum_productivity_x_equality",
                                    er.get("social_objective", np.nan)),
                "productivity": er.get("final_productivity", np.nan),
                "equality": er.get("final_equality", np.nan),
                "houses": er.get("houses_built", {}).get("all", np.nan)
                if isinstance(er.get("houses_built"), dict) else np.nan,
                "rates": rates,
                "meta_grad_norm": d.get("meta_grad_norm", np.nan),
            })
    finally:
        algo.stop()
    return rows


def smooth(x, k=10):
    x = np.asarray(x, float)
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.nanmean(x[max(0, i - k + 1):i + 1])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap-episodes", type=int, default=200)
    ap.add_argument("--methods", nargs="+",
                    default=["free_market", "us_federal", "metagrad", "dual_rl"])
    ap.add_argument("--out", default="runs/designer/gtb")
    args = ap.parse_args()
    import ray
    import torch

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = {}
    path = args.out + ".json"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path):
        results = json.load(open(path)).get("runs", {})
    for method in args.methods:
        print(f"== {method}", flush=True)
        rows = run(method, args.seed, args.minutes, args.cap_episodes)
        last = rows[-max(1, len(rows) // 10):]
        print(method, len(rows), "iterations", rows[-1]["gtb_steps"], "steps, final objective",
              np.nanmean([r["objective"] for r in last]), flush=True)
        results[method] = {"seed": args.seed, "minutes": args.minutes, "rows": rows}
        with open(path, "w") as f:
            json.dump({"env_config": GTB, "runs": results}, f, indent=1, default=float)
    plot(results, args.out + ".png")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for method, r in results.items():
        rows = r["rows"]
        x = [row["gtb_steps"] for row in rows]
        axes[0].plot(x, smooth([row["objective"] for row in rows]), label=method)
        axes[1].plot(x, smooth([row["productivity"] for row in rows]), label=method)
        axes[2].plot(x, smooth([row["equality"] for row in rows]), label=method)
    for ax, title in zip(axes, ["sum_t prod_t x eq_t per episode", "final productivity (coin)",
                                "final equality"]):
        ax.set_title(title)
        ax.set_xlabel("GTB env steps")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
