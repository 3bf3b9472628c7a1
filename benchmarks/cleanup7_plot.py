"""Cleanup runs of the LIO claims on one figure, drawn from the claim summaries
(``docs/results/lio_cleanup7*.json``, ``lio_cleanup10.json``). Curves: evaluation return of each seed
(thin lines, smoothed over 5 evaluations) and their mean (thick, drawn as far as every seed ran), for the
softmax policies at epsilon 0 (the reference code's evaluation) and the greedy ones.

    python benchmarks/cleanup7_plot.py --set batched      # docs/results/lio_cleanup7.png
    python benchmarks/cleanup7_plot.py --set one_episode  # docs/results/lio_cleanup7_one_episode.png
    python benchmarks/cleanup7_plot.py --set cleanup10    # docs/results/lio_cleanup10.png
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cleanup7_runs import (B5_AC, B5_LIO, BATCHED_AC, BATCHED_AC_LR1E3, BATCHED_LIO, CLEANUP10_AC,  # noqa: E402
                           CLEANUP10_LIO, FAST_LIO, FAST_LIO_INC1E4, load_runs)
from summaries import figure_path  # noqa: E402

RUN_SETS = {
    "batched": ("lio_cleanup7", "Cleanup 7x7", [
        (BATCHED_LIO, "LIO batched (cleanup_7x7_batched.yaml)", "tab:green"),
        (BATCHED_AC, "AC batched (cleanup_7x7_batched_ac.yaml)", "tab:red"),
        (BATCHED_AC_LR1E3, "AC batched at Table B.5's AC lrs (1e-3)", "tab:purple"),
        (FAST_LIO, "LIO one-episode (cleanup_7x7_fast.yaml)", "tab:olive"),
        (B5_AC, "AC one-episode (Table B.5)", "tab:orange")]),
    "one_episode": ("lio_cleanup7_one_episode", "Cleanup 7x7, one-episode updates", [
        (B5_LIO, "LIO, policy lr 1e-4 (Table B.5)", "tab:blue"),
        (FAST_LIO, "LIO, policy lr 1e-3, incentive lr 1e-3", "tab:green"),
        (FAST_LIO_INC1E4, "LIO, policy lr 1e-3, incentive lr 1e-4", "tab:purple"),
        (B5_AC, "AC, policy lr 1e-3 (Table B.5)", "tab:red")]),
    "cleanup10": ("lio_cleanup10", "Cleanup 10x10", [
        (CLEANUP10_LIO, "LIO, policy lr 1e-3", "tab:green"),
        (CLEANUP10_AC, "AC (Table B.5)", "tab:red")]),
}
FIELDS = [("policy_social_welfare", "collective return, softmax policy (eps 0)"),
          ("greedy_social_welfare", "collective return, greedy policy")]


def smooth(y, k=5):
    y = np.asarray(y, float)
    return np.array([y[max(0, i - k + 1): i + 1].mean() for i in range(len(y))])


def curves(group, field):
    return [(r["seed"], np.array([p["env_steps"] for p in r["curve"]]),
             smooth([p.get(field, np.nan) for p in r["curve"]])) for r in load_runs(group)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", choices=sorted(RUN_SETS), default="batched")
    claim, title, groups = RUN_SETS[p.parse_args(argv).set]
    fig, axes = plt.subplots(1, len(FIELDS), figsize=(12, 5.2), squeeze=False)
    for ax, (field, label) in zip(axes[0], FIELDS):
        for group, legend, colour in groups:
            runs = curves(group, field)
            for seed, x, y in runs:
                ax.plot(x, y, color=colour, alpha=0.35, linewidth=0.8)
            if not runs:
                continue
            # mean over the seeds at each evaluation point (the runs of a group share their evaluation
            # schedule), drawn as far as every seed ran
            grid = max((x for _, x, _ in runs), key=len)
            ys = [[y[x == g][0] for _, x, y in runs if (x == g).any()] for g in grid]
            k = sum(len(v) == len(runs) for v in ys)  # points every seed reached (a prefix)
            mean = np.array([np.mean(v) for v in ys])
            ax.plot(grid[:k], mean[:k], color=colour, linewidth=2.2,
                    label=f"{legend}: mean of {len(runs)} seeds ({', '.join(str(s) for s, _, _ in runs)})")
        ax.set_xlabel("env steps sampled")
        ax.set_ylabel(label)
    axes[0][0].set_title(f"{title} (thin: one seed; smoothed over 5 evaluations)", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)  # below the panels, off the curves
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(figure_path(claim), dpi=90)


if __name__ == "__main__":
    main()
