"""The Cleanup 7x7 runs of sessions 4-6 on one figure (cleanup7_s4.png): LIO at the thesis's
policy lr (1e-4), LIO at the AC baseline's lr (1e-3) with the thesis's incentive lr (1e-3,
`cleanup_7x7_fast.yaml`) and with incentive lr 1e-4 (session 6), and AC, all with Table B.5's other
settings and the reference initialisers. Curves: evaluation return every 25k env steps (4 episodes),
smoothed over 5 evaluations; thin lines are single seeds, thick lines their mean, drawn as far as
every seed ran.

    python docs/results/lio/cleanup7_s4_plot.py
    python docs/results/lio/cleanup7_s4_plot.py --set batched   # cleanup7_s12.png (session 12)

``--set batched``: the session-12 runs (`cleanup_7x7_batched.yaml` LIO and `cleanup_7x7_batched_ac.yaml`
AC, evaluated every 40k env steps; LIO seeds 5-9, AC seeds 5-7 and AC at lr 1e-3 from session 13) beside
the session 4-11 LIO (`cleanup_7x7_fast.yaml`) and AC runs.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cleanup7_runs import B5_AC, BATCHED_AC, BATCHED_LIO, FAST_LIO, HERE, load_runs  # noqa: E402
RUN_SETS = {"s4": ("cleanup7_s4.png", [("cleanup7_s4_thesis_lio*.json", "lio", "LIO, policy lr 1e-4 (Table B.5)", "tab:blue"),
        (FAST_LIO, "lio", "LIO, policy lr 1e-3, incentive lr 1e-3", "tab:green"),
        ("cleanup7_s6_lio_inc1e-4*.json", "lio", "LIO, policy lr 1e-3, incentive lr 1e-4", "tab:purple"),
        (B5_AC, "baseline", "AC, policy lr 1e-3 (Table B.5)", "tab:red")])}
RUN_SETS["batched"] = ("cleanup7_s12.png", [
    (BATCHED_LIO, "lio", "LIO batched (cleanup_7x7_batched.yaml)", "tab:green"),
    (BATCHED_AC, "baseline", "AC batched (cleanup_7x7_batched_ac.yaml)", "tab:red"),
    ("cleanup7_s13_acbatch8_lr1e-3*.json", "baseline", "AC batched at Table B.5's AC lrs (1e-3)", "tab:purple"),
    (FAST_LIO, "lio", "LIO one-episode (cleanup_7x7_fast.yaml)", "tab:olive"),
    (B5_AC, "baseline", "AC one-episode (Table B.5)", "tab:orange")])
FIELDS = [("policy_social_welfare", "collective return, softmax policy (eps 0)"),
          ("greedy_social_welfare", "collective return, greedy policy")]


def smooth(y, k=5):
    y = np.asarray(y, float)
    return np.array([y[max(0, i - k + 1): i + 1].mean() for i in range(len(y))])


def curves(patterns, key, field):
    return [(r["seed"], np.array([p["env_steps"] for p in r["curve"]]),
             smooth([p.get(field, np.nan) for p in r["curve"]])) for r in load_runs(patterns, key)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--set", choices=sorted(RUN_SETS), default="s4")
    out, RUNS = RUN_SETS[p.parse_args().set]
    fig, axes = plt.subplots(1, len(FIELDS), figsize=(12, 5.2), squeeze=False)
    for ax, (field, label) in zip(axes[0], FIELDS):
        for pattern, key, legend, colour in RUNS:
            runs = curves(pattern, key, field)
            for seed, x, y in runs:
                ax.plot(x, y, color=colour, alpha=0.35, linewidth=0.8)
            if not runs:
                continue
            # mean over the seeds at each evaluation point (all runs evaluate every 25k env steps):
            # drawn as far as every seed ran
            grid = max((x for _, x, _ in runs), key=len)
            ys = [[y[x == g][0] for _, x, y in runs if (x == g).any()] for g in grid]
            k = sum(len(v) == len(runs) for v in ys)  # points every seed reached (a prefix)
            mean = np.array([np.mean(v) for v in ys])
            ax.plot(grid[:k], mean[:k], color=colour, linewidth=2.2,
                    label=f"{legend}: mean of {len(runs)} seeds ({', '.join(str(s) for s, _, _ in runs)})")
        ax.set_xlabel("env steps sampled")
        ax.set_ylabel(label)
    axes[0][0].set_title("Cleanup 7x7 (thin: one seed; smoothed over 5 evaluations)", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)  # below the panels, off the curves
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(os.path.join(HERE, out), dpi=100)


if __name__ == "__main__":
    main()
