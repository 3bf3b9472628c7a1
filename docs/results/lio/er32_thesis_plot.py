"""ER(3,2) with Table B.4's N=3 settings (one-episode updates, `setting er32_thesis`, session 7) on
one figure (er32_thesis.png): the greedy collective return of each seed every 1000 iterations (10
episodes), against the optimum 8 and the -3 every independent-PG run ends at.

    python docs/results/lio/er32_thesis_plot.py
"""
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path in sorted(glob.glob(os.path.join(HERE, "er32_thesis_s*.json"))):
        for r in json.load(open(path))["lio"]:
            c = r["curve"]
            ax.plot([p["iteration"] for p in c], [p["greedy_social_welfare"] for p in c], marker=".",
                    label=f"LIO seed {r['seed']}")
    ax.axhline(8, color="k", linestyle="--", linewidth=0.8, label="optimum (8)")
    ax.axhline(-3, color="tab:red", linestyle=":", linewidth=0.8, label="independent PG (config E runs)")
    ax.set_xlabel("iterations (one update = two episodes, tau and tau_hat)")
    ax.set_ylabel("greedy collective return")
    ax.set_title("Escape Room ER(3,2), Table B.4 N=3 settings (policy lr 1e-4, cost Adam lr 1e-4)", fontsize=9)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "er32_thesis.png"), dpi=110)


if __name__ == "__main__":
    main()
