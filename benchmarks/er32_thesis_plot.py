"""ER(3,2) with Table B.4's N=3 settings (one-episode updates, benchmark setting ``er32_thesis``) on one
figure, drawn from the claim summary ``docs/results/lio_er32.json``: the collective return of each seed
every 1000 iterations (10 episodes) of the greedy policies and of the softmax policies at epsilon 0,
against the optimum 8 and the -3 every independent-PG run ends at. Writes ``docs/results/lio_er32.png``.

    python benchmarks/er32_thesis_plot.py
"""
import fnmatch

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from summaries import figure_path, load  # noqa: E402

CLAIM = "lio_er32"


def main():
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    sources = load(CLAIM)
    for name in sorted(n for n in sources if fnmatch.fnmatch(n, "er32_thesis_s*")):
        for r in sources[name]["lio"]:
            c = r["curve"]
            for ax, field in zip(axes, ("greedy_social_welfare", "policy_social_welfare")):
                pts = [(p["iteration"], p[field]) for p in c if p.get(field) is not None]
                color = f"C{r['seed']}"
                if pts:
                    ax.plot(*zip(*pts), marker=".", color=color, label=f"LIO seed {r['seed']}")
                fe = r.get("final_eval")
                if fe and field in fe:  # the 100-episode evaluation of the final checkpoint
                    ax.plot([fe["iteration"]], [fe[field]], marker="*", markersize=12, color=color,
                            linestyle="none", label=None if pts else f"LIO seed {r['seed']} (final only)")
    for ax, what in zip(axes, ("greedy policies", "softmax policies, epsilon 0 (the reference's evaluation)")):
        ax.axhline(8, color="k", linestyle="--", linewidth=0.8, label="optimum (8)")
        ax.axhline(-3, color="tab:red", linestyle=":", linewidth=0.8, label="independent PG (batched runs)")
        ax.set_xlabel("iterations (one update = two episodes, tau and tau_hat)")
        ax.set_title(f"{what}; star: 100-episode final evaluation", fontsize=9)
        ax.legend(fontsize=8, loc="center right" if ax is axes[0] else "lower right")
    axes[0].set_ylabel("collective return (10 episodes)")
    fig.suptitle("Escape Room ER(3,2), Table B.4 N=3 settings (policy lr 1e-4, cost Adam lr 1e-4)", fontsize=10)
    fig.tight_layout()
    fig.savefig(figure_path(CLAIM), dpi=100)


if __name__ == "__main__":
    main()
