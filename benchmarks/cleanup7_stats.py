"""Is LIO above AC on Cleanup 7x7? Per-seed final return (mean of the last 5 evaluations, greedy and
softmax at epsilon 0) of two groups of runs, with Welch's t-test, the Mann-Whitney U test (one-sided,
LIO > AC) and a bootstrap 95% interval of the difference of means. Reads the claim summaries
``docs/results/lio_cleanup7*.json`` (``make reproduce CLAIM=lio_cleanup7`` writes them).

    python benchmarks/cleanup7_stats.py --set batched        # the pre-registered test: batched LIO vs AC, seeds 0-4
    python benchmarks/cleanup7_stats.py --set batched10      # all 10 batched LIO seeds vs the 8 batched AC seeds
    python benchmarks/cleanup7_stats.py --set batched10_vs_b5  # ... vs the one-episode AC of Table B.5
    python benchmarks/cleanup7_stats.py --set batched_vs_b5  # batched LIO seeds 0-4 vs the Table B.5 AC
    python benchmarks/cleanup7_stats.py --set fast           # cleanup_7x7_fast.yaml (15 seeds) vs the Table B.5 AC
"""
import argparse

import numpy as np
from scipy import stats

from cleanup7_runs import B5_AC, BATCHED_AC, BATCHED_AC_0_4, BATCHED_LIO, BATCHED_LIO_0_4, FAST_LIO, load_runs

SETS = {
    "fast": {"LIO": FAST_LIO, "AC": B5_AC},
    "batched": {"LIO": BATCHED_LIO_0_4, "AC": BATCHED_AC_0_4},  # the comparison fixed before the runs
    "batched_vs_b5": {"LIO": BATCHED_LIO_0_4, "AC": B5_AC},
    "batched10": {"LIO": BATCHED_LIO, "AC": BATCHED_AC},
    "batched10_vs_b5": {"LIO": BATCHED_LIO, "AC": B5_AC},
}


def finals(group, field, last=5):
    """{seed: mean of its last `last` evaluations of `field`} over the runs of `group`."""
    return {r["seed"]: float(np.mean([p[field] for p in r["curve"][-last:]])) for r in load_runs(group)}


def main(argv=None, n_boot=20000):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", choices=sorted(SETS), default="batched")
    groups = SETS[p.parse_args(argv).set]
    rng = np.random.default_rng(0)
    for field in ("greedy_social_welfare", "policy_social_welfare"):
        vals = {g: finals(group, field) for g, group in groups.items()}
        lio, ac = np.array(list(vals["LIO"].values())), np.array(list(vals["AC"].values()))
        boot = [rng.choice(lio, lio.size).mean() - rng.choice(ac, ac.size).mean() for _ in range(n_boot)]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        t = stats.ttest_ind(lio, ac, equal_var=False, alternative="greater")
        u = stats.mannwhitneyu(lio, ac, alternative="greater")
        print(f"{field}: LIO seeds {sorted(vals['LIO'])} mean {lio.mean():.1f} (s.e. {lio.std(ddof=1) / np.sqrt(lio.size):.1f}); "
              f"AC seeds {sorted(vals['AC'])} mean {ac.mean():.1f} (s.e. {ac.std(ddof=1) / np.sqrt(ac.size):.1f})")
        print(f"  difference {lio.mean() - ac.mean():.1f}, bootstrap 95% [{lo:.1f}, {hi:.1f}]; "
              f"Welch t one-sided p = {t.pvalue:.3f}; Mann-Whitney U = {u.statistic:.0f}, one-sided p = {u.pvalue:.3f}")
        print(f"  LIO seeds above every AC seed: {int((lio > ac.max()).sum())}/{lio.size}; "
              f"below every AC seed: {int((lio < ac.min()).sum())}/{lio.size}")


if __name__ == "__main__":
    main()
