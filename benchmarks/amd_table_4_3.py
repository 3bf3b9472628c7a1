"""AMD thesis Table 4.3 (and Table 4.2's "turned off" row) with the thesis's stochastic
actor-critic players (``learner_rule="actor_critic"``): PD, Chicken, Stag Hunt.

Settings (AMD thesis §4.2 hyperparameters: c = 3, alpha = 0.0002, initial P(C) = 0.25, Adam lr 0.01
for players, critics and planner, 4000 rounds, one actor-critic step per round):

* ``exact``: "Exact V" (eq. 4.3 with the exact values at the current policies);
* ``exact_rn``: "Exact V, revenue-neutral" (payments minus their mean);
* ``estimated``: "Estimated V" (eq. 4.5 from the one round played, constant baseline T + S - 0.1);
* ``off``: exact V, the planner turned off after 4000 rounds, then 4000 more (Table 4.2);
* ``none`` (not in the default list): no planner, 4000 rounds (Table 4.2's first row);
* ``exact_lin`` / ``exact_rn_lin`` (not in the default list): exact V / revenue-neutral as the
  authors' code computes it (``exact_v_form="linearized"``, ``cost_form="l2_realized"``).

Every run is a real ``AMD`` RLlib algorithm (``updates_per_iteration=100``: 40 iterations = 4000
rounds). P(C,C) is the product of the final P(C)s; AAR (the authors' code's "average extra rewards
per round") is sum_i |r^p_i| of the rounds played, averaged over the planner's 4000 rounds. Writes
``runs/amd/table_4_3.md`` (+ ``.json``, rewritten after every run) and ``runs/amd/amd_table_4_3.png``
(P(CC) over rounds, mean over seeds); ``--out`` to change.
``python benchmarks/reproduce.py --claim amd_table_4_3`` summarises them for ``docs/REPRODUCTION.md``.

    nice -n 5 python benchmarks/amd_table_4_3.py --seeds 5
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

GAMES = {"PD": "greed_fear", "Chicken": "chicken", "Stag Hunt": "stag_hunt"}
SETTINGS = {  # name -> (training keys, planner-on rounds, rounds with the planner off)
    "exact": (dict(gradient="exact"), 4000, 0),
    "exact_rn": (dict(gradient="exact", constraint="revenue_neutral"), 4000, 0),
    "estimated": (dict(gradient="pg"), 4000, 0),
    "off": (dict(gradient="exact"), 4000, 4000),
    "none": (dict(gradient="exact"), 0, 4000),
    "exact_lin": (dict(gradient="exact", exact_v_form="linearized", cost_form="l2_realized"), 4000, 0),
    "exact_rn_lin": (dict(gradient="exact", constraint="revenue_neutral", exact_v_form="linearized",
                          cost_form="l2_realized"), 4000, 0),
}
LABELS = {"exact": "Exact V", "exact_rn": "Exact V, revenue-neutral", "estimated": "Estimated V",
          "off": "Turned off after 4000, +4000 more (Table 4.2)", "none": "No mechanism design (Table 4.2)",
          "exact_lin": "Exact V, the code's linearised form",
          "exact_rn_lin": "Exact V, revenue-neutral, the code's linearised form"}
PAPER = {  # AMD thesis Tables 4.2 / 4.3: (P(CC) %, std), (AAR, std)
    ("PD", "exact"): ((98.7, 0.1), (0.77, 0.21)), ("Chicken", "exact"): ((99.0, 0.1), (0.41, 0.02)),
    ("Stag Hunt", "exact"): ((99.1, 0.1), (0.45, 0.02)),
    ("PD", "exact_rn"): ((91.4, 1.0), (0.61, 0.04)), ("Chicken", "exact_rn"): ((98.9, 0.1), (0.31, 0.02)),
    ("Stag Hunt", "exact_rn"): ((69.2, 45.3), (0.19, 0.11)),
    ("PD", "estimated"): ((61.3, 20.0), (3.31, 0.63)), ("Chicken", "estimated"): ((52.2, 18.6), (2.65, 0.31)),
    ("Stag Hunt", "estimated"): ((96.0, 1.2), (4.89, 0.39)),
    ("PD", "off"): ((0.48, 0.4), None), ("Chicken", "off"): ((53.8, 29.4), None),
    ("Stag Hunt", "off"): ((99.6, 0.0), None),
    ("PD", "none"): ((0.004, 0.001), None), ("Chicken", "none"): ((3.7, 1.3), None),
    ("Stag Hunt", "none"): ((0.004, 0.002), None),
}
for _g in GAMES:  # the code's linearised form is compared with the same thesis rows
    PAPER[(_g, "exact_lin")] = PAPER[(_g, "exact")]
    PAPER[(_g, "exact_rn_lin")] = PAPER[(_g, "exact_rn")]
PER = 100  # rounds per iteration


def run(env, setting, seed):
    from rllib_coopai.algorithms.amd import AMDConfig

    keys, on, off = SETTINGS[setting]
    cfg = (AMDConfig().environment(env).env_runners(num_env_runners=0).debugging(seed=seed)
           .training(learner_rule="actor_critic", updates_per_iteration=PER, episodes_per_iteration=1,
                     turn_off_after=on // PER if off else None, **keys))
    algo = cfg.build_algo()
    curve, t0 = [], time.perf_counter()
    try:
        for _ in range((on + off) // PER):
            res = algo.train()["learners"]
            ex = res["exact"]
            curve.append((ex["p_all_cooperate"], ex["welfare"], res["actor_critic"]["aar"]))
    finally:
        algo.stop()
    return curve, time.perf_counter() - t0


def _fmt(xs, scale=1.0, digits=1):
    return f"{scale * np.mean(xs):.{digits}f} ± {scale * np.std(xs):.{digits}f}"


def write(results, args, t_all):
    lines = [
        "# AMD thesis Table 4.3 (+ Table 4.2 'turned off') with actor-critic players", "",
        "learner_rule='actor_critic' (the thesis's stochastic players: one sampled round and one "
        "actor-critic step per round, centralized critic as in the authors' code), c=3, alpha=0.0002, "
        "P(C)=0.25 at start, Adam lr 0.01. Final P(CC) = p1*p2 and AAR (sum_i |r^p_i| per round over the "
        "planner's rounds), mean ± std over seeds; 'thesis' = AMD thesis Tables 4.2/4.3 (10 runs). "
        f"Wall clock {(time.perf_counter() - t_all) / 60:.1f} min (nice -n 5, shared 2-core machine, "
        f"load average at the end {os.getloadavg()[0]:.1f}).", "",
        "| Setting | Game | seeds | P(CC) % (ours) | P(CC) % (thesis) | AAR (ours) | AAR (thesis) | V (ours) | s/run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (game, setting), r in results.items():
        (pp, ps), pa = PAPER[(game, setting)]
        aar = _fmt(r["aar"], digits=2) if setting != "none" else "-"
        lines.append(
            f"| {LABELS[setting]} | {game} | {len(r['pcc'])} | {_fmt(r['pcc'], 100)} | {pp} ± {ps} | {aar} | "
            f"{'-' if pa is None else f'{pa[0]} ± {pa[1]}'} | {_fmt(r['V'], digits=3)} | "
            f"{np.mean(r['seconds']):.0f} |")
    with open(os.path.join(args.out, f"table_4_3{args.tag}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, f"table_4_3{args.tag}.json"), "w") as f:
        json.dump({f"{g}/{s}": {**r, "paper_pcc_pct": PAPER[(g, s)][0],
                                "paper_aar": PAPER[(g, s)][1]} for (g, s), r in results.items()}, f, indent=1)
    return lines


def plot(results, settings, out, tag=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, game in zip(axes, GAMES):
        for setting in settings:
            r = results.get((game, setting))
            if not r:
                continue
            c = np.mean(np.array(r["curves_pcc"]), 0)
            ax.plot(np.arange(1, len(c) + 1) * PER, c, label=f"{setting} (n={len(r['pcc'])})")
        ax.set_title(f"{game}, actor-critic players")
        ax.set_xlabel("rounds")
        ax.axvline(4000, color="grey", lw=0.5, ls="--")
    axes[0].set_ylabel("P(CC), mean over seeds")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"amd_table_4_3{tag}.png"), dpi=110)
    plt.close(fig)


def main(argv=None):
    import ray

    import rllib_coopai  # noqa: F401

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--settings", default="exact,exact_rn,estimated,off",
                   help=f"comma-separated, from {', '.join(SETTINGS)}")
    p.add_argument("--games", default=",".join(GAMES), help=f"comma-separated, from {', '.join(GAMES)}")
    p.add_argument("--out", default="runs/amd")
    p.add_argument("--tag", default="", help="suffix of the output file names")
    args = p.parse_args(argv)
    settings = [s for s in args.settings.split(",") if s]
    games = [g for g in args.games.split(",") if g]
    for s in settings:
        if s not in SETTINGS:
            raise SystemExit(f"unknown setting {s!r}; known: {', '.join(SETTINGS)}")
    for g in games:
        if g not in GAMES:
            raise SystemExit(f"unknown game {g!r}; known: {', '.join(GAMES)}")
    os.makedirs(args.out, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results, t_all = {}, time.perf_counter()
    for seed in range(args.seeds):  # seeds outermost: an interrupted run still has every cell
        for game in games:
            for setting in settings:
                curve, secs = run(GAMES[game], setting, seed)
                c = np.array(curve)
                on_iters = SETTINGS[setting][1] // PER
                r = results.setdefault((game, setting), {"pcc": [], "V": [], "aar": [], "seconds": [],
                                                         "curves_pcc": []})
                r["pcc"].append(float(c[-1, 0]))
                r["V"].append(float(c[-1, 1]))
                r["aar"].append(float(c[:on_iters, 2].mean()) if on_iters else 0.0)
                r["seconds"].append(secs)
                r["curves_pcc"].append(c[:, 0].tolist())
                print(f"seed {seed} {game:9s} {setting:9s} P(CC)={100 * c[-1, 0]:7.3f}% "
                      f"AAR={r['aar'][-1]:.3f} V={c[-1, 1]:.3f} ({secs:.0f}s)", flush=True)
                write(results, args, t_all)
        plot(results, settings, args.out, args.tag)
    print("\n".join(write(results, args, t_all)))


if __name__ == "__main__":
    main()
