"""LOLA-Exact on the normative-disagreement paper's matrix games (its App. C.1 update, [code:NDIS]
settings: lr 1, correction lr 1, gamma 0.96).

* IPD: LOLA vs naive learners (NL), ``--seeds`` seeds each: per-step reward of the exact values
  over the updates (Foerster et al. 2018: LOLA cooperates, NL defects).
* IAsymBoS: LOLA with ``--seeds`` seeds: the outcome each reaches in self-play, and the cross-play
  league of all of them (``rllib_coopai.cli.crossplay.run_league``): the paper's Fig. 4 finding
  that LOLA reaches different Pareto-optimal outcomes, so cross-play fails.

    python benchmarks/lola_exact.py --seeds 10 --iters 10    # writes runs/lola/{ipd,iasymbos}.json and lola.png
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

OUT = "runs/lola"


def train(env, correction, seed, iters, updates):
    from rllib_coopai.algorithms.lola import LOLAExactConfig

    algo = (LOLAExactConfig().environment(env).training(correction=correction, updates_per_iteration=updates)
            .debugging(seed=seed).build_algo())
    curve, t0 = [], time.time()
    for it in range(iters):
        ex = algo.train()["learners"]["exact"]
        curve.append([(it + 1) * updates, ex["reward_per_step_player_0"], ex["reward_per_step_player_1"]])
    return algo, {"seed": seed, "correction": correction, "curve": curve, "seconds": time.time() - t0}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--updates", type=int, default=20, help="exact LOLA steps per iteration")
    p.add_argument("--episodes", type=int, default=10, help="cross-play episodes per pair")
    args = p.parse_args(argv)
    import ray
    import torch

    torch.set_num_threads(1)
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    os.makedirs(OUT, exist_ok=True)
    ipd = {"args": vars(args), "runs": []}
    for corr in ("taylor", "none"):
        for seed in range(args.seeds):
            algo, run = train("iterated_prisoners_dilemma", corr, seed, args.iters, args.updates)
            algo.stop()
            ipd["runs"].append(run)
            print("ipd", corr, seed, run["curve"][-1], flush=True)
    with open(os.path.join(OUT, "ipd.json"), "w") as f:
        json.dump(ipd, f)
    bos = {"args": vars(args), "runs": [], "checkpoints": []}
    for seed in range(args.seeds):
        algo, run = train("iterated_asymmetric_bos", "taylor", seed, args.iters, args.updates)
        path = algo.save(os.path.abspath(os.path.join(OUT, "ckpt", f"iasymbos_s{seed}"))).checkpoint.path
        algo.stop()
        bos["runs"].append(run)
        bos["checkpoints"].append(path)
        print("iasymbos", seed, run["curve"][-1], flush=True)
    from rllib_coopai.cli.crossplay import run_league

    league = run_league(bos["checkpoints"], episodes=args.episodes, out_dir=os.path.join(OUT, "league"),
                        welfare=("utilitarian", "egalitarian", "nash"), plot=True)
    bos["league"] = {k: league[k] for k in ("payoff_seat0", "payoff_seat1", "normalized_score",
                                           "self_play_score", "cross_play_score", "welfare")}
    with open(os.path.join(OUT, "iasymbos.json"), "w") as f:
        json.dump(bos, f)
    plot(ipd, bos, os.path.join(OUT, "lola.png"))
    print("self-play score", league["self_play_score"], "cross-play score", league["cross_play_score"])


def plot(ipd, bos, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for run in ipd["runs"]:
        c = np.asarray(run["curve"])
        color = "tab:blue" if run["correction"] == "taylor" else "tab:red"
        ax[0].plot(c[:, 0], (c[:, 1] + c[:, 2]) / 2, color=color, alpha=0.6)
    ax[0].plot([], [], color="tab:blue", label="LOLA-Exact")
    ax[0].plot([], [], color="tab:red", label="naive learners")
    ax[0].set(title="IPD: mean per-step reward (exact)", xlabel="updates", ylabel="reward per step")
    ax[0].legend()
    ends = np.asarray([r["curve"][-1][1:] for r in bos["runs"]])
    ax[1].scatter(ends[:, 0], ends[:, 1], s=60)
    for k, (x, y) in enumerate(ends):
        ax[1].annotate(f"s{k}", (x, y), textcoords="offset points", xytext=(4, 4))
    ax[1].plot([4, 2], [1, 2], "k--", lw=0.8, label="Pareto frontier (B,B)-(S,S)")
    ax[1].set(title="IAsymBoS: LOLA self-play outcomes", xlabel="player 0 per step", ylabel="player 1 per step")
    ax[1].legend()
    W = np.asarray(bos["league"]["payoff_seat0"]) + np.asarray(bos["league"]["payoff_seat1"])
    im = ax[2].imshow(W, cmap="viridis")
    ax[2].set(title="IAsymBoS cross-play: per-step welfare", xlabel="seat 1 (seed)", ylabel="seat 0 (seed)")
    fig.colorbar(im, ax=ax[2])
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
