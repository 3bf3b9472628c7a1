"""The groups of Cleanup runs that `cleanup7_stats.py` and `cleanup7_plot.py` read. A group is
``(claim, source patterns, results key, seeds)``: the runs under ``key`` ("lio" / "baseline") of the sources
of ``docs/results/<claim>.json`` whose names match the fnmatch pattern(s), restricted to ``seeds`` (None: all)."""
from summaries import runs

BATCHED, ONE_EPISODE, CLEANUP10 = "lio_cleanup7", "lio_cleanup7_one_episode", "lio_cleanup10"
FAST_LIO = (ONE_EPISODE, "cleanup7_fast_lio_s*", "lio", None)  # cleanup_7x7_fast.yaml, seeds 0-14
B5_AC = (ONE_EPISODE, "cleanup7_b5_ac*", "baseline", None)  # one-episode AC (Table B.5), seeds 0-4
B5_LIO = (ONE_EPISODE, "cleanup7_b5_lio*", "lio", None)  # Table B.5's own LIO policy lr 1e-4, seed 0
FAST_LIO_INC1E4 = (ONE_EPISODE, "cleanup7_fast_lio_inc1e-4*", "lio", None)  # incentive lr 1e-4, seeds 0-1
BATCHED_LIO = (BATCHED, "cleanup7_batched_lio*", "lio", None)  # cleanup_7x7_batched.yaml, seeds 0-9
BATCHED_AC = (BATCHED, "cleanup7_batched_ac*", "baseline", None)  # cleanup_7x7_batched_ac.yaml, seeds 0-7
BATCHED_LIO_0_4 = BATCHED_LIO[:3] + (range(5),)  # the pre-registered comparison: seeds 0-4 of each
BATCHED_AC_0_4 = BATCHED_AC[:3] + (range(5),)
BATCHED_AC_LR1E3 = (BATCHED, "cleanup7_batched_lr1e-3_ac*", "baseline", None)  # Table B.5's AC lrs, seeds 0-1
BATCHED_TOTAL_CRITIC = (BATCHED, "cleanup7_batched_totalcritic*", "lio", None)  # giver_critic total, seeds 2-7
CLEANUP10_LIO = (CLEANUP10, "cleanup10_lio*", "lio", None)
CLEANUP10_AC = (CLEANUP10, "cleanup10_ac*", "baseline", None)


def load_runs(group):
    """The runs of one group above, in source-name order."""
    claim, patterns, key, seeds = group
    return [r for r in runs(claim, patterns, key) if seeds is None or r["seed"] in seeds]
