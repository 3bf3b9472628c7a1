"""Cross-play of amTFT(W) across welfare sets W in {w_Util}, {w_IA}, {w_Util, w_IA}:
normative-disagreement paper Table 5 (NormalizedScore on the asymmetric bargaining Coin Game,
``--game abcg``, the default) and Figs. 3 / 5 on IAsymBoS (``--game iasymbos``: cross-play holds
when W1 and W2 share a welfare function and fails when they do not; the paper gives no numbers).

For every W and seed, trains ``AmTFT`` with ``tuned_configs/amtft/abcg.yaml`` or
``tuned_configs/amtft/iasymbos.yaml`` (amTFT(w) gets half
of amTFT({w_Util, w_IA})'s iterations: each of its iterations trains one welfare function instead
of two), scaled by ``--iters-scale``, saves a checkpoint, then plays every ordered pair of
checkpoints with the package's cross-play league (``rllib_coopai.cli.crossplay.run_league``:
NormalizedScore over W_scoring = {utilitarian, egalitarian}, disagreement profile (0, 0), empirical
maxima, as the authors' code) and writes the Table 5-style matrix: rows = seat-0 W, columns =
seat-1 W, each cell the mean NormalizedScore over the seed pairs (different seeds when there are
several; with one seed the diagonal is self-play).

Output (``--out``, default ``runs/amtft_<game>``): ``table5.md``, ``table5.json``, ``table5.png``
(the matrix, and for IAsymBoS the mean payoff profile of each cell) and the league's ``league/``
(payoffs.csv, crossplay.json, crossplay.png).

IAsymBoS (3 seeds, about 15 min here)::

    nice -n 5 python benchmarks/amtft_crossplay.py --game iasymbos --seeds 0 1 2 --episodes 10

Tiny end-to-end check (8.5 min on 2 shared CPU cores: 40 iterations of 1000 steps + the league)::

    nice -n 5 python benchmarks/amtft_crossplay.py --iters-scale 0.05 --seeds 0 --episodes 4 --batch 1000

The real run (the YAML's 4000 episodes per welfare function, 5 seeds: 3 W x 5 seeds x ~1.7 h
for W = {w_Util, w_IA}, ~0.9 h for the others: about 18 h on 2 CPU cores; the league of 15
checkpoints x 10 episodes per ordered pair adds ~1 h)::

    nice -n 5 python benchmarks/amtft_crossplay.py --seeds 0 1 2 3 4 --episodes 10
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GAMES = {"abcg": os.path.join(ROOT, "tuned_configs", "amtft", "abcg.yaml"),
         "iasymbos": os.path.join(ROOT, "tuned_configs", "amtft", "iasymbos.yaml")}
W_SETS = {"util": ["utilitarian"], "ia": ["inequity_averse"], "util+ia": ["utilitarian", "inequity_averse"]}
PAPER = {  # Table 5 (rows / columns as printed; the paper does not say which axis is red)
    "util": {"util": 0.82, "ia": 0.12, "util+ia": 0.69},
    "ia": {"util": 0.92, "ia": 0.95, "util+ia": 0.95},
    "util+ia": {"util": 0.85, "ia": 0.91, "util+ia": 0.91},
}


def build_config(w_key: str, seed: int, iters_scale: float, overrides: dict, game: str = "abcg"):
    """The game's YAML's AmTFTConfig for welfare set ``w_key`` and ``seed``; returns (config,
    iterations)."""
    from rllib_coopai.cli.experiment import make_experiment, read_file

    YAML = GAMES[game]
    (name, spec), = read_file(YAML).items()
    base = spec["config"]
    share = 1.0 if len(W_SETS[w_key]) == 2 else 0.5
    coop = max(1, int(round(base["cooperative_iterations"] * share * iters_scale)))
    punish = max(1, int(round(base["punishment_iterations"] * share * iters_scale)))
    over = {"welfare": W_SETS[w_key], "cooperative_iterations": coop, "punishment_iterations": punish,
            "seed": seed, **overrides}
    spec = dict(spec, config=dict(base, welfare_kwargs={  # only W's welfare functions
        k: v for k, v in dict(base.get("welfare_kwargs") or {}).items() if k in W_SETS[w_key]}))
    exp = make_experiment(name, spec, config_overrides=over, source=YAML)
    return exp.concrete_config(), coop + punish


def train(w_key: str, seed: int, args) -> str:
    overrides = {"num_env_runners": args.env_runners}
    if args.batch:
        overrides.update(train_batch_size_per_learner=args.batch, minibatch_size=max(1, args.batch // 4))
    cfg, iters = build_config(w_key, seed, args.iters_scale, overrides, args.game)
    algo = cfg.build_algo()
    t0 = time.time()
    try:
        for _ in range(iters):
            algo.train()
        path = os.path.join(os.path.abspath(args.out), "checkpoints", f"{w_key}_s{seed}")
        algo.save(path)
    finally:
        algo.stop()
    print(f"trained W={w_key} seed={seed}: {iters} iterations in {time.time() - t0:.0f} s -> {path}",
          flush=True)
    return path


def table(result: dict, keys, seeds) -> dict:
    """Mean NormalizedScore and mean payoff profile per (row W, column W) over seed pairs
    (different seeds if any), with the NormalizedScore's standard error over the pairs."""
    score = np.asarray(result["normalized_score"])
    p0, p1 = np.asarray(result["payoff_seat0"]), np.asarray(result["payoff_seat1"])
    idx = {(w, s): i for i, (w, s) in enumerate((w, s) for w in keys for s in seeds)}
    out, se, prof, n = {}, {}, {}, {}
    for a in keys:
        out[a], se[a], prof[a] = {}, {}, {}
        for b in keys:
            pairs = [(idx[a, s], idx[b, t]) for s in seeds for t in seeds if s != t or len(seeds) == 1]
            vals = np.array([score[i, j] for i, j in pairs])
            out[a][b] = float(vals.mean())
            se[a][b] = float(vals.std(ddof=1) / np.sqrt(len(vals))) if len(vals) > 1 else 0.0
            prof[a][b] = [float(np.mean([p0[i, j] for i, j in pairs])),
                          float(np.mean([p1[i, j] for i, j in pairs]))]
            n[f"{a}|{b}"] = len(pairs)
    return {"matrix": out, "stderr": se, "payoff_profile": prof, "pairs": n}


def write(out_dir: str, tab: dict, keys, seeds, args, result) -> None:
    paper = PAPER if args.game == "abcg" else None
    title = {"abcg": "ABCG (normative-disagreement paper Table 5)",
             "iasymbos": "IAsymBoS (normative-disagreement paper Figs. 3, 5)"}[args.game]
    lines = [f"# amTFT(W) cross-play NormalizedScore on {title}", "",
             f"Seeds {list(seeds)}, iters-scale {args.iters_scale}, {args.episodes} episodes per ordered "
             "pair; rows = seat-0 W, columns = seat-1 W; mean (s.e.) over seed pairs"
             + ("; (paper)" if paper else "; [mean payoff profile per step]") + ".", "",
             "| seat 0 \\ seat 1 | " + " | ".join(f"{{{k}}}" for k in keys) + " |",
             "|---|" + "---|" * len(keys)]

    def cell(a, b):
        text = f"{tab['matrix'][a][b]:.2f} ({tab['stderr'][a][b]:.2f})"
        if paper:
            return text + f" ({paper[a][b]:.2f})"
        r0, r1 = tab["payoff_profile"][a][b]
        return text + f" [{r0:.2f}, {r1:.2f}]"

    for a in keys:
        lines.append(f"| {{{a}}} | " + " | ".join(cell(a, b) for b in keys) + " |")
    lines += ["", f"self-play score {result['self_play_score']:.2f}",
              "", "Command: `nice -n 5 python benchmarks/amtft_crossplay.py " + " ".join(
                  [f"--game {args.game}", f"--iters-scale {args.iters_scale}", "--seeds " + " ".join(map(str, seeds)),
                   f"--episodes {args.episodes}"] + ([f"--batch {args.batch}"] if args.batch else [])) + "`"]
    with open(os.path.join(out_dir, "table5.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "table5.json"), "w") as f:
        json.dump({"game": args.game, "ours": tab, "paper": paper, "seeds": list(seeds), "iters_scale": args.iters_scale,
                   "episodes": args.episodes, "payoff_seat0": result["payoff_seat0"],
                   "payoff_seat1": result["payoff_seat1"], "labels": [c["label"] for c in result["checkpoints"]]},
                  f, indent=2)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("ours", [[tab["matrix"][a][b] for b in keys] for a in keys])]
    if paper:
        panels.append(("paper (Table 5)", [[paper[a][b] for b in keys] for a in keys]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, (title_, mat) in zip(axes, panels):
        m = np.asarray(mat)
        ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(title_)
        ax.set_xticks(range(len(keys)), [f"{{{k}}}" for k in keys])
        ax.set_yticks(range(len(keys)), [f"{{{k}}}" for k in keys])
        ax.set_xlabel("seat 1 W")
        ax.set_ylabel("seat 0 W")
        for i in range(len(keys)):
            for j in range(len(keys)):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w")
    if not paper:  # IAsymBoS: the mean payoff profile of each (W1, W2) cell (paper Fig. 5)
        ax = axes[1]
        for a in keys:
            for b in keys:
                r0, r1 = tab["payoff_profile"][a][b]
                ax.scatter([r0], [r1])
                ax.annotate(f"{{{a}}} vs {{{b}}}", (r0, r1), fontsize=7)
        ax.set_xlabel("seat 0 payoff per step")
        ax.set_ylabel("seat 1 payoff per step")
        ax.set_title("mean payoff profiles")
    fig.suptitle(f"amTFT(W) cross-play on {args.game}")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "table5.png"), dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--game", choices=list(GAMES), default="abcg")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--iters-scale", type=float, default=1.0, help="scale of the YAML's iterations")
    p.add_argument("--episodes", type=int, default=10, help="league episodes per ordered pair")
    p.add_argument("--batch", type=int, default=0, help="override train_batch_size_per_learner")
    p.add_argument("--env-runners", type=int, default=0)
    p.add_argument("--w-sets", nargs="+", default=list(W_SETS), choices=list(W_SETS))
    p.add_argument("--out", default=None, help="output folder (runs/amtft_<game>)")
    args = p.parse_args(argv)
    args.out = args.out or os.path.join(ROOT, "runs", f"amtft_{args.game}")
    import ray

    import rllib_coopai  # noqa: F401
    from rllib_coopai.cli.crossplay import run_league

    os.makedirs(args.out, exist_ok=True)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, num_cpus=2)
    keys = list(args.w_sets)
    paths = [train(w, s, args) for w in keys for s in args.seeds]
    result = run_league(paths, episodes=args.episodes, out_dir=os.path.join(args.out, "league"), seed=0)
    tab = table(result, keys, args.seeds)
    write(args.out, tab, keys, args.seeds, args, result)
    print(open(os.path.join(args.out, "table5.md")).read())
    ray.shutdown()
    return tab


if __name__ == "__main__":
    main()
